"""KR04: a principal may create grants on the key for any grantee: neither ``kms:GrantIsForAWSResource`` nor a
``kms:GranteePrincipal`` condition limits them. A grant hands the key's use on, and grants live outside the
policy: whoever holds one keeps it until it is retired or revoked.

The key's own account root is left out: it delegates to IAM, and the IAM principals it admits are grant
creators of their own.
"""

from __future__ import annotations

from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.findings.principals import own_root
from kmsflow.review.findings.sources import granting_source
from kmsflow.review.model import Finding, Severity


def check(ctx: FindingContext) -> list[Finding]:
    found: list[Finding] = []
    for creator in sorted(ctx.grant_creators):
        if creator.for_aws_resource or own_root(ctx, creator.principal):
            continue
        if creator.grantees and "*" not in creator.grantees:
            continue
        operations = ", ".join(creator.operations) if creator.operations else "every operation"
        found.append(
            RULE.finding(
                ctx,
                f"{creator.principal} may create grants on the key for any grantee ({operations}), so it can hand "
                "the key's use to anyone; add Bool kms:GrantIsForAWSResource true (grants made by AWS services) or "
                "StringEquals kms:GranteePrincipal with the grantees",
                principal=creator.principal,
                source=granting_source(ctx, creator.principal, creator.sources),
            )
        )
    return found


RULE = Rule(
    id="KR04",
    name="create-grant-unscoped",
    severity=Severity.MEDIUM,
    title="CreateGrant without kms:GrantIsForAWSResource or a grantee condition",
    check=check,
)
