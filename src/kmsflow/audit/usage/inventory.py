"""The keys and aliases that exist, for "keys with no use in the window" and for resolving aliases.

- ``--keys FILE``: a JSON list of key ARNs, or the output of ``aws kms list-keys`` (``{"Keys": [{"KeyId",
  "KeyArn"}]}``);
- ``--aliases FILE``: a JSON object ``{"alias/name" or alias ARN: key ARN}``, or the output of
  ``aws kms list-aliases`` (``{"Aliases": [{"AliasName", "AliasArn", "TargetKeyId"}]}``; an AWS managed alias
  not yet in use has no ``TargetKeyId`` and is passed over);
- ``--list-keys``: KMS ListKeys and ListAliases in each region (both paginated with ``Marker``/``NextMarker``/
  ``Truncated``; https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html,
  https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsflow.audit.errors import AuditAwsError, AuditInputError
from kmsflow.audit.usage.arns import ALIAS_PREFIX, arn_account, arn_region, is_alias_arn, is_key_arn, key_arn


def _read_json(path: str, option: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise AuditInputError(f"{option} {path}: cannot read the file ({err.strerror or err}).") from None
    except ValueError as err:
        raise AuditInputError(f"{option} {path}: not JSON ({err}).") from None


def load_keys_file(path: str) -> list[str]:
    """Key ARNs from ``--keys FILE``."""
    data = _read_json(path, "--keys")
    if isinstance(data, dict) and isinstance(data.get("Keys"), list):
        data = data["Keys"]
    if not isinstance(data, list):
        raise AuditInputError(
            f"--keys {path}: expected a JSON list of key ARNs or the output of `aws kms list-keys`, "
            f"got a JSON {type(data).__name__}."
        )
    keys: list[str] = []
    for index, item in enumerate(data):
        arn = item.get("KeyArn") if isinstance(item, dict) else item
        if not isinstance(arn, str) or not is_key_arn(arn):
            raise AuditInputError(
                f"--keys {path}: item {index} is {item!r}, not a key ARN. Give key ARNs "
                "(arn:aws:kms:REGION:ACCOUNT:key/ID): a bare key ID does not say its account and region."
            )
        keys.append(arn)
    return keys


def load_aliases_file(path: str) -> list[tuple[str, str]]:
    """(alias name or ARN, key ARN) pairs from ``--aliases FILE``."""
    data = _read_json(path, "--aliases")
    if isinstance(data, dict) and isinstance(data.get("Aliases"), list):
        return aliases_from_listing(data["Aliases"])
    if not isinstance(data, dict):
        raise AuditInputError(
            f"--aliases {path}: expected a JSON object {{alias: key ARN}} or the output of `aws kms list-aliases`, "
            f"got a JSON {type(data).__name__}."
        )
    pairs: list[tuple[str, str]] = []
    for alias, key in data.items():
        if not (alias.startswith(ALIAS_PREFIX) or is_alias_arn(alias)) or not isinstance(key, str):
            raise AuditInputError(
                f"--aliases {path}: entry {alias!r}: {key!r}: keys must be alias names (alias/NAME) or alias ARNs "
                "and values key ARNs."
            )
        if not is_key_arn(key):
            raise AuditInputError(
                f"--aliases {path}: {alias!r} maps to {key!r}, not a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
            )
        pairs.append((alias, key))
    return pairs


def aliases_from_listing(aliases: list[Any]) -> list[tuple[str, str]]:
    """(alias ARN, key ARN) from ListAliases items; the key lives in the alias's account and region."""
    pairs = []
    for item in aliases:
        if not isinstance(item, dict):
            continue
        alias, target = item.get("AliasArn"), item.get("TargetKeyId")
        if isinstance(alias, str) and isinstance(target, str) and is_alias_arn(alias):
            key = (
                target if is_key_arn(target) else key_arn(target, region=arn_region(alias), account=arn_account(alias))
            )
            pairs.append((alias, key))
    return pairs


def list_keys(kms: Any, region: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Key ARNs and (alias ARN, key ARN) pairs of one region, through a KMS client."""
    try:
        keys = [key["KeyArn"] for page in kms.get_paginator("list_keys").paginate() for key in page.get("Keys", [])]
        listed = [alias for page in kms.get_paginator("list_aliases").paginate() for alias in page.get("Aliases", [])]
    except (ClientError, BotoCoreError) as err:
        raise AuditAwsError(f"KMS ListKeys/ListAliases in {region} failed: {err}") from None
    return keys, aliases_from_listing(listed)
