"""Every KMS action that takes a key as its resource, by what it lets a principal do with the key.

The review asks, for each candidate principal, about each of these actions: a policy's ``kms:*``,
``kms:Get*`` or ``NotAction`` is read as the actions it covers here. Actions without a key resource
(``CreateKey``, ``ListKeys``, ``ListAliases``, ``GenerateRandom``, custom key stores, ``ListRetirableGrants``)
are left out: no key policy or key-scoped IAM statement decides them. Source: the AWS KMS Developer Guide,
"AWS KMS permissions" (the "Resources" column: "KMS key"):
https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html
"""

from __future__ import annotations

from enum import StrEnum


class ActionKind(StrEnum):
    """What an action lets a principal do with a key."""

    USE = "use"  # cryptographic operations: what the key protects
    GRANT = "grant"  # delegating use to others
    CHANGE_POLICY = "change policy"  # PutKeyPolicy: who may do anything
    ADMINISTER = "administer"  # lifecycle, aliases, tags, rotation, import
    READ = "read"  # metadata only


#: Action -> kind, in the order reports list them.
KEY_ACTIONS: dict[str, ActionKind] = {
    "kms:Encrypt": ActionKind.USE,
    "kms:Decrypt": ActionKind.USE,
    "kms:ReEncryptFrom": ActionKind.USE,
    "kms:ReEncryptTo": ActionKind.USE,
    "kms:GenerateDataKey": ActionKind.USE,
    "kms:GenerateDataKeyWithoutPlaintext": ActionKind.USE,
    "kms:GenerateDataKeyPair": ActionKind.USE,
    "kms:GenerateDataKeyPairWithoutPlaintext": ActionKind.USE,
    "kms:Sign": ActionKind.USE,
    "kms:Verify": ActionKind.USE,
    "kms:GenerateMac": ActionKind.USE,
    "kms:VerifyMac": ActionKind.USE,
    "kms:DeriveSharedSecret": ActionKind.USE,
    "kms:CreateGrant": ActionKind.GRANT,
    "kms:RetireGrant": ActionKind.GRANT,
    "kms:RevokeGrant": ActionKind.GRANT,
    "kms:PutKeyPolicy": ActionKind.CHANGE_POLICY,
    "kms:ScheduleKeyDeletion": ActionKind.ADMINISTER,
    "kms:CancelKeyDeletion": ActionKind.ADMINISTER,
    "kms:DisableKey": ActionKind.ADMINISTER,
    "kms:EnableKey": ActionKind.ADMINISTER,
    "kms:EnableKeyRotation": ActionKind.ADMINISTER,
    "kms:DisableKeyRotation": ActionKind.ADMINISTER,
    "kms:RotateKeyOnDemand": ActionKind.ADMINISTER,
    "kms:CreateAlias": ActionKind.ADMINISTER,
    "kms:UpdateAlias": ActionKind.ADMINISTER,
    "kms:DeleteAlias": ActionKind.ADMINISTER,
    "kms:UpdateKeyDescription": ActionKind.ADMINISTER,
    "kms:TagResource": ActionKind.ADMINISTER,
    "kms:UntagResource": ActionKind.ADMINISTER,
    "kms:ReplicateKey": ActionKind.ADMINISTER,
    "kms:UpdatePrimaryRegion": ActionKind.ADMINISTER,
    "kms:SynchronizeMultiRegionKey": ActionKind.ADMINISTER,
    "kms:GetParametersForImport": ActionKind.ADMINISTER,
    "kms:ImportKeyMaterial": ActionKind.ADMINISTER,
    "kms:DeleteImportedKeyMaterial": ActionKind.ADMINISTER,
    "kms:DescribeKey": ActionKind.READ,
    "kms:GetPublicKey": ActionKind.READ,
    "kms:GetKeyPolicy": ActionKind.READ,
    "kms:GetKeyRotationStatus": ActionKind.READ,
    "kms:ListKeyRotations": ActionKind.READ,
    "kms:ListKeyPolicies": ActionKind.READ,
    "kms:ListResourceTags": ActionKind.READ,
    "kms:ListGrants": ActionKind.READ,
}

#: Actions that use the key cryptographically (GetPublicKey is a read: a public key is not a secret).
USE_ACTIONS = frozenset(action for action, kind in KEY_ACTIONS.items() if kind is ActionKind.USE)


def action_order(action: str) -> int:
    """Where an action sorts in a report: the table's order, unknown actions last."""
    return _ORDER.get(action, len(_ORDER))


_ORDER = {action: index for index, action in enumerate(KEY_ACTIONS)}


#: The use actions each key usage supports (KMS refuses the others with InvalidKeyUsageException); symmetric
#: encryption keys also make data keys and data key pairs.
USE_BY_USAGE: dict[str, tuple[str, ...]] = {
    "ENCRYPT_DECRYPT": ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"),
    "SIGN_VERIFY": ("kms:Sign", "kms:Verify"),
    "GENERATE_VERIFY_MAC": ("kms:GenerateMac", "kms:VerifyMac"),
    "KEY_AGREEMENT": ("kms:DeriveSharedSecret",),
}
DATA_KEY_ACTIONS = (
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
)
_ROTATION = ("kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:RotateKeyOnDemand")
_IMPORT = ("kms:GetParametersForImport", "kms:ImportKeyMaterial", "kms:DeleteImportedKeyMaterial")
_MULTI_REGION = ("kms:ReplicateKey", "kms:UpdatePrimaryRegion", "kms:SynchronizeMultiRegionKey")


def applicable_actions(*, spec: str, usage: str, origin: str, multi_region: bool) -> frozenset[str]:
    """The key actions that mean something for a key of this kind: a ``kms:*`` on a signing key is reported as
    the actions a signing key has, not as Encrypt or GenerateMac. An unknown spec or usage keeps every action."""
    if usage not in USE_BY_USAGE or spec == "unknown":
        return frozenset(KEY_ACTIONS)
    symmetric = spec == "SYMMETRIC_DEFAULT"
    excluded = set(USE_ACTIONS) - set(USE_BY_USAGE[usage])
    if symmetric and usage == "ENCRYPT_DECRYPT":
        excluded -= set(DATA_KEY_ACTIONS)
    if symmetric:
        excluded.add("kms:GetPublicKey")
    if not (symmetric and usage == "ENCRYPT_DECRYPT"):
        excluded.update(_ROTATION)  # automatic and on-demand rotation: symmetric encryption keys only
    if origin != "EXTERNAL":
        excluded.update(_IMPORT)
    if not multi_region:
        excluded.update(_MULTI_REGION)
    return frozenset(KEY_ACTIONS) - excluded
