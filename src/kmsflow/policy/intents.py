"""Grants by intent: what ``grant_encrypt``, ``grant_sign``, ... give, and on which keys they make sense."""

from __future__ import annotations

from enum import StrEnum

from kmsflow.keyspec import KeySettings, KeyUsage
from kmsflow.policy.roles import admin_actions


class Intent(StrEnum):
    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    ENCRYPT_DECRYPT = "encrypt_decrypt"
    SIGN = "sign"
    VERIFY = "verify"
    GENERATE_MAC = "generate_mac"
    VERIFY_MAC = "verify_mac"
    ADMIN = "admin"


_SYMMETRIC_ENCRYPT = (
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
_RSA_ENCRYPT = ("kms:Encrypt", "kms:GetPublicKey", "kms:DescribeKey")
_DECRYPT = ("kms:Decrypt", "kms:DescribeKey")

#: intent -> the key usage it needs (None: any).
INTENT_USAGE: dict[Intent, KeyUsage | None] = {
    Intent.ENCRYPT: KeyUsage.ENCRYPT_DECRYPT,
    Intent.DECRYPT: KeyUsage.ENCRYPT_DECRYPT,
    Intent.ENCRYPT_DECRYPT: KeyUsage.ENCRYPT_DECRYPT,
    Intent.SIGN: KeyUsage.SIGN_VERIFY,
    Intent.VERIFY: KeyUsage.SIGN_VERIFY,
    Intent.GENERATE_MAC: KeyUsage.GENERATE_VERIFY_MAC,
    Intent.VERIFY_MAC: KeyUsage.GENERATE_VERIFY_MAC,
    Intent.ADMIN: None,
}


def intent_problem(intent: Intent, settings: KeySettings) -> str | None:
    """``None`` if ``intent`` fits the key, else why not."""
    needed = INTENT_USAGE[intent]
    if needed is None or needed is settings.usage:
        return None
    return f"grant_{intent} needs a key with usage {needed}; this key is {settings.spec} for {settings.usage}"


def intent_actions(intent: Intent, settings: KeySettings) -> tuple[str, ...]:
    """The actions a grant of ``intent`` gives on a key with ``settings`` (check :func:`intent_problem`)."""
    encrypt = _SYMMETRIC_ENCRYPT if settings.info.family == "symmetric" else _RSA_ENCRYPT
    table: dict[Intent, tuple[str, ...]] = {
        Intent.ENCRYPT: encrypt,
        Intent.DECRYPT: _DECRYPT,
        Intent.ENCRYPT_DECRYPT: tuple(dict.fromkeys(encrypt + _DECRYPT)),
        Intent.SIGN: ("kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"),
        Intent.VERIFY: ("kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"),
        Intent.GENERATE_MAC: ("kms:GenerateMac", "kms:DescribeKey"),
        Intent.VERIFY_MAC: ("kms:VerifyMac", "kms:DescribeKey"),
        Intent.ADMIN: admin_actions(settings),
    }
    return table[intent]
