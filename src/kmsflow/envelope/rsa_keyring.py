""":class:`KmsRsaKeyring`: data keys made here and encrypted offline under the public key of a KMS RSA key,
decrypted through KMS, as the AWS Encryption SDK's KMS RSA keyring does.

Facts from the specification (awslabs/aws-encryption-sdk-specification, ``framework/aws-kms/aws-kms-rsa-keyring.md``):
provider id ``aws-kms-rsa``, provider info = the configured key identifier (here always the key ARN, since
decrypt requires one). The plaintext RSA-encrypted (OAEP with SHA-256 and MGF1-SHA-256 for ``RSAES_OAEP_SHA_256``)
is ``SHA-384(serialized context) || data key``, where the context is serialized as the message header's
key-value pairs (empty context: no bytes); KMS RSA keys take no encryption context, so this digest is what binds
the context. Decrypt: ``Decrypt(KeyId = the key, CiphertextBlob, EncryptionAlgorithm)`` without a context;
response ``KeyId`` must equal the key; the first 48 bytes must equal the digest of the message's context. Public
keys must have a modulus of at least 2,048 bits. The official implementation (aws-cryptographic-material-providers
1.11.3, ``AwsKmsRsaKeyring``) refuses algorithm suites with asymmetric signing on both sides, because anyone
holding the public key could make a message with another context; so does this module.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Unpack

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmsflow.envelope.arns import KmsArn, require_key_arn
from kmsflow.envelope.context import serialize_context
from kmsflow.envelope.exceptions import AuthenticationError, ConfigurationError, EnvelopeError, KmsError
from kmsflow.envelope.kms_calls import KmsCaller, KmsOptions, decrypt_first
from kmsflow.envelope.materials import KMS_RSA_PROVIDER_ID, DataKey, EncryptedDataKey, SelfWipingKey, wipe

if TYPE_CHECKING:
    from kmsflow.envelope.retry import RetryStats
    from kmsflow.envelope.suites import AlgorithmSuite

#: Length of the SHA-384 encryption context digest in front of an RSA-wrapped data key.
CONTEXT_DIGEST_LENGTH = 48

#: Smallest RSA modulus the KMS RSA keyring accepts (the spec: at least 2,048 bits).
MIN_RSA_BITS = 2048

#: The key usage KMS must report for the key (GetPublicKey's ``KeyUsage``).
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"

RsaAlgorithm = Literal["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]
_OAEP_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "RSAES_OAEP_SHA_256": hashes.SHA256,
    "RSAES_OAEP_SHA_1": hashes.SHA1,
}


class KmsRsaKeyring:
    """Data keys made locally and encrypted offline under the public key of a KMS RSA ``ENCRYPT_DECRYPT`` key
    (``RSAES_OAEP_SHA_256`` by default), as the AWS Encryption SDK's KMS RSA keyring does; decrypted through KMS.

    ``key_id`` must be the key ARN (it is the provider info). ``public_key_pem``: the key's public key (PEM or
    DER SubjectPublicKeyInfo, as GetPublicKey returns it); without it, one ``GetPublicKey`` on first use. Signed
    suites are refused (see the module docstring). ``kms``: how to reach KMS
    (:class:`~kmsflow.envelope.kms_calls.KmsOptions`)."""

    def __init__(
        self,
        key_id: str,
        *,
        public_key_pem: bytes | None = None,
        algorithm: RsaAlgorithm = "RSAES_OAEP_SHA_256",
        **kms: Unpack[KmsOptions],
    ) -> None:
        self.arn = require_key_arn(key_id, "the KMS RSA keyring")
        self.key_id = str(self.arn)
        self.algorithm = check_rsa_algorithm(algorithm, "algorithm")
        self._kms = KmsCaller(self.arn.region, **kms)
        self._public_key = load_rsa_public_key(public_key_pem) if public_key_pem is not None else None
        self._lock = threading.Lock()

    @property
    def stats(self) -> RetryStats:
        return self._kms.stats

    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA public key: the one given, or one GetPublicKey (made once, by the first caller)."""
        with self._lock:
            if self._public_key is None:
                response = self._kms.call(self._kms.clients.default(), "GetPublicKey", self.key_id, KeyId=self.key_id)
                usage, algorithms = response.get("KeyUsage"), response.get("EncryptionAlgorithms", ())
                if usage != ENCRYPT_DECRYPT or self.algorithm not in algorithms:
                    raise ConfigurationError(
                        f"{self.key_id} is not an RSA key for {self.algorithm} encryption: KMS reports KeyUsage "
                        f"{usage}, encryption algorithms {', '.join(algorithms) or 'none'}; the KMS RSA keyring needs "
                        f"KeyUsage {ENCRYPT_DECRYPT} with {self.algorithm}: use such a key, or pass an algorithm it "
                        "offers"
                    )
                self._public_key = load_rsa_public_key(bytes(response["PublicKey"]))
            return self._public_key

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        refuse_signed_rsa(suite, ConfigurationError)
        public_key = self.public_key()
        plaintext = SelfWipingKey(os.urandom(suite.data_key_length))
        material = bytearray(context_digest(context)) + plaintext
        try:
            hash_algorithm = _OAEP_HASHES[self.algorithm]
            oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_algorithm()), algorithm=hash_algorithm(), label=None)
            ciphertext = public_key.encrypt(bytes(material), oaep)
        finally:
            wipe(material)
        return DataKey(plaintext, (EncryptedDataKey(KMS_RSA_PROVIDER_ID, self.key_id.encode(), ciphertext),))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        refuse_signed_rsa(suite, EnvelopeError)
        mine = self.key_id.encode()

        def allowed(edk: EncryptedDataKey) -> KmsArn | None:
            return self.arn if edk.provider_id == KMS_RSA_PROVIDER_ID and edk.provider_info == mine else None

        return decrypt_first(
            keys,
            allowed,
            lambda arn, edk: decrypt_rsa_edk(self._kms, arn, edk, suite, context, self.algorithm),
            f"the RSA key {self.key_id}",
        )


def decrypt_rsa_edk(
    kms: KmsCaller,
    arn: KmsArn,
    edk: EncryptedDataKey,
    suite: AlgorithmSuite,
    context: Mapping[str, str],
    algorithm: RsaAlgorithm,
) -> bytearray:
    """Decrypt an ``aws-kms-rsa`` EDK under ``arn`` and check the context digest it carries."""
    refuse_signed_rsa(suite, EnvelopeError)
    response = kms.decrypt(arn, edk, EncryptionAlgorithm=algorithm)
    material = bytearray(response["Plaintext"])
    try:
        if response.get("KeyId") != str(arn):
            raise KmsError(f"KMS Decrypt under {arn} answered for key {response.get('KeyId')!r}: refused")
        if len(material) != CONTEXT_DIGEST_LENGTH + suite.data_key_length:
            raise AuthenticationError(f"the RSA-encrypted data key under {arn} has the wrong length")
        if not hmac.compare_digest(bytes(material[:CONTEXT_DIGEST_LENGTH]), context_digest(context)):
            raise AuthenticationError(
                f"the encryption context digest in the data key under {arn} does not match the message's "
                "encryption context: the message was changed or made for another context"
            )
        return bytearray(material[CONTEXT_DIGEST_LENGTH:])
    finally:
        wipe(material)


def check_rsa_algorithm(algorithm: RsaAlgorithm, argument: str) -> RsaAlgorithm:
    """``algorithm`` if the KMS RSA keyring knows it, else a :class:`ConfigurationError` about ``argument``."""
    if algorithm not in _OAEP_HASHES:
        raise ConfigurationError(
            f"unknown RSA encryption algorithm {algorithm!r}; the KMS RSA keyring takes "
            f"{' or '.join(map(repr, _OAEP_HASHES))}: pass one of those as {argument}"
        )
    return algorithm


def context_digest(context: Mapping[str, str]) -> bytes:
    """SHA-384 of the serialized context: what the KMS RSA keyring binds to the data key."""
    return hashlib.sha384(serialize_context(context)).digest()


def refuse_signed_rsa(suite: AlgorithmSuite, error: type[EnvelopeError]) -> None:
    """Refuse a signed suite (see the module docstring) with ``error``: :class:`ConfigurationError` when
    encrypting (the caller chose the suite), :class:`EnvelopeError` when decrypting (the message did)."""
    if suite.signed:
        raise error(
            f"the KMS RSA keyring cannot be used with the signed suite {suite.name}: anyone with the public key "
            "could make a message under another context (the AWS Encryption SDK refuses it too); use an "
            "unsigned suite"
        )


def load_rsa_public_key(data: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or DER (SubjectPublicKeyInfo); refused below :data:`MIN_RSA_BITS`."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as err:
        raise ConfigurationError(
            f"not a PEM or DER public key: {err}; the KMS RSA keyring needs the key's SubjectPublicKeyInfo "
            "(-----BEGIN PUBLIC KEY-----, or the DER bytes GetPublicKey returns): pass that as public_key_pem"
        ) from err
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigurationError(
            f"the public key is {type(key).__name__}, not RSA; the KMS RSA keyring needs the public key of an RSA "
            f"{ENCRYPT_DECRYPT} key: pass that key's public key"
        )
    if key.key_size < MIN_RSA_BITS:
        raise ConfigurationError(
            f"the RSA public key has {key.key_size} bits; the KMS RSA keyring needs at least {MIN_RSA_BITS}: use a "
            f"KMS key of spec RSA_{MIN_RSA_BITS} or larger"
        )
    return key
