"""The review's findings, cdk-nag style: one rule per file, each one small pure function over what the review
knows of one key (:class:`FindingContext`), each finding naming the statement that causes it.

Rule ids are stable (``KR01``...): a baseline matches findings by rule, key, principal and statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kmsflow.review.model import AccessFact, Finding, GrantCreator, KeyInfo, PrincipalInfo, Severity, Source


@dataclass(frozen=True, kw_only=True)
class FindingContext:
    """Everything the rules read about one key: its settings, its resolved key policy (and where it comes from,
    ``<stack>/<logical id> KeyPolicy``), its access facts and grant creators, the principals they name (by id)
    and the key's account."""

    key: KeyInfo
    policy: Mapping[str, Any]
    policy_source: str
    facts: tuple[AccessFact, ...]
    grant_creators: tuple[GrantCreator, ...]
    principals: Mapping[str, PrincipalInfo]
    account: str


#: check(context) -> the rule's findings for that key.
Check = Callable[[FindingContext], list[Finding]]


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str  # KR01...
    name: str  # wildcard-principal...
    severity: Severity
    title: str
    check: Check

    def finding(
        self, ctx: FindingContext, message: str, *, principal: str | None = None, source: Source | None = None
    ) -> Finding:
        """A finding of this rule for the context's key."""
        return Finding(
            id=self.id,
            rule=self.name,
            severity=self.severity,
            key=ctx.key.id,
            message=message,
            principal=principal,
            source=source,
        )


def all_rules() -> tuple[Rule, ...]:
    """Every rule, in id order (imported here, not at module top, to keep each rule file standalone)."""
    from kmsflow.review.findings import (
        administrator_can_use,
        broad_grant,
        create_grant_unscoped,
        cross_account_unscoped,
        policy_change_and_use,
        policy_size,
        rotation_off,
        short_deletion_window,
        unusable_key,
        wildcard_principal,
    )

    return (
        wildcard_principal.RULE,
        broad_grant.RULE,
        cross_account_unscoped.RULE,
        create_grant_unscoped.RULE,
        administrator_can_use.RULE,
        policy_change_and_use.RULE,
        policy_size.RULE,
        rotation_off.RULE,
        short_deletion_window.RULE,
        unusable_key.RULE,
    )


def findings_for(ctx: FindingContext) -> tuple[Finding, ...]:
    """Every finding of every rule for one key, each once: highest severity first, then by rule, principal,
    statement."""
    found = {finding for rule in all_rules() for finding in rule.check(ctx)}
    return tuple(sorted(found, key=_order))


def _order(finding: Finding) -> tuple[int, str, str, str, str, str]:
    source = finding.source
    return (
        finding.severity.rank,
        finding.id,
        finding.principal or "",
        source.policy if source else "",
        source.sid if source else "",
        finding.message,
    )
