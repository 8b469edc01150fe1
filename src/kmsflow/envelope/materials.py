"""What the message format needs from a keyring, and what keyrings return: the contract between
:mod:`kmsflow.envelope.message` (the format) and :mod:`kmsflow.envelope.keyrings` (KMS, RSA).

A data key's plaintext is a ``bytearray`` so that whoever holds it last can overwrite it (:func:`wipe`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kmsflow.envelope.suites import AlgorithmSuite


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
