"""The roles of a custom key policy and the KMS actions each role gets, by key usage: one table.

Pure Python (no ``aws_cdk``). Actions are listed explicitly rather than as ``kms:Get*``-style wildcards
so that a reviewer reads exactly what a role may do, and so that an administrator never receives a
cryptographic action by accident (``kms:Create*`` would include ``CreateGrant``, which delegates crypto).
"""

from __future__ import annotations

from enum import StrEnum

from kmsflow.keyspec import KeyOrigin, KeySettings, KeyUsage


class Role(StrEnum):
    ADMINISTRATORS = "administrators"
    USERS = "users"
    SERVICE_USERS = "service_users"
    SIGNERS = "signers"
    VERIFIERS = "verifiers"
    PUBLIC_KEY_ENCRYPTERS = "public_key_encrypters"
    MAC_USERS = "mac_users"
    CROSS_ACCOUNT = "cross_account"
    ORGANIZATIONS = "organizations"


#: The Sid of each role's statement: a contract with reviewers, with the separation check and with the review's
#: labels (``kmsflow review`` calls a principal named there "key administrator", "key user"...).
ROLE_SIDS = {
    Role.ADMINISTRATORS: "KeyAdministrators",
    Role.USERS: "KeyUsers",
    Role.SERVICE_USERS: "ServiceUsersViaService",
    Role.SIGNERS: "Signers",
    Role.VERIFIERS: "Verifiers",
    Role.PUBLIC_KEY_ENCRYPTERS: "PublicKeyEncrypters",
    Role.MAC_USERS: "MacUsers",
}

#: Roles that use the key cryptographically (for the separation-of-duties guard).
CRYPTO_ROLES = (
    Role.USERS,
    Role.SERVICE_USERS,
    Role.SIGNERS,
    Role.VERIFIERS,
    Role.PUBLIC_KEY_ENCRYPTERS,
    Role.MAC_USERS,
)

_ADMIN_ALWAYS = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
_ADMIN_ROTATION = (
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:GetKeyRotationStatus",
    "kms:ListKeyRotations",
    "kms:RotateKeyOnDemand",
)
_ADMIN_MULTI_REGION = ("kms:ReplicateKey", "kms:UpdatePrimaryRegion")
_ADMIN_IMPORT = ("kms:GetParametersForImport", "kms:ImportKeyMaterial", "kms:DeleteImportedKeyMaterial")

_SYMMETRIC_USE = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:DescribeKey",
)
_RSA_ENCRYPT_USE = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GetPublicKey",
    "kms:DescribeKey",
)
_SIGN_VERIFY_USE = ("kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey")
_MAC_USE = ("kms:GenerateMac", "kms:VerifyMac", "kms:DescribeKey")
_KEY_AGREEMENT_USE = ("kms:DeriveSharedSecret", "kms:GetPublicKey", "kms:DescribeKey")

#: The actions that let an AWS service create grants on behalf of a principal (RDS, EBS, S3...).
GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")

_EU, _SV, _MAC, _KA = (
    KeyUsage.ENCRYPT_DECRYPT,
    KeyUsage.SIGN_VERIFY,
    KeyUsage.GENERATE_VERIFY_MAC,
    KeyUsage.KEY_AGREEMENT,
)
_ALL = (_EU, _SV, _MAC, _KA)

#: role -> (usages the role fits, constraint on the key family or None); the actions come from the
#: functions below. "symmetric": the role needs a SYMMETRIC_DEFAULT key (AWS services integrate only
#: with those); "rsa": it needs an RSA key.
ROLE_TABLE: dict[Role, tuple[tuple[KeyUsage, ...], str | None]] = {
    Role.ADMINISTRATORS: (_ALL, None),
    Role.USERS: (_ALL, None),
    Role.SERVICE_USERS: ((_EU,), "symmetric"),
    Role.SIGNERS: ((_SV,), None),
    Role.VERIFIERS: ((_SV,), None),
    Role.PUBLIC_KEY_ENCRYPTERS: ((_EU,), "rsa"),
    Role.MAC_USERS: ((_MAC,), None),
    Role.CROSS_ACCOUNT: (_ALL, None),
    Role.ORGANIZATIONS: (_ALL, None),
}

_SPECIFIC_ACTIONS: dict[Role, tuple[str, ...]] = {
    Role.SIGNERS: ("kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"),
    Role.VERIFIERS: ("kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"),
    Role.PUBLIC_KEY_ENCRYPTERS: ("kms:Encrypt", "kms:GetPublicKey", "kms:DescribeKey"),
    Role.MAC_USERS: _MAC_USE,
}


def role_fits(role: Role, settings: KeySettings) -> str | None:
    """``None`` if ``role`` can be given on a key with ``settings``, else the sentence saying why not."""
    usages, family = ROLE_TABLE[role]
    spec = settings.spec
    if settings.usage not in usages:
        wanted = " or ".join(usages)
        return f"role {role} needs a key with usage {wanted}; this key is {spec} for {settings.usage}"
    if family == "symmetric" and settings.info.family != "symmetric":
        return (
            f"role {role} needs a SYMMETRIC_DEFAULT key (AWS services integrate only with symmetric "
            f"encryption keys); this key is {spec}"
        )
    if family == "rsa" and settings.info.family != "rsa":
        return f"role {role} needs an RSA key with usage ENCRYPT_DECRYPT; this key is {spec}"
    return None


def use_actions(settings: KeySettings) -> tuple[str, ...]:
    """The cryptographic actions of a key's full user, fitted to its spec and usage."""
    if settings.usage is KeyUsage.ENCRYPT_DECRYPT:
        return _SYMMETRIC_USE if settings.info.family == "symmetric" else _RSA_ENCRYPT_USE
    if settings.usage is KeyUsage.SIGN_VERIFY:
        return _SIGN_VERIFY_USE
    if settings.usage is KeyUsage.GENERATE_VERIFY_MAC:
        return _MAC_USE
    return _KEY_AGREEMENT_USE


def admin_actions(settings: KeySettings) -> tuple[str, ...]:
    """Administration without cryptographic use, fitted to rotation, multi-region and origin."""
    actions = list(_ADMIN_ALWAYS)
    if settings.rotation or (settings.info.rotatable and settings.origin is KeyOrigin.AWS_KMS):
        actions += _ADMIN_ROTATION
    if settings.multi_region:
        actions += _ADMIN_MULTI_REGION
    if settings.origin is KeyOrigin.EXTERNAL:
        actions += _ADMIN_IMPORT
    if settings.info.asymmetric:
        actions.append("kms:GetPublicKey")
    return tuple(actions)


def role_actions(role: Role, settings: KeySettings) -> tuple[str, ...]:
    """The actions ``role`` gets on a key with ``settings`` (call :func:`role_fits` first)."""
    if role is Role.ADMINISTRATORS:
        return admin_actions(settings)
    return _SPECIFIC_ACTIONS.get(role) or use_actions(settings)


def grants_for_aws_resources(settings: KeySettings) -> bool:
    """Whether service and cross-account users also get CreateGrant for AWS resources (symmetric keys)."""
    return settings.info.family == "symmetric"


#: Short service names accepted in ``service_users.services`` / ``via_services`` -> the endpoint prefix used
#: in ``kms:ViaService`` (``<prefix>.<region>.amazonaws.com``). EBS encryption is done by the EC2 endpoint.
VIA_SERVICES: dict[str, str] = {
    "s3": "s3",
    "rds": "rds",
    "ebs": "ec2",
    "ec2": "ec2",
    "dynamodb": "dynamodb",
    "secretsmanager": "secretsmanager",
    "sqs": "sqs",
    "sns": "sns",
    "lambda": "lambda",
    "backup": "backup",
    "efs": "elasticfilesystem",
    "redshift": "redshift",
    "ssm": "ssm",
    "kinesis": "kinesis",
    "glue": "glue",
}

#: partition -> DNS suffix of its service endpoints.
PARTITION_DNS: dict[str, str] = {
    "aws": "amazonaws.com",
    "aws-us-gov": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
}


def partition_of(region: str) -> str:
    """The ARN partition of a region code (``cn-north-1`` -> ``aws-cn``, ``us-gov-west-1`` -> ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def via_service_values(services: tuple[str, ...] | list[str], *, region: str, partition: str) -> list[str]:
    """``kms:ViaService`` values for short service names in ``region`` (deduplicated, in order)."""
    suffix = PARTITION_DNS[partition]
    values: list[str] = []
    for name in services:
        value = f"{VIA_SERVICES[name]}.{region}.{suffix}"
        if value not in values:
            values.append(value)
    return values
