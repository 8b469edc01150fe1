"""Metric filters on the trail's log group and alarms that notify an encrypted SNS topic.

One alarm per row of ``kmsflow.auditspec.alarm_specs`` (CIS 4.7 DisableKey/ScheduleKeyDeletion, PutKeyPolicy,
grants to outsiders, key material import/deletion, AccessDenied bursts) and one on the KMS request rate
against the account's quota, so that callers are warned before they get ``ThrottlingException``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from kmsflow.audit.errors import AuditTrailError
from kmsflow.auditspec import MAX_FILTER_PATTERN, METRIC_NAMESPACE, USAGE_DIMENSIONS, alarm_specs

PERIOD = Duration.minutes(5)


class KmsAlarms(Construct):
    """``alarms`` by name; every alarm notifies ``topic`` when it fires and when it clears. Without a
    ``log_group`` (the trail does not deliver to CloudWatch Logs) only the request-rate alarm exists: the others
    count events in the trail's log group."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        log_group: logs.ILogGroup | None,
        topic: sns.ITopic,
        trusted_accounts: Sequence[str],
        access_denied_threshold: int,
        request_quota_percent: int,
    ) -> None:
        super().__init__(scope, id)
        notify = actions.SnsAction(topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if log_group is not None:
            self._log_alarms(log_group, notify, trusted_accounts, access_denied_threshold)
        calls = cloudwatch.Metric(
            namespace="AWS/Usage",
            metric_name="CallCount",
            dimensions_map=USAGE_DIMENSIONS,
            statistic="Sum",
            period=Duration.minutes(1),
        )
        usage = cloudwatch.MathExpression(
            # CallCount is a per-minute sum; the quota is per second.
            expression="(calls / 60) / SERVICE_QUOTA(calls) * 100",
            using_metrics={"calls": calls},
            label="KMS symmetric cryptographic requests, % of quota",
            period=Duration.minutes(1),
        )
        quota = cloudwatch.Alarm(
            self,
            "RequestRateNearQuota",
            alarm_description=f"kmsflow: KMS symmetric cryptographic requests above {request_quota_percent}% "
            "of the account's request quota in this region (callers are throttled at 100%)",
            metric=usage,
            threshold=request_quota_percent,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        quota.add_alarm_action(notify)
        quota.add_ok_action(notify)
        self.alarms["RequestRateNearQuota"] = quota

    def _log_alarms(
        self,
        log_group: logs.ILogGroup,
        notify: actions.SnsAction,
        trusted_accounts: Sequence[str],
        access_denied_threshold: int,
    ) -> None:
        """One metric filter on the trail's log group and one alarm per row of the alarm table."""
        for spec in alarm_specs(trusted_accounts):
            if len(spec.pattern) > MAX_FILTER_PATTERN:
                raise AuditTrailError(
                    f"the {spec.name} filter pattern is {len(spec.pattern)} characters; CloudWatch Logs allows "
                    f"{MAX_FILTER_PATTERN}; list fewer audit.alarms.organization_accounts",
                    field="alarms.organization_accounts",
                )
            metric_filter = logs.MetricFilter(
                self,
                f"{spec.name}Filter",
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(spec.pattern),
                metric_namespace=METRIC_NAMESPACE,
                metric_name=spec.name,
                metric_value="1",
            )
            threshold = spec.threshold if spec.threshold is not None else access_denied_threshold
            alarm = cloudwatch.Alarm(
                self,
                spec.name,
                alarm_description=f"kmsflow: {spec.description}",
                metric=metric_filter.metric(statistic="Sum", period=PERIOD),
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)
            self.alarms[spec.name] = alarm
