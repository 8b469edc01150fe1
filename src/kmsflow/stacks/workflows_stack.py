"""The workflows of one (account, region): the snapshot-copy and/or snapshot-share state machines, their notices
and their alarms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey
from kmsflow.constructs.keys.service_statements import cloudwatch_logs_statement
from kmsflow.constructs.topics import RuleToTopic, alarm_topic
from kmsflow.constructs.workflows import ShareTarget, SnapshotCopyWorkflow, SnapshotShareWorkflow
from kmsflow.errors import WorkflowDefinitionError
from kmsflow.stacks.naming import snapshot_copy_name, snapshot_share_name

#: The execution statuses that produce a notice on the topic.
NOTIFIED_STATUSES = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]


@dataclass(frozen=True, kw_only=True)
class ShareMachine:
    """What the snapshot-share machine of the stack is given: its source regions and targets (region codes)."""

    source_regions: Sequence[str]
    targets: Sequence[ShareTarget]
    timeout_hours: int = 24


class WorkflowsStack(Stack):
    """``snapshot_copy`` (SnapshotCopyWorkflow, when ``destination_regions`` are given) and/or ``snapshot_share``
    (SnapshotShareWorkflow, when ``share`` is given), one workflow key (``key``) for their log groups and the
    notices ``topic``, and per machine an EventBridge rule and a failure alarm (``failed_alarm``,
    ``share_failed_alarm``).

    Both machines of one (account, region) live here: one key, one topic. ``administrators`` and
    ``subscriptions`` are therefore those of both configuration entries (the app merges and deduplicates them)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_regions: Sequence[str] = (),
        destination_regions: Sequence[str] = (),
        share: ShareMachine | None = None,
        administrators: Sequence[iam.IPrincipal] = (),
        timeout_hours: int = 24,
        subscriptions: Sequence[tuple[str, str]] = (),
        partition: str = "aws",
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, id, **stack_props)
        if not destination_regions and share is None:
            raise WorkflowDefinitionError(
                "a workflows stack needs a snapshot copy (destination_regions) or a snapshot share", field=None
            )
        self.key = KmsflowKey(
            self,
            "WorkflowKey",
            description="kmsflow: encrypts the workflows' log groups and notice topic",
            aliases=[f"alias/kmsflow/workflows/{self.region}"],
            policy=CustomKeyPolicy(administrators=administrators, statements=self._service_statements()),
            partition=partition,
        )
        self.snapshot_copy: SnapshotCopyWorkflow | None = None
        self.snapshot_share: SnapshotShareWorkflow | None = None
        if destination_regions:
            self.snapshot_copy = SnapshotCopyWorkflow(
                self,
                "SnapshotCopy",
                source_regions=source_regions,
                destination_regions=destination_regions,
                log_key=self.key.key,
                timeout_hours=timeout_hours,
                state_machine_name=snapshot_copy_name(self.region),
            )
        if share is not None:
            self.snapshot_share = SnapshotShareWorkflow(
                self,
                "SnapshotShare",
                source_regions=share.source_regions,
                targets=share.targets,
                log_key=self.key.key,
                timeout_hours=share.timeout_hours,
                state_machine_name=snapshot_share_name(self.region),
            )
        self.topic = alarm_topic(
            self, "Notices", key=self.key.key, display_name="kmsflow workflow notices", subscriptions=subscriptions
        )
        self.failed_alarm: cloudwatch.Alarm | None = None
        self.share_failed_alarm: cloudwatch.Alarm | None = None
        # Construct ids are a contract: the copy machine's rule and alarm keep the ids they had before the share.
        if self.snapshot_copy is not None:
            self.failed_alarm = self._notify(
                self.snapshot_copy.state_machine, what="a snapshot copy", rule_id="ExecutionStatus",
                alarm_id="ExecutionsFailed",
            )  # fmt: skip
        if self.snapshot_share is not None:
            self.share_failed_alarm = self._notify(
                self.snapshot_share.state_machine, what="a snapshot share", rule_id="ShareExecutionStatus",
                alarm_id="ShareExecutionsFailed",
            )  # fmt: skip
        if self.snapshot_copy is not None:
            CfnOutput(self, "SnapshotCopyStateMachineArn", value=self.snapshot_copy.state_machine.state_machine_arn)
        if self.snapshot_share is not None:
            CfnOutput(self, "SnapshotShareStateMachineArn", value=self.snapshot_share.state_machine.state_machine_arn)
        CfnOutput(self, "NoticesTopicArn", value=self.topic.topic_arn)

    def _notify(self, machine: sfn.StateMachine, *, what: str, rule_id: str, alarm_id: str) -> cloudwatch.Alarm:
        """A notice on the topic for every finished execution of ``machine``, and an alarm (to the topic) when one
        fails, times out or is aborted."""
        topic: sns.ITopic = self.topic
        events.Rule(
            self,
            rule_id,
            description=f"kmsflow: {what} finished, failed, timed out or was aborted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"stateMachineArn": [machine.state_machine_arn], "status": NOTIFIED_STATUSES},
            ),
            targets=[cast(events.IRuleTarget, RuleToTopic(topic))],
        )
        alarm = cloudwatch.Alarm(
            self,
            alarm_id,
            alarm_description=f"kmsflow: {what} execution failed, timed out or was aborted",
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
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return alarm

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
