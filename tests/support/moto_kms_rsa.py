"""KMS RSA decryption in moto: a small, documented patch (DESIGN §8, "extend moto in the test support").

moto 5.2.5 creates RSA ``ENCRYPT_DECRYPT`` keys with a real private key (``Key.private_key``, an
``RSAPrivateKey`` wrapping a ``cryptography`` key; moto/kms/utils.py l. 176-190, ``generate_private_key``
l. 297) and answers ``GetPublicKey`` with its public half (moto/kms/models.py l. 799-801), but its ``Decrypt``
ignores ``EncryptionAlgorithm``: ``KmsResponse.decrypt`` (moto/kms/responses.py l. 443-460) hands every blob
to ``kms_backend.decrypt`` -> ``moto.kms.utils.decrypt`` (utils.py l. 399-442), which parses moto's own
symmetric ciphertext format and raises ``InvalidCiphertextException`` for anything else - so RSA ciphertext
made outside moto (encrypted offline with the public key, as the KMS RSA keyrings do) can never be decrypted.

While :meth:`KmsRsaModel.install` is active, a ``Decrypt`` request whose ``EncryptionAlgorithm`` is
``RSAES_OAEP_SHA_1`` or ``RSAES_OAEP_SHA_256`` is answered as KMS does (API Reference, Decrypt; "Asymmetric key
specs"): ``KeyId`` is required (KMS cannot find the key of an asymmetric ciphertext without it); the key must
exist in the caller's account and region (``NotFoundException``), be enabled (``DisabledException``; pending
deletion: ``KMSInvalidStateException``), have ``KeyUsage`` ``ENCRYPT_DECRYPT`` and an ``RSA_*`` key spec
offering that algorithm (``InvalidKeyUsageException``); the ciphertext is decrypted with OAEP, MGF1 and the
algorithm's hash (SHA-1 or SHA-256) under the key's private key; a failure is ``InvalidCiphertextException``.
The answer is ``{"KeyId": <key ARN>, "Plaintext", "EncryptionAlgorithm"}``. Any other ``Decrypt`` goes to moto
unchanged.

:attr:`KmsRsaModel.decrypts` counts the RSA decryptions answered (key ARN -> count) and
:attr:`KmsRsaModel.requests` keeps each request's parameter names (to check, e.g., that no encryption context
was sent: KMS says asymmetric algorithms "do not support an encryption context").

Not modelled: ``Encrypt`` with an RSA key (moto still encrypts with its symmetric material), the plaintext size
limits per key spec, what KMS answers when an encryption context accompanies an RSA ``Decrypt``, SM2, key
policies and grants (moto's ``Decrypt`` checks none), and other accounts' keys.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from moto.core.exceptions import JsonRESTError
from moto.kms.exceptions import InvalidCiphertextException, NotFoundException
from moto.kms.responses import KmsResponse
from moto.kms.utils import RSAPrivateKey

RSA_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
}


class _KmsError(JsonRESTError):
    """A KMS error with its message (moto's classes for some codes take none; for others it has no class)."""

    code = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


class KmsRsaModel:
    """Decrypts RSA ciphertext in moto's KMS as KMS does (see the module docstring)."""

    def __init__(self) -> None:
        self.decrypts: Counter[str] = Counter()
        self.requests: list[frozenset[str]] = []

    @contextmanager
    def install(self) -> Iterator[KmsRsaModel]:
        """Patch ``KmsResponse.decrypt`` until the block ends (inside or outside ``mock_aws``)."""
        original = KmsResponse.decrypt
        model = self

        def decrypt(response: KmsResponse) -> str:
            algorithm = response._get_param("EncryptionAlgorithm")
            if algorithm in (None, "SYMMETRIC_DEFAULT"):
                return original(response)
            return model._decrypt_rsa(response, algorithm)

        with mock.patch.object(KmsResponse, "decrypt", decrypt):
            yield self

    def _decrypt_rsa(self, response: KmsResponse, algorithm: str) -> str:
        params = json.loads(response.body)
        self.requests.append(frozenset(params))
        if algorithm not in RSA_ALGORITHMS:
            raise _KmsError(
                "ValidationException",
                f"1 validation error detected: Value '{algorithm}' at 'encryptionAlgorithm' failed to satisfy "
                "constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, "
                "RSAES_OAEP_SHA_256, SM2PKE]",
            )
        key_id = response._get_param("KeyId")
        if not key_id:
            raise InvalidCiphertextException()
        response._validate_key_id(key_id)  # NotFoundException, as moto answers elsewhere
        backend = response.kms_backend
        try:
            key = backend.describe_key(key_id)
        except KeyError as err:
            raise NotFoundException(f"Key '{key_id}' does not exist") from err
        if key.key_state == "PendingDeletion":
            raise _KmsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")
        if not key.enabled or key.key_state != "Enabled":
            raise _KmsError("DisabledException", f"{key.arn} is disabled.")
        if (
            key.key_usage != "ENCRYPT_DECRYPT"
            or not str(key.key_spec).startswith("RSA_")
            or algorithm not in (key.encryption_algorithms or ())
        ):
            raise _KmsError(
                "InvalidKeyUsageException",
                f"{key.arn} key usage is {key.key_usage} ({key.key_spec}), which does not support {algorithm}",
            )
        private_key = key.private_key
        if not isinstance(private_key, RSAPrivateKey):  # moto made no RSA key pair for this key spec
            raise _KmsError("InvalidKeyUsageException", f"{key.arn} has no RSA key pair")
        hash_algorithm = RSA_ALGORITHMS[algorithm]
        oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_algorithm()), algorithm=hash_algorithm(), label=None)
        try:
            plaintext = private_key.private_key.decrypt(response._get_param("CiphertextBlob"), oaep)
        except ValueError as err:
            raise InvalidCiphertextException() from err
        self.decrypts[key.arn] += 1
        answer: dict[str, Any] = {
            "KeyId": key.arn,
            "Plaintext": base64.b64encode(plaintext).decode("ascii"),
            "EncryptionAlgorithm": algorithm,
        }
        return json.dumps(answer)
