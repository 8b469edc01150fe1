"""KR07: the key policy is within 10 % of the 32 KB KMS accepts: the next principal may break the deploy."""

from __future__ import annotations

from kmsflow.policy.rules.policy_size import MAX_POLICY_BYTES
from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.model import Finding, Severity

#: Tenths of the limit a policy may fill before the rule warns (more than 90 %).
WARN_TENTHS = 9


def check(ctx: FindingContext) -> list[Finding]:
    measured = ctx.key.policy_size
    if measured * 10 <= MAX_POLICY_BYTES * WARN_TENTHS:
        return []
    state = "over" if measured > MAX_POLICY_BYTES else "within 10 % of"
    return [
        RULE.finding(
            ctx,
            f"the key policy is {measured} characters, {state} the {MAX_POLICY_BYTES} KMS accepts "
            f"({ctx.policy_source}); merge statements that share actions, or move principals of the key's account "
            "to IAM policies (the key policy delegating to the account)",
        )
    ]


RULE = Rule(
    id="KR07",
    name="policy-size",
    severity=Severity.LOW,
    title="Key policy close to the 32 KB limit",
    check=check,
)
