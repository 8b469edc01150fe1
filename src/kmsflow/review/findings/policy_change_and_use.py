"""KR06: a principal other than the key's own account root may both change the key policy
(``kms:PutKeyPolicy``) and use the key: it can give itself, or anyone, any use of the key."""

from __future__ import annotations

from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.actions import PUT_KEY_POLICY, covers, is_crypto
from kmsflow.review.findings.principals import own_root
from kmsflow.review.findings.sources import granting_source
from kmsflow.review.model import Finding, Severity, Source


def check(ctx: FindingContext) -> list[Finding]:
    # principal -> the sources of its PutKeyPolicy facts (one fact per allowing statement), and its uses
    policy_changers: dict[str, set[Source]] = {}
    uses: dict[str, set[str]] = {}
    for fact in ctx.facts:
        if own_root(ctx, fact.principal):
            continue
        if covers(fact.action, PUT_KEY_POLICY):
            policy_changers.setdefault(fact.principal, set()).update(fact.sources)
        if is_crypto(fact.action):
            uses.setdefault(fact.principal, set()).add(fact.action)
    return [
        RULE.finding(
            ctx,
            f"{principal} may change the key policy (kms:PutKeyPolicy) and use the key "
            f"({', '.join(sorted(uses[principal]))}), so it can grant itself or anyone any use; keep "
            "kms:PutKeyPolicy to administrators that cannot use the key",
            principal=principal,
            source=granting_source(ctx, principal, sources),
        )
        for principal, sources in sorted(policy_changers.items())
        if principal in uses
    ]


RULE = Rule(
    id="KR06",
    name="policy-change-and-use",
    severity=Severity.HIGH,
    title="A principal can both change the key policy and use the key",
    check=check,
)
