"""The audit stack: the trail of every KMS call, its alarms and the topic they notify."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from kmsflow.constructs.audit import KmsAlarms, KmsAuditTrail
from kmsflow.constructs.topics import alarm_topic


class AuditStack(Stack):
    """``trail`` (KmsAuditTrail), ``topic`` (encrypted, SSL-only) and ``alarms`` (KmsAlarms): the central
    audit (the trail bucket's account) or a member account's trail delivering to it (``bucket_account``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str,
        bucket_name: str,
        bucket_account: str | None = None,
        member_accounts: Sequence[str] = (),
        administrators: Sequence[iam.IPrincipal],
        auditors: Sequence[iam.IPrincipal],
        auditors_account: str | None = None,
        cloudwatch_logs: bool = True,
        organization_trail: bool,
        organization_id: str | None,
        log_retention_days: int,
        transition_to_glacier_days: int | None,
        expire_days: int | None,
        trusted_accounts: Sequence[str],
        access_denied_threshold: int,
        request_quota_percent: int,
        subscriptions: Sequence[tuple[str, str]] = (),
        partition: str = "aws",
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.trail = KmsAuditTrail(
            self,
            "Audit",
            trail_name=trail_name,
            bucket_name=bucket_name,
            bucket_account=bucket_account,
            member_accounts=member_accounts,
            administrators=administrators,
            auditors=auditors,
            auditors_account=auditors_account,
            cloudwatch_logs=cloudwatch_logs,
            organization_trail=organization_trail,
            organization_id=organization_id,
            log_retention_days=log_retention_days,
            transition_to_glacier_days=transition_to_glacier_days,
            expire_days=expire_days,
            partition=partition,
        )
        self.topic = alarm_topic(
            self,
            "AlarmTopic",
            key=self.trail.key.key,
            display_name=f"kmsflow audit alarms ({trail_name})",
            subscriptions=subscriptions,
        )
        self.alarms = KmsAlarms(
            self,
            "Alarms",
            log_group=self.trail.log_group,
            topic=self.topic,
            trusted_accounts=trusted_accounts,
            access_denied_threshold=access_denied_threshold,
            request_quota_percent=request_quota_percent,
        )
        CfnOutput(self, "TrailArn", value=self.trail.trail.trail_arn, description="The kmsflow audit trail")
        CfnOutput(self, "TrailBucket", value=bucket_name)
        CfnOutput(self, "AuditKeyArn", value=self.trail.key.key_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)
