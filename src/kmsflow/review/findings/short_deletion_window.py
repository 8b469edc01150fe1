"""KR09: the deletion waiting period is under 30 days: a key scheduled for deletion by mistake can be
recovered only within it, and the data it protects is lost with it."""

from __future__ import annotations

from kmsflow.keyspec import DELETION_WINDOW_MAX
from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.model import Finding, Severity


def check(ctx: FindingContext) -> list[Finding]:
    days = ctx.key.deletion_window_days
    if days >= DELETION_WINDOW_MAX:
        return []
    return [
        RULE.finding(
            ctx,
            f"the deletion window is {days} days (PendingWindowInDays); set {DELETION_WINDOW_MAX}, the longest KMS "
            "allows, to keep the most time to cancel a deletion scheduled by mistake",
        )
    ]


RULE = Rule(
    id="KR09",
    name="short-deletion-window",
    severity=Severity.LOW,
    title="Deletion window under 30 days",
    check=check,
)
