"""Test-only keyrings for the format tests.

* :class:`FixedKeyring`: one fixed 32-byte data key and a fake encrypted data key. It ignores what the header
  says on decrypt, so any change to the header must be caught by the header tag or the commitment - which is
  what the tamper tests want to prove.
* :class:`RawAesKeyring`: writes and reads encrypted data keys exactly as the AWS Encryption SDK's Raw AES
  keyring does (spec ``framework/raw-aes-keyring.md``), so that messages can be exchanged with the official SDK
  and its ``create_raw_aes_keyring`` without KMS:

  - provider id = the key namespace (UTF-8);
  - provider info = key name (UTF-8) | tag length in BITS (UInt32, 128) | IV length (UInt32, 12) | IV;
  - ciphertext = AES-GCM(wrapping key, IV, data key, AAD = serialized encryption context) | tag.

  The context serialization is written here independently of ``kmsflow.envelope.context`` on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsflow.envelope.exceptions import KeyNotAllowedError
from kmsflow.envelope.materials import DataKey, EncryptedDataKey
from kmsflow.envelope.suites import AlgorithmSuite

FIXED_KEY = bytes(range(32))
FAKE_EDK = EncryptedDataKey(b"test-provider", b"test-key-info", b"not really encrypted")


class FixedKeyring:
    """Always the same data key; records the contexts it was called with."""

    def __init__(self, key: bytes = FIXED_KEY) -> None:
        self.key = key
        self.encrypt_contexts: list[dict[str, str]] = []
        self.decrypt_calls = 0
        self.returned: list[bytearray] = []

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        self.encrypt_contexts.append(dict(context))
        return DataKey(bytearray(self.key), (FAKE_EDK,))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        self.decrypt_calls += 1
        key = bytearray(self.key)
        self.returned.append(key)
        return key


def serialize_context(context: Mapping[str, str]) -> bytes:
    """The spec's encryption context serialization (``framework/structures.md``)."""
    if not context:
        return b""
    pairs = sorted((k.encode(), v.encode()) for k, v in context.items())
    out = len(pairs).to_bytes(2, "big")
    for key, value in pairs:
        out += len(key).to_bytes(2, "big") + key + len(value).to_bytes(2, "big") + value
    return out


class RawAesKeyring:
    """The SDK's Raw AES keyring (AES-256-GCM, IV 12, tag 16), for kmsflow's side of the interop tests."""

    def __init__(self, namespace: str, name: str, wrapping_key: bytes) -> None:
        self.namespace = namespace.encode()
        self.name = name.encode()
        self.aes = AESGCM(wrapping_key)

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        data_key = os.urandom(32)
        iv = os.urandom(12)
        sealed = self.aes.encrypt(iv, data_key, serialize_context(context))
        info = self.name + (128).to_bytes(4, "big") + (12).to_bytes(4, "big") + iv
        return DataKey(bytearray(data_key), (EncryptedDataKey(self.namespace, info, sealed),))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        aad = serialize_context(context)
        prefix = self.name + (128).to_bytes(4, "big") + (12).to_bytes(4, "big")
        for key in keys:
            info = key.provider_info
            if key.provider_id != self.namespace or len(info) != len(prefix) + 12 or not info.startswith(prefix):
                continue
            try:
                return bytearray(self.aes.decrypt(info[len(prefix) :], key.ciphertext, aad))
            except InvalidTag:
                continue
        raise KeyNotAllowedError("no encrypted data key decrypts under this raw AES wrapping key")
