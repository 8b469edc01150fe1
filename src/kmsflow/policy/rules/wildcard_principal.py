"""KMS1: no ``Principal: *`` in an Allow statement without a condition (anyone on the internet)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsflow.policy.document import principal_values, sid, statements
from kmsflow.policy.rules import Rule


def check(policy: Mapping[str, Any], account: str | None) -> list[str]:
    return [
        f"statement {sid(stmt, i)} allows Principal '*' without a Condition, i.e. any AWS account; "
        "add a condition that names who may call (aws:PrincipalOrgID, kms:CallerAccount, kms:ViaService) "
        "or name the principals"
        for i, stmt in statements(policy)
        if stmt.get("Effect") == "Allow" and "*" in principal_values(stmt) and not stmt.get("Condition")
    ]


RULE = Rule(
    suffix="KMS1",
    name="KeyPolicyWildcardPrincipal",
    info="The key policy allows Principal '*' without a condition.",
    explanation=(
        "A key policy statement whose principal is '*' applies to every AWS account. Without a condition "
        "such as aws:PrincipalOrgID or kms:CallerAccount anyone can use or manage the key."
    ),
    check=check,
)
