"""Principal references in the configuration: ``<account-name>:role/Name``, ``<account-name>:root``, or an ARN.

Short references keep the YAML readable and tie every principal to a declared account, so that a typo in
an account id cannot silently open a key to a stranger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):(root|(?:role|user)/[\w+=,.@/-]+)$")
_SHORT = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):(root|(?:role|user)/[\w+=,.@/-]+)$")

FORMS = "'<account-name>:role/<name>', '<account-name>:user/<name>', '<account-name>:root' or an IAM ARN"


@dataclass(frozen=True)
class Principal:
    arn: str
    account_name: str
    account_id: str


class PrincipalRefError(ValueError):
    """A principal reference that is malformed or names an undeclared account (message is user-facing)."""


def parse_principal(ref: str, accounts: Mapping[str, str], partition: str) -> Principal:
    """Resolve ``ref`` against ``accounts`` (name -> id)."""
    short = _SHORT.match(ref)
    if short:
        name, resource = short.groups()
        if name not in accounts:
            raise PrincipalRefError(
                f"principal {ref!r} names account {name!r}, which is not declared; declared accounts: "
                f"{', '.join(accounts) or 'none'}; add it under accounts: or fix the name"
            )
        return Principal(f"arn:{partition}:iam::{accounts[name]}:{resource}", name, accounts[name])
    full = _ARN.match(ref)
    if full:
        arn_partition, account_id, _ = full.groups()
        by_id = {v: k for k, v in accounts.items()}
        if account_id not in by_id:
            raise PrincipalRefError(
                f"principal {ref!r} is in account {account_id}, which is not declared under accounts: "
                f"(declared: {', '.join(f'{k}={v}' for k, v in accounts.items()) or 'none'}); declare it"
            )
        if arn_partition != partition:
            raise PrincipalRefError(f"principal {ref!r} is in partition {arn_partition}; this file is {partition}")
        return Principal(ref, by_id[account_id], account_id)
    raise PrincipalRefError(f"principal {ref!r} is not a principal reference; write {FORMS}")


def other_account_problem(principal: str, its_account: str, key_account: str) -> str:
    """The one message both the configuration checks and the constructs give for a principal of another account
    in a role list: such principals are given the key only under ``cross_account``, scoped by
    ``kms:CallerAccount`` (and ``kms:ViaService``)."""
    return (
        f"{principal!r} is in account {its_account!r}, not in this key's account {key_account!r}; principals of "
        "other accounts go under policy.cross_account (CrossAccountAccess in Python)"
    )
