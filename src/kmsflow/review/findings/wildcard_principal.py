"""KR01: an Allow statement for ``Principal: *`` (or ``NotPrincipal``) without a condition that names who may
call.

Narrowing keys (AWS IAM User Guide, "Establish permissions guardrails using data perimeters": trusted
identities are named by the principal's organization, account or ARN, or by the account and resource a service
acts for): ``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths``, ``aws:PrincipalAccount``, ``aws:PrincipalArn``,
``kms:CallerAccount``, ``aws:SourceAccount``, ``aws:SourceArn``, ``aws:SourceOrgID``, ``aws:SourceOrgPaths``.
``aws:SourceVpc``/``aws:SourceVpce``/``aws:SourceIp`` draw the *network* perimeter: they say where a request
comes from, not who makes it (any account may call through a VPC endpoint its policy admits), so they do not
count; nor does ``kms:ViaService`` alone (any account may use an AWS service). Reuses nothing of
``kmsflow.policy.rules.wildcard_principal``, which accepts any condition at all.
"""

from __future__ import annotations

from kmsflow.policy.document import Statement, as_list, principal_values
from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.conditions import statement_narrowed
from kmsflow.review.findings.sources import allow_statements, statement_source
from kmsflow.review.model import Finding, Severity

#: Condition keys that name who may call (lower-case: IAM condition keys are case-insensitive).
NARROWING_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "kms:CallerAccount",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
    )
)


def check(ctx: FindingContext) -> list[Finding]:
    found: list[Finding] = []
    for index, statement in allow_statements(ctx):
        everyone = "NotPrincipal" in statement or "*" in principal_values(statement)
        if not everyone or statement_narrowed(statement, NARROWING_KEYS):
            continue
        source = statement_source(ctx, statement, index)
        who = "everyone but its NotPrincipal" if "NotPrincipal" in statement else "Principal '*'"
        found.append(
            RULE.finding(
                ctx,
                f"statement {source.sid} allows {who} ({_actions(statement)}) without a condition that names who "
                "may call, i.e. any AWS account; add StringEquals aws:PrincipalOrgID, aws:PrincipalAccount or "
                "kms:CallerAccount (not negated, not IfExists, no '*' value), or name the principals",
                principal="*",
                source=source,
            )
        )
    return found


def _actions(statement: Statement) -> str:
    if "NotAction" in statement:
        return "every action but " + ", ".join(str(a) for a in as_list(statement["NotAction"]))
    return ", ".join(str(a) for a in as_list(statement.get("Action"))) or "no action"


RULE = Rule(
    id="KR01",
    name="wildcard-principal",
    severity=Severity.HIGH,
    title="Principal '*' without a condition that names who may call",
    check=check,
)
