"""KR10: no one may use the key: no access fact gives any principal a cryptographic action that fits the key's
usage, and no one may create grants on it.

What counts as usable: any such fact, for any principal, the key's own account root included. A fact for the
root means the key policy lets IAM decide for the account: principals outside the assembly may hold an IAM
policy for the key, so the review cannot say the key is unusable. A grant creator counts too (a grant, created
after deployment, gives the use). A key nobody can use is cost without purpose, or a key policy that lost its
users (aws/aws-cdk#31528 is that failure for administrators).
"""

from __future__ import annotations

from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.actions import covers_any, usage_actions
from kmsflow.review.model import Finding, Severity


def check(ctx: FindingContext) -> list[Finding]:
    fitting = usage_actions(ctx.key.usage)
    if ctx.grant_creators or any(covers_any(fact.action, fitting) for fact in ctx.facts):
        return []
    return [
        RULE.finding(
            ctx,
            f"no principal may use this {ctx.key.usage} key ({', '.join(fitting)}), by the key policy, by an IAM "
            "policy or through a grant; add its users to the key policy, or let the key policy delegate to the "
            "account and give them an IAM policy",
        )
    ]


RULE = Rule(
    id="KR10",
    name="unusable-key",
    severity=Severity.LOW,
    title="No one can use the key",
    check=check,
)
