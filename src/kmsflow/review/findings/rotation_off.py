"""KR08: automatic rotation of the key material is off on a key that supports it (``rotation`` is None where
it does not apply: asymmetric, HMAC, imported material)."""

from __future__ import annotations

from kmsflow.review.findings import FindingContext, Rule
from kmsflow.review.model import Finding, Severity


def check(ctx: FindingContext) -> list[Finding]:
    key = ctx.key
    if key.rotation is not False:
        return []
    if key.primary is not None:
        message = (
            f"automatic key rotation is off: this replica shares its primary's rotation status and {key.primary} "
            "does not rotate; set EnableKeyRotation: true on the primary key"
        )
    else:
        message = (
            "automatic key rotation is off (EnableKeyRotation false); set EnableKeyRotation: true "
            "(RotationPeriodInDays 90-2560, default 365)"
        )
    return [RULE.finding(ctx, message)]


RULE = Rule(
    id="KR08",
    name="rotation-off",
    severity=Severity.MEDIUM,
    title="Key rotation off",
    check=check,
)
