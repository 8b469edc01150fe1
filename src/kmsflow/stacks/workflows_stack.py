"""The workflows of one (account, region): the snapshot-copy state machine, its notices and its alarm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey
from kmsflow.constructs.keys.service_statements import cloudwatch_logs_statement
from kmsflow.constructs.topics import RuleToTopic, alarm_topic
from kmsflow.constructs.workflows import SnapshotCopyWorkflow
from kmsflow.stacks.naming import snapshot_copy_name

#: The execution statuses that produce a notice on the topic.
NOTIFIED_STATUSES = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]


class WorkflowsStack(Stack):
    """``snapshot_copy`` (SnapshotCopyWorkflow), ``topic`` (encrypted) and ``failed_alarm``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_regions: Sequence[str],
        destination_regions: Sequence[str],
        administrators: Sequence[iam.IPrincipal] = (),
        timeout_hours: int = 24,
        subscriptions: Sequence[tuple[str, str]] = (),
        partition: str = "aws",
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        self.key = KmsflowKey(
            self,
            "WorkflowKey",
            description="kmsflow: encrypts the workflows' log groups and notice topic",
            aliases=[f"alias/kmsflow/workflows/{self.region}"],
            policy=CustomKeyPolicy(administrators=administrators, statements=self._service_statements()),
            partition=partition,
        )
        self.snapshot_copy = SnapshotCopyWorkflow(
            self,
            "SnapshotCopy",
            source_regions=source_regions,
            destination_regions=destination_regions,
            log_key=self.key.key,
            timeout_hours=timeout_hours,
            state_machine_name=snapshot_copy_name(self.region),
        )
        self.topic = alarm_topic(
            self, "Notices", key=self.key.key, display_name="kmsflow workflow notices", subscriptions=subscriptions
        )
        machine = self.snapshot_copy.state_machine
        events.Rule(
            self,
            "ExecutionStatus",
            description="kmsflow: a snapshot copy finished, failed, timed out or was aborted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"stateMachineArn": [machine.state_machine_arn], "status": NOTIFIED_STATUSES},
            ),
            targets=[cast(events.IRuleTarget, RuleToTopic(self.topic))],
        )
        self.failed_alarm = cloudwatch.Alarm(
            self,
            "ExecutionsFailed",
            alarm_description="kmsflow: a snapshot copy execution failed, timed out or was aborted",
            metric=cloudwatch.MathExpression(
                expression="failed + timedout + aborted",
                using_metrics={
                    "failed": machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                    "timedout": machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
                    "aborted": machine.metric_aborted(period=Duration.minutes(5), statistic="Sum"),
                },
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failed_alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        CfnOutput(self, "SnapshotCopyStateMachineArn", value=machine.state_machine_arn)
        CfnOutput(self, "NoticesTopicArn", value=self.topic.topic_arn)

    def _log_groups_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:*"

    def _service_statements(self) -> list[iam.PolicyStatement]:
        """What AWS services need of the workflow key: CloudWatch Logs for this account's log groups in this
        region, EventBridge and CloudWatch to publish to the encrypted topic."""
        return [
            cloudwatch_logs_statement(
                sid="CloudWatchLogsForWorkflowLogGroups", region=self.region, log_group_arn=self._log_groups_arn()
            ),
            iam.PolicyStatement(
                sid="EventBridgeAndAlarmsPublishToEncryptedTopic",
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            ),
        ]
