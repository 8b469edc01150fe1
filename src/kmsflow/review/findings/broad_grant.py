"""KR02: ``kms:*``, ``*`` or ``NotAction`` (every KMS action, or nearly), or ``NotPrincipal``, in an Allow
statement of the key policy for anyone but the key's own account root.

Only the key policy is read: an IAM policy's ``kms:*`` reaches the key through the root's delegation and shows
in the access facts, action by action.
"""

from __future__ import annotations

from kmsflow.policy.document import grants_everything
from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.principals import own_root, statement_principals
from kmsflow.review.findings.sources import allow_statements, statement_source
from kmsflow.review.model import Finding, Severity


def check(ctx: FindingContext) -> list[Finding]:
    found: list[Finding] = []
    for index, statement in allow_statements(ctx):
        source = statement_source(ctx, statement, index)
        if grants_everything(statement):
            what = "NotAction (every action but those listed)" if "NotAction" in statement else "every KMS action"
            for principal in sorted(p for p in statement_principals(statement) if not own_root(ctx, p)):
                found.append(
                    RULE.finding(
                        ctx,
                        f"statement {source.sid} gives {what} to {principal}, who can then use, re-police and "
                        "delete the key; only the key's own account root may hold kms:*: list the actions it needs",
                        principal=principal,
                        source=source,
                    )
                )
        if "NotPrincipal" in statement:
            found.append(
                RULE.finding(
                    ctx,
                    f"statement {source.sid} allows with NotPrincipal, i.e. every principal of every account but "
                    "those listed; name the principals in Principal instead",
                    principal="*",
                    source=source,
                )
            )
    return found


RULE = Rule(
    id="KR02",
    name="broad-grant",
    severity=Severity.HIGH,
    title="kms:*, NotAction or NotPrincipal for someone other than the account root",
    check=check,
)
