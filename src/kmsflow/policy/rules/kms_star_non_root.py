"""KMS2: ``kms:*`` (or ``*``, or ``NotAction``) only for the key's own account root."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsflow.policy.document import grants_everything, is_own_root, principal_values, sid, statements
from kmsflow.policy.rules import Rule


def check(policy: Mapping[str, Any], account: str | None) -> list[str]:
    found: list[str] = []
    for i, stmt in statements(policy):
        if not grants_everything(stmt):
            continue
        others = [p for p in principal_values(stmt) if not is_own_root(p, account)]
        if others or "NotPrincipal" in stmt:
            who = ", ".join(others) or "NotPrincipal"
            found.append(
                f"statement {sid(stmt, i)} gives every KMS action (kms:*, * or NotAction) to {who}; only "
                "the key's own account root may hold kms:*; list the actions needed instead (the roles of "
                "a custom policy: administrators, users, service_users, ...)"
            )
    return found


RULE = Rule(
    suffix="KMS2",
    name="KeyPolicyKmsStarForNonRoot",
    info="The key policy gives kms:* to a principal other than the account root.",
    explanation=(
        "kms:* lets a principal use, re-key, re-police and delete the key. Only the account root (which "
        "delegates to IAM) may hold it; everyone else gets the administrator or user actions they need."
    ),
    check=check,
)
