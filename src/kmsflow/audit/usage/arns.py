"""KMS key and alias identifiers: which form a string is in, and the ARN it stands for.

A KMS key is named, in a request, by "its key ID, key ARN, alias name, or alias ARN. When using an alias name,
prefix it with "alias/". To specify a KMS key in a different AWS account, you must use the key ARN or alias ARN"
(KMS API reference, ``KeyId`` of Encrypt/Decrypt/...,
https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html). Examples from that page:

- key ID ``1234abcd-12ab-34cd-56ef-1234567890ab``
- key ARN ``arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab``
- alias name ``alias/ExampleAlias``
- alias ARN ``arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias``

An alias lives in the account and region of its key (CreateAlias: "The KMS key must be in the same AWS Region"),
so an alias name plus an account and a region is an alias ARN.
"""

from __future__ import annotations

from kmsflow.policy.roles import partition_of

#: Marks of the two ARN kinds; a resource ARN is ``arn:partition:kms:region:account:key/ID``.
KEY_MARK = ":key/"
ALIAS_MARK = ":alias/"
ALIAS_PREFIX = "alias/"


def key_arn(key_id: str, *, region: str, account: str) -> str:
    """The key ARN of a bare key ID in ``account`` and ``region``."""
    return f"arn:{partition_of(region)}:kms:{region}:{account}:key/{key_id}"


def alias_arn(alias_name: str, *, region: str, account: str) -> str:
    """The alias ARN of ``alias/NAME`` in ``account`` and ``region``."""
    return f"arn:{partition_of(region)}:kms:{region}:{account}:{alias_name}"


def is_key_arn(value: str) -> bool:
    return value.startswith("arn:") and KEY_MARK in value


def is_alias_arn(value: str) -> bool:
    return value.startswith("arn:") and ALIAS_MARK in value


def arn_account(arn: str) -> str:
    """The account field of an ARN (``""`` for anything that is not an ARN)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def arn_region(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[3] if len(parts) == 6 and parts[0] == "arn" else ""


def alias_name_of(arn: str) -> str:
    """``alias/NAME`` from an alias ARN (the input unchanged if it is not one)."""
    at = arn.find(ALIAS_MARK)
    return arn[at + 1 :] if at >= 0 else arn


def key_id_of(arn: str) -> str:
    """The key ID from a key ARN (the input unchanged if it is not one)."""
    at = arn.find(KEY_MARK)
    return arn[at + len(KEY_MARK) :] if at >= 0 else arn


def key_ref(value: str, *, region: str, account: str) -> str:
    """What a request's ``keyId`` names, as an ARN: a key ARN, or an alias ARN to be resolved later.

    A bare key ID or alias name can only name a key of the caller's own account (see the module docstring), in
    the region of the request, so ``account`` is the event's account and ``region`` its ``awsRegion``. Without
    an account the bare value is returned unchanged.
    """
    if value.startswith("arn:"):
        return value
    if not account or not region:
        return value
    if value.startswith(ALIAS_PREFIX):
        return alias_arn(value, region=region, account=account)
    return key_arn(value, region=region, account=account)
