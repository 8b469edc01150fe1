""":class:`KmsKeyring`: data keys from KMS under one key, written as the AWS Encryption SDK's KMS keyring writes
them, so that either side can read the other's messages.

Facts from the specification (awslabs/aws-encryption-sdk-specification, ``framework/aws-kms/aws-kms-keyring.md``):
encrypt = ``GenerateDataKey(KeyId, NumberOfBytes = the suite's key derivation input length, EncryptionContext =
the full context)``; the response plaintext length is checked and its ``KeyId`` must be a valid key ARN; the
encrypted data key is written with provider id ``aws-kms`` and provider info = that response ``KeyId`` (always a
key ARN). Decrypt: only EDKs whose provider id is exactly ``aws-kms`` and whose provider info is a valid KMS ARN
of resource type ``key`` matching the configured key; ``Decrypt(KeyId, CiphertextBlob, EncryptionContext)``; the
response ``KeyId`` must equal the key and the plaintext length the suite's; failures are collected and the next
EDK is tried (:func:`~kmsflow.envelope.kms_calls.decrypt_first`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Unpack

from kmsflow.envelope.arns import KEY, KmsArn, check_identifier, parse_arn, parse_key_arn
from kmsflow.envelope.exceptions import KmsError
from kmsflow.envelope.kms_calls import KmsCaller, KmsOptions, decrypt_first
from kmsflow.envelope.materials import KMS_PROVIDER_ID, DataKey, EncryptedDataKey, SelfWipingKey, wipe

if TYPE_CHECKING:
    from kmsflow.envelope.retry import RetryStats
    from kmsflow.envelope.suites import AlgorithmSuite


class KmsKeyring:
    """Data keys from ``GenerateDataKey`` under one KMS key; decrypts the ``aws-kms`` EDKs of that key only.

    ``key_id``: key ARN, key id, alias name or alias ARN. Encrypting works with any of them (KMS answers the key
    ARN, which becomes the provider info). Decrypting matches EDKs by key ARN: with a key ARN, no KMS call is
    needed to know which EDKs are allowed; otherwise the ARN is looked up once with ``DescribeKey`` (an alias
    is resolved to the key it names *now*). ``kms``: how to reach KMS (:class:`~kmsflow.envelope.kms_calls.KmsOptions`:
    ``client``, ``region``, ``session``, ``retry``, ``stats``, ``grant_tokens``)."""

    def __init__(self, key_id: str, **kms: Unpack[KmsOptions]) -> None:
        check_identifier(key_id)
        self.key_id = key_id
        arn = parse_arn(key_id)
        self._kms = KmsCaller(arn.region if arn is not None else None, **kms)
        self._key_arn: KmsArn | None = arn if arn is not None and arn.resource_type == KEY else None
        self._lock = threading.Lock()

    @property
    def stats(self) -> RetryStats:
        return self._kms.stats

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        response = self._kms.call(
            self._kms.clients.default(),
            "GenerateDataKey",
            self.key_id,
            KeyId=self.key_id,
            NumberOfBytes=suite.data_key_length,
            EncryptionContext=dict(context),
        )
        plaintext = SelfWipingKey(response["Plaintext"])
        answered = str(response.get("KeyId", ""))
        if len(plaintext) != suite.data_key_length or parse_key_arn(answered) is None:
            raise KmsError(
                f"KMS GenerateDataKey on {self.key_id} answered a {len(plaintext)}-byte key for {answered!r}; "
                f"expected {suite.data_key_length} bytes and a key ARN"
            )
        edk = EncryptedDataKey(KMS_PROVIDER_ID, answered.encode(), bytes(response["CiphertextBlob"]))
        return DataKey(plaintext, (edk,))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        arn = self.key_arn()
        mine = str(arn).encode()

        def allowed(edk: EncryptedDataKey) -> KmsArn | None:
            return arn if edk.provider_id == KMS_PROVIDER_ID and edk.provider_info == mine else None

        return decrypt_first(
            keys, allowed, lambda key, edk: decrypt_kms_edk(self._kms, key, edk, suite, context), f"the key {arn}"
        )

    def key_arn(self) -> KmsArn:
        """The key's ARN (``DescribeKey`` once when the keyring was given an alias or a key id)."""
        with self._lock:
            if self._key_arn is not None:
                return self._key_arn
        response = self._kms.call(self._kms.clients.default(), "DescribeKey", self.key_id, KeyId=self.key_id)
        arn = parse_key_arn(str(response["KeyMetadata"]["Arn"]))
        if arn is None:
            raise KmsError(f"KMS DescribeKey on {self.key_id} answered no key ARN")
        with self._lock:
            self._key_arn = arn
        return arn


def decrypt_kms_edk(
    kms: KmsCaller, arn: KmsArn, edk: EncryptedDataKey, suite: AlgorithmSuite, context: Mapping[str, str]
) -> bytearray:
    """Decrypt an ``aws-kms`` EDK under ``arn`` and check what KMS answers (key, length)."""
    response = kms.decrypt(arn, edk, EncryptionContext=dict(context))
    plaintext = bytearray(response["Plaintext"])
    if response.get("KeyId") != str(arn) or len(plaintext) != suite.data_key_length:
        wipe(plaintext)
        raise KmsError(
            f"KMS Decrypt under {arn} answered for key {response.get('KeyId')!r} with a key of the wrong "
            f"length or for another key: refused"
        )
    return plaintext
