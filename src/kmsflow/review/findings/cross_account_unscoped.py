"""KR03: a principal of another account may use the key cryptographically without a ``kms:CallerAccount`` or
``kms:ViaService`` condition (the key owner then does not limit how, or through which service, it is used).

One finding per principal and key-policy statement (the statement that lets the other account in: the place
where the owner adds the condition), listing the actions.
"""

from __future__ import annotations

from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.actions import is_crypto
from kmsflow.review.findings.conditions import narrowed
from kmsflow.review.findings.principals import account_of
from kmsflow.review.findings.sources import key_policy_source
from kmsflow.review.model import Finding, Severity, Source

SCOPING_KEYS = frozenset({"kms:calleraccount", "kms:viaservice"})


def check(ctx: FindingContext) -> list[Finding]:
    unscoped: dict[tuple[str, Source | None], set[str]] = {}
    for fact in ctx.facts:
        account = account_of(ctx, fact.principal)
        if account is None or account == ctx.account or not is_crypto(fact.action):
            continue
        if narrowed(fact.conditions, SCOPING_KEYS):
            continue
        unscoped.setdefault((fact.principal, key_policy_source(fact.sources)), set()).add(fact.action)
    found: list[Finding] = []
    for (principal, source), actions in sorted(unscoped.items(), key=lambda item: (item[0][0], _sid(item[0][1]))):
        account = account_of(ctx, principal)
        found.append(
            RULE.finding(
                ctx,
                f"{principal} of account {account} may {', '.join(sorted(actions))} on a key of account "
                f"{ctx.account} with no kms:CallerAccount or kms:ViaService condition; add kms:ViaService (use "
                f"only through the AWS services named) or kms:CallerAccount = {account}",
                principal=principal,
                source=source,
            )
        )
    return found


def _sid(source: Source | None) -> tuple[str, str]:
    return (source.policy, source.sid) if source else ("", "")


RULE = Rule(
    id="KR03",
    name="cross-account-unscoped",
    severity=Severity.MEDIUM,
    title="Cross-account use without kms:CallerAccount or kms:ViaService",
    check=check,
)
