"""Reading IAM policy documents as CloudFormation templates hold them (plain dicts, maybe with intrinsics)."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

Statement = Mapping[str, Any]

#: The placeholder :func:`flatten` writes for ``{"Ref": "AWS::AccountId"}``: "the stack's own account".
OWN_ACCOUNT = "${AWS::AccountId}"

_ROOT_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}|\$\{AWS::AccountId\}):root$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def statements(policy: Mapping[str, Any]) -> Iterator[tuple[int, Statement]]:
    """Each statement of a policy document with its index (``Statement`` may be one dict or a list)."""
    raw = policy.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    yield from enumerate(items)


def as_list(value: Any) -> list[Any]:
    """IAM allows a single value wherever a list is allowed."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def flatten(value: Any) -> Any:
    """Turn the intrinsics CDK writes into ARNs (``Fn::Join`` of partition/account refs) into plain text.

    Anything else (``Fn::GetAtt`` of a role in the same template, ...) becomes a readable ``${...}`` marker
    so that checks can still compare and print it.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return {"AWS::Partition": "aws", "AWS::AccountId": OWN_ACCOUNT}.get(arg, f"${{{arg}}}")
        if name == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            sep, parts = arg
            return str(sep).join(str(flatten(p)) for p in as_list(parts))
        if name == "Fn::GetAtt":
            target = ".".join(arg) if isinstance(arg, list) else str(arg)
            return f"${{{target}}}"
    return json.dumps(value, sort_keys=True)


def principal_values(statement: Statement) -> list[str]:
    """Every principal of a statement as text; ``"*"`` for the anonymous/any principal."""
    principal = statement.get("Principal")
    if principal is None:
        return []
    if principal == "*":
        return ["*"]
    values: list[str] = []
    if isinstance(principal, Mapping):
        for kind, raw in principal.items():
            for item in as_list(raw):
                text = flatten(item)
                # AWS principals stay bare ARNs ("*" included); others keep their kind: "Service:s3..."
                values.append(text if kind == "AWS" else f"{kind}:{text}")
    return values


def root_account(principal: str) -> str | None:
    """The account id if ``principal`` is an account root (``arn:...:root`` or a bare id), else None."""
    if _ACCOUNT_ID.match(principal):
        return principal
    match = _ROOT_ARN.match(principal)
    return match.group(1) if match else None


def is_own_root(principal: str, account: str | None) -> bool:
    """Whether ``principal`` is the root of the key's own account (``account``; unknown -> the Ref form)."""
    found = root_account(principal)
    return found is not None and found in {OWN_ACCOUNT, account}


def grants_action(statement: Statement, action: str) -> bool:
    """Whether an Allow statement's ``Action`` (wildcards included) or ``NotAction`` covers ``action``."""
    if statement.get("Effect") != "Allow":
        return False
    wanted = action.lower()
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase(wanted, str(a).lower()) for a in as_list(statement["NotAction"]))
    return any(fnmatch.fnmatchcase(wanted, str(a).lower()) for a in as_list(statement.get("Action")))


def grants_everything(statement: Statement) -> bool:
    """Whether an Allow statement gives ``kms:*``/``*`` (or the near-equivalent ``NotAction``)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return True
    return any(str(a).lower() in ("*", "kms:*") for a in as_list(statement.get("Action")))


def condition_keys(statement: Statement) -> set[str]:
    """The condition keys a statement tests, lower-cased (IAM condition keys are case-insensitive)."""
    keys: set[str] = set()
    for block in (statement.get("Condition") or {}).values():
        if isinstance(block, Mapping):
            keys.update(str(k).lower() for k in block)
    return keys


def sid(statement: Statement, index: int) -> str:
    """How to name a statement in a message: its Sid, or its position."""
    return str(statement.get("Sid") or f"#{index}")


def size(policy: Mapping[str, Any]) -> int:
    """The size KMS counts for a key policy: characters of its compact JSON."""
    return len(json.dumps(policy, separators=(",", ":")))
