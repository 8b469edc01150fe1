"""KR05: a key administrator (by its kmsflow role) that may also use the key cryptographically: separation of
duties is lost (whoever manages the key should not read what it protects). The key's own account root is left
out: it delegates to IAM, and KR06 and the access facts cover what it allows."""

from __future__ import annotations

from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.actions import is_crypto
from kmsflow.review.findings.principals import administrators, own_root
from kmsflow.review.findings.sources import granting_source
from kmsflow.review.model import AccessFact, Finding, Severity


def check(ctx: FindingContext) -> list[Finding]:
    admins = administrators(ctx)
    uses: dict[str, list[AccessFact]] = {}
    for fact in ctx.facts:
        if fact.principal in admins and not own_root(ctx, fact.principal) and is_crypto(fact.action):
            uses.setdefault(fact.principal, []).append(fact)
    return [
        RULE.finding(
            ctx,
            f"{principal} is a key administrator and may also {', '.join(sorted({f.action for f in facts}))}; "
            "keep administration and use apart: remove the use from this principal (key-policy statement or IAM "
            "policy) and give it to a principal that does not administer the key",
            principal=principal,
            source=granting_source(ctx, principal, [source for f in facts for source in f.sources]),
        )
        for principal, facts in sorted(uses.items())
    ]


RULE = Rule(
    id="KR05",
    name="administrator-can-use",
    severity=Severity.MEDIUM,
    title="A key administrator can also use the key",
    check=check,
)
