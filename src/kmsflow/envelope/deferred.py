"""Data keys made now and used later: ``GenerateDataKeyWithoutPlaintext``.

KMS returns only the encrypted copy of each key, so nothing secret waits in memory (or on disk, if the caller
stores them: :attr:`DeferredDataKey.encrypted` and :attr:`~DeferredDataKey.context` are all a key is). The
plaintext is fetched with one ``Decrypt`` when the key is first used, and a key serves one message: as a
keyring, its :meth:`~DeferredDataKey.on_encrypt` returns it (the format writes its encrypted copy into the
header, as the KMS keyring's).

The encryption context is bound when the key is made: KMS's ``Decrypt`` of the message's data key gets the
message's full context, so the message must be made with exactly that context (else :class:`ContextError`
before any KMS call). Signed suites add their own signing key to the context (``aws-crypto-public-key``), which
cannot be known in advance: deferred keys serve unsigned suites only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Unpack

from kmsflow.envelope.arns import KEY_ARN_FORM, check_identifier, parse_key_arn, region_of
from kmsflow.envelope.exceptions import ConfigurationError, ContextError, EnvelopeError, KeyNotAllowedError, KmsError
from kmsflow.envelope.kms_calls import KmsCaller, KmsOptions
from kmsflow.envelope.materials import KMS_PROVIDER_ID, DataKey, EncryptedDataKey, SelfWipingKey, wipe

if TYPE_CHECKING:
    from kmsflow.envelope.suites import AlgorithmSuite

#: At most this many keys per call (a guard against a typo asking for millions of KMS calls).
MAX_KEYS = 10_000

#: Length of a deferred data key: the data key length of every suite this library writes (AES-256 key derivation
#: input). Keys made before a suite is known cannot take the suite's ``data_key_length``.
DATA_KEY_LENGTH = 32


class DeferredDataKey:
    """One data key whose plaintext KMS returns only on first use; a keyring for one message.

    ``encrypted``: the ``aws-kms`` encrypted data key (provider info = the key ARN); ``context``: the encryption
    context it was made with. Recreate one from those two (and a client) to use a stored key later."""

    def __init__(
        self,
        encrypted: EncryptedDataKey,
        context: Mapping[str, str],
        **kms: Unpack[KmsOptions],
    ) -> None:
        arn = parse_key_arn(encrypted.provider_info.decode("utf-8", errors="replace"))
        if encrypted.provider_id != KMS_PROVIDER_ID or arn is None:
            raise ConfigurationError(
                f"a deferred data key is an {KMS_PROVIDER_ID.decode()} encrypted data key naming its key ARN "
                f"({KEY_ARN_FORM}); got provider id {encrypted.provider_id!r}, provider info "
                f"{encrypted.provider_info!r}: pass the .encrypted of a key from generate_data_keys()"
            )
        self.encrypted = encrypted
        self.context = dict(context)
        self.key_arn = str(arn)
        self._kms = KmsCaller(arn.region, **kms)
        self.stats = self._kms.stats
        self._lock = threading.Lock()
        self._used = False

    @property
    def used(self) -> bool:
        """Whether a message was made with this key (it then serves no other)."""
        return self._used

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        if suite.signed:
            raise ConfigurationError(
                f"a deferred data key cannot serve the signed suite {suite.name}: the message's context will hold "
                "its own signing key, unknown when the data key was made; use an unsigned suite"
            )
        if dict(context) != self.context:
            raise ContextError(
                "a deferred data key is bound to the encryption context it was made with; this message has "
                f"another (keys {sorted(context)} instead of {sorted(self.context)})"
            )
        with self._lock:
            if self._used:
                raise EnvelopeError("this deferred data key already encrypted a message: use a fresh one per message")
            self._used = True
        if suite.data_key_length != DATA_KEY_LENGTH:
            raise ConfigurationError(
                f"the suite {suite.name} needs {suite.data_key_length}-byte data keys; a deferred data key has "
                f"{DATA_KEY_LENGTH} bytes: use a suite with {DATA_KEY_LENGTH}-byte data keys"
            )
        return DataKey(SelfWipingKey(self._decrypt()), (self.encrypted,))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        if self.encrypted not in keys:
            raise KeyNotAllowedError(f"the message was not made with this deferred data key (under {self.key_arn})")
        if dict(context) != self.context:
            raise ContextError("the message's encryption context is not the one this deferred data key is bound to")
        return self._decrypt()

    def _decrypt(self) -> bytearray:
        response = self._kms.call(
            self._kms.clients.default(),
            "Decrypt",
            self.key_arn,
            KeyId=self.key_arn,
            CiphertextBlob=self.encrypted.ciphertext,
            EncryptionContext=self.context,
        )
        plaintext = bytearray(response["Plaintext"])
        if response.get("KeyId") != self.key_arn or len(plaintext) != DATA_KEY_LENGTH:
            wipe(plaintext)
            raise KmsError(f"KMS Decrypt of a deferred data key under {self.key_arn} answered another key or length")
        return plaintext


def generate_data_keys(
    n: int,
    key_id: str,
    *,
    context: Mapping[str, str] | None = None,
    **kms: Unpack[KmsOptions],
) -> list[DeferredDataKey]:
    """``n`` data keys under ``key_id`` for messages with encryption context ``context``: ``n`` calls of
    ``GenerateDataKeyWithoutPlaintext``, no plaintext returned. The keys share one client and one set of
    counters; ``kms``: how to reach KMS (:class:`~kmsflow.envelope.kms_calls.KmsOptions`)."""
    if not 1 <= n <= MAX_KEYS:
        raise ConfigurationError(
            f"generate between 1 and {MAX_KEYS:,} data keys at a time, not {n}: ask for more in several calls"
        )
    check_identifier(key_id)
    bound = dict(context or {})
    caller = KmsCaller(region_of(key_id, None), **kms)
    client = caller.clients.default()
    keys: list[DeferredDataKey] = []
    for _ in range(n):
        response = caller.call(
            client,
            "GenerateDataKeyWithoutPlaintext",
            key_id,
            KeyId=key_id,
            NumberOfBytes=DATA_KEY_LENGTH,
            EncryptionContext=bound,
        )
        answered = str(response.get("KeyId", ""))
        if parse_key_arn(answered) is None:
            raise KmsError(f"KMS GenerateDataKeyWithoutPlaintext on {key_id} answered no key ARN ({answered!r})")
        edk = EncryptedDataKey(KMS_PROVIDER_ID, answered.encode(), bytes(response["CiphertextBlob"]))
        keys.append(
            DeferredDataKey(
                edk,
                bound,
                client=client,
                session=kms.get("session"),
                retry=caller.retry,
                stats=caller.stats,
                grant_tokens=caller.grant_tokens,
            )
        )
    return keys
