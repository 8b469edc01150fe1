"""KMS3: CreateGrant for anyone but the root must be limited to AWS resources or to named grantees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsflow.policy.document import (
    condition_keys,
    grants_action,
    is_own_root,
    principal_values,
    sid,
    statements,
)
from kmsflow.policy.rules import Rule

#: Either condition key makes a CreateGrant permission narrow enough.
SCOPING_KEYS = ("kms:grantisforawsresource", "kms:granteeprincipal")


def check(policy: Mapping[str, Any], account: str | None) -> list[str]:
    found: list[str] = []
    for i, stmt in statements(policy):
        if not grants_action(stmt, "kms:CreateGrant"):
            continue
        principals = principal_values(stmt)
        if principals and all(is_own_root(p, account) for p in principals):
            continue
        if condition_keys(stmt).intersection(SCOPING_KEYS):
            continue
        found.append(
            f"statement {sid(stmt, i)} allows kms:CreateGrant to {', '.join(principals) or 'its principal'} "
            "without kms:GrantIsForAWSResource or kms:GranteePrincipal, so the grantee can hand the key "
            "to anyone; add Condition Bool kms:GrantIsForAWSResource true (service users) or "
            "StringEquals kms:GranteePrincipal"
        )
    return found


RULE = Rule(
    suffix="KMS3",
    name="KeyPolicyUnscopedCreateGrant",
    info="The key policy allows CreateGrant without kms:GrantIsForAWSResource or kms:GranteePrincipal.",
    explanation=(
        "A grant delegates use of the key. Services such as RDS and EBS create grants for their resources; "
        "limit CreateGrant with kms:GrantIsForAWSResource, or to named grantees with kms:GranteePrincipal."
    ),
    check=check,
)
