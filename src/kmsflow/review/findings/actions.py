"""KMS actions as the rules group them: cryptographic use, by key usage, matched against the action (or
action pattern) of an access fact."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from functools import lru_cache

from kmsflow.keyspec import KeyUsage

PUT_KEY_POLICY = "kms:PutKeyPolicy"

#: Actions that use the key's material (DescribeKey, GetPublicKey and CreateGrant do not).
_ENCRYPT = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
)
_SIGN = ("kms:Sign", "kms:Verify")
_MAC = ("kms:GenerateMac", "kms:VerifyMac")
_AGREE = ("kms:DeriveSharedSecret",)
CRYPTO_ACTIONS = (*_ENCRYPT, *_SIGN, *_MAC, *_AGREE)

#: Key usage -> the cryptographic actions KMS accepts for a key of that usage.
USAGE_ACTIONS: dict[str, tuple[str, ...]] = {
    KeyUsage.ENCRYPT_DECRYPT: _ENCRYPT,
    KeyUsage.SIGN_VERIFY: _SIGN,
    KeyUsage.GENERATE_VERIFY_MAC: _MAC,
    KeyUsage.KEY_AGREEMENT: _AGREE,
}


@lru_cache(maxsize=4096)  # a review asks about the same few dozen actions for every fact of every key
def covers(fact_action: str, action: str) -> bool:
    """Whether a fact's action (``kms:Decrypt``, or a pattern such as ``kms:*``) allows ``action``
    (IAM action names are case-insensitive)."""
    return fnmatch.fnmatchcase(action.lower(), fact_action.lower())


def covers_any(fact_action: str, actions: Iterable[str]) -> bool:
    return any(covers(fact_action, action) for action in actions)


@lru_cache(maxsize=1024)
def is_crypto(fact_action: str) -> bool:
    """Whether a fact's action uses the key cryptographically."""
    return covers_any(fact_action, CRYPTO_ACTIONS)


def usage_actions(usage: str) -> tuple[str, ...]:
    """The cryptographic actions that fit a key usage (every one when the usage is unknown)."""
    return USAGE_ACTIONS.get(usage, CRYPTO_ACTIONS)
