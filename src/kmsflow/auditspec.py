"""What the audit watches: the alarm table (metric filter patterns on CloudTrail events) and its limits.

Pure Python (no ``aws_cdk``), shared by the configuration checks, the audit construct and its tests.
Patterns use the CloudWatch Logs filter syntax for JSON log events ("Filter and pattern syntax", CloudWatch
Logs User Guide); CIS AWS Foundations Benchmark 4.7 is the DisableKey/ScheduleKeyDeletion one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Retention values CloudWatch Logs accepts (PutRetentionPolicy, "retentionInDays").
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

#: The metric namespace of kmsflow's audit metric filters.
METRIC_NAMESPACE = "kmsflow/Audit"

#: AWS/Usage metric of the shared quota for symmetric cryptographic operations (Decrypt, Encrypt,
#: GenerateDataKey...), per the AWS Security Blog "Manage your AWS KMS API request rates using Service
#: Quotas and Amazon CloudWatch": CallCount is summed per minute, so the per-second rate is SUM/60.
USAGE_DIMENSIONS = {"Service": "KMS", "Type": "API", "Resource": "CryptographicOperationsSymmetric", "Class": "None"}

_KMS = '($.eventSource = "kms.amazonaws.com")'


def _events(*names: str) -> str:
    ors = " || ".join(f'($.eventName = "{name}")' for name in names)
    return f"({ors})" if len(names) > 1 else ors


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: its construct id / metric name, what it means, and the filter pattern it counts."""

    name: str
    description: str
    pattern: str
    #: Events in 5 minutes that raise the alarm (``None``: the configured AccessDenied threshold).
    threshold: int | None = 1


def alarm_specs(trusted_accounts: Sequence[str]) -> tuple[AlarmSpec, ...]:
    """The alarm table; ``trusted_accounts`` are the account ids whose principals may receive grants."""
    outsiders = " && ".join(
        [f'($.requestParameters.granteePrincipal != "*{account}*")' for account in trusted_accounts]
        # Grants that AWS services create for their own use name the service as grantee.
        + ['($.requestParameters.granteePrincipal != "*.amazonaws.com")']
    )
    return (
        AlarmSpec(
            "KeyDisabledOrScheduledForDeletion",
            "CIS 4.7: a customer managed key was disabled or scheduled for deletion",
            "{ " + f"{_KMS} && {_events('DisableKey', 'ScheduleKeyDeletion')}" + " }",
        ),
        AlarmSpec(
            "KeyPolicyChanged",
            "A key policy was replaced (PutKeyPolicy)",
            "{ " + f"{_KMS} && {_events('PutKeyPolicy')}" + " }",
        ),
        AlarmSpec(
            "GrantToOutsidePrincipal",
            "A grant was created for a principal outside the organization's accounts",
            "{ " + f"{_KMS} && {_events('CreateGrant')} && {outsiders}" + " }",
        ),
        AlarmSpec(
            "KeyMaterialImportedOrDeleted",
            "Key material was imported into or deleted from a key",
            "{ " + f"{_KMS} && {_events('ImportKeyMaterial', 'DeleteImportedKeyMaterial')}" + " }",
        ),
        AlarmSpec(
            "AccessDeniedBurst",
            "A burst of AccessDenied answers from KMS (probing, or a broken deployment)",
            "{ " + f'{_KMS} && (($.errorCode = "AccessDenied*") || ($.errorCode = "*UnauthorizedOperation"))' + " }",
            threshold=None,
        ),
    )


#: CloudWatch Logs limits a filter pattern to 1,024 characters (PutMetricFilter, "filterPattern").
MAX_FILTER_PATTERN = 1024
