"""KMS key identifiers, and KMS ARNs as the specification defines them (awslabs/aws-encryption-sdk-specification,
``framework/aws-kms/aws-kms-key-arn.md``): six ``:``-separated parts: ``arn``, a non-empty partition, ``kms``, a
non-empty region and account, and a resource ``type/id`` split at the first ``/``, type ``key`` or ``alias``.

Encrypted data keys name their KMS key by key ARN, so whatever decides without asking KMS which of them may be
decrypted needs key ARNs (:func:`require_key_arn`); a key that is only called (encryption, direct mode, deferred
keys) may be named any way KMS accepts (:func:`check_identifier`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsflow.envelope.exceptions import ConfigurationError

ARN_PREFIX = "arn"
SERVICE = "kms"
KEY = "key"
ALIAS = "alias"
RESOURCE_TYPES = (KEY, ALIAS)
#: An ARN has this many ``:``-separated parts (the last, the resource, may hold more ``:``).
ARN_PARTS = 6
#: What an alias name starts with (``alias/orders``).
ALIAS_NAME_PREFIX = "alias/"
#: Digits of an AWS account id (the account of an ARN, the accounts of a discovery filter).
ACCOUNT_ID_DIGITS = 12

KEY_ARN_FORM = f"{ARN_PREFIX}:<partition>:{SERVICE}:<region>:<account>:{KEY}/<key id>"
ALIAS_ARN_FORM = f"{ARN_PREFIX}:<partition>:{SERVICE}:<region>:<account>:{ALIAS}/<alias name>"
#: Every way to name a KMS key, for messages.
IDENTIFIER_FORMS = (
    f"a key ARN ({KEY_ARN_FORM}), an alias ARN ({ALIAS_ARN_FORM}), a key id or an alias name "
    f"({ALIAS_NAME_PREFIX}<name>)"
)


@dataclass(frozen=True)
class KmsArn:
    """A KMS ARN, valid as the specification's ``aws-kms-key-arn.md`` defines it."""

    partition: str
    region: str
    account: str
    resource_type: str  # "key" or "alias"
    resource_id: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:{self.resource_type}/{self.resource_id}"


def parse_arn(text: str) -> KmsArn | None:
    """The KMS ARN ``text`` is, or ``None`` if it is not a valid one."""
    parsed = _parse(text)
    return parsed if isinstance(parsed, KmsArn) else None


def parse_key_arn(text: str) -> KmsArn | None:
    """The ARN if ``text`` is a valid KMS ARN of resource type ``key``, else ``None``."""
    arn = parse_arn(text)
    return arn if arn is not None and arn.resource_type == KEY else None


def region_of(key_id: str, default: str | None) -> str | None:
    """The region a key or alias ARN names; ``default`` for key ids and alias names (they name none)."""
    arn = parse_arn(key_id)
    return arn.region if arn is not None else default


def is_account_id(text: str) -> bool:
    return len(text) == ACCOUNT_ID_DIGITS and text.isdigit()


def require_key_arn(key_id: str, role: str) -> KmsArn:
    """``key_id`` as a key ARN, or a :class:`ConfigurationError` saying that ``role`` needs one."""
    arn = parse_key_arn(key_id)
    if arn is None:
        raise ConfigurationError(
            f"{role} needs key ARNs ({KEY_ARN_FORM}); got {key_id!r}, {_kind(key_id)}. Encrypted data keys name "
            "their key by ARN, so only a key ARN can be matched without asking KMS: pass the key's ARN "
            "(aws kms describe-key --key-id <key id or alias> prints it as KeyMetadata.Arn)"
        )
    return arn


def check_identifier(key_id: str) -> None:
    """Refuse what cannot be a KMS key identifier (key ARN, alias ARN, key id, alias name)."""
    if not key_id or (key_id.startswith(f"{ARN_PREFIX}:") and parse_arn(key_id) is None):
        raise ConfigurationError(
            f"not a KMS key identifier: {key_id!r}, {_kind(key_id)}; a KMS key is named by {IDENTIFIER_FORMS}: "
            "pass one of those"
        )


def _parse(text: str) -> KmsArn | str:
    """The KMS ARN ``text`` is, or what makes it not one."""
    parts = text.split(":", ARN_PARTS - 1)
    if len(parts) != ARN_PARTS:
        return f"{len(parts)} ':'-separated parts instead of {ARN_PARTS}"
    prefix, partition, service, region, account, resource = parts
    if prefix != ARN_PREFIX or service != SERVICE:
        return f"it starts {prefix}:<partition>:{service}: instead of {ARN_PREFIX}:<partition>:{SERVICE}:"
    empty = [name for name, value in (("partition", partition), ("region", region), ("account", account)) if not value]
    if empty:
        return f"no {' and no '.join(empty)}"
    resource_type, slash, resource_id = resource.partition("/")
    if resource_type not in RESOURCE_TYPES:
        return f"resource type {resource_type!r} instead of one of {', '.join(RESOURCE_TYPES)}"
    if not (slash and resource_id):
        return f"no id after {resource_type}/"
    return KmsArn(partition, region, account, resource_type, resource_id)


def _kind(key_id: str) -> str:
    """What kind of identifier ``key_id`` is, for messages."""
    if not key_id:
        return "an empty string"
    parsed = _parse(key_id)
    if isinstance(parsed, KmsArn):
        return "a key ARN" if parsed.resource_type == KEY else "an alias ARN"
    if key_id.startswith(f"{ARN_PREFIX}:"):
        return f"not a valid KMS ARN ({parsed})"
    return "an alias name" if key_id.startswith(ALIAS_NAME_PREFIX) else "a key id"
