"""What the message format needs from a keyring, and what keyrings return: the contract between
:mod:`kmsflow.envelope.message` (the format) and the keyrings (:mod:`~kmsflow.envelope.kms_keyring`,
:mod:`~kmsflow.envelope.decrypt_keyring`, :mod:`~kmsflow.envelope.rsa_keyring`).

A data key's plaintext is a ``bytearray`` so that whoever holds it last can overwrite it (:func:`wipe`)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kmsflow.envelope.suites import AlgorithmSuite

#: Provider id of the encrypted data keys the KMS keyring writes (provider info: the key ARN).
KMS_PROVIDER_ID = b"aws-kms"
#: Provider id of the encrypted data keys the KMS RSA keyring writes (provider info: the key ARN).
KMS_RSA_PROVIDER_ID = b"aws-kms-rsa"


@dataclass(frozen=True)
class EncryptedDataKey:
    """An encrypted data key as the message header stores it (AWS Encryption SDK message format): the key
    provider id (``aws-kms`` for the KMS keyring, ``aws-kms-rsa`` for the KMS RSA keyring), the provider info
    (the KMS key ARN) and the ciphertext."""

    provider_id: bytes
    provider_info: bytes
    ciphertext: bytes


@dataclass
class DataKey:
    """A data key for one message (or, cached, several): its plaintext and the encrypted copies that go into
    the header."""

    plaintext: bytearray
    encrypted: tuple[EncryptedDataKey, ...]


class Keyring(Protocol):
    """Makes and recovers data keys. ``context`` is the full encryption context of the message (for a signed
    suite it holds ``aws-crypto-public-key``), as KMS must see it."""

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey: ...

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray: ...


def wipe(secret: bytearray) -> None:
    """Overwrite a plaintext key in place (as far as Python allows: copies made by libraries are theirs)."""
    secret[:] = bytes(len(secret))


class SelfWipingKey(bytearray):
    """A plaintext data key handed to a caller that must not wipe it (the DataKey from ``on_encrypt``): it
    overwrites itself when the last reference to it goes (CPython frees it at once, by reference counting).
    Copies the caller made (``bytes(key)``, a library's buffers) are theirs."""

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            wipe(self)
