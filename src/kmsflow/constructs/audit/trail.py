"""``KmsAuditTrail``: a multi-region CloudTrail trail that records every KMS call, encrypted with its own key.

aws-cdk's ``Trail`` encrypts with a key it is given but adds nothing to that key's policy, so CloudTrail
cannot write (aws/aws-cdk#3822). Here the key policy is built with the trail: CloudTrail may generate data
keys only for this trail (``aws:SourceArn``) and only with CloudTrail's encryption context; CloudWatch Logs
may use the key only for this trail's log group; named auditors may decrypt log files, from this account.
Statements follow the CloudTrail User Guide, "Configure AWS KMS key policies for CloudTrail", and the
CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS".
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from kmsflow.constructs.audit.buckets import LogBuckets
from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey
from kmsflow.constructs.keys.service_statements import cloudwatch_logs_statement
from kmsflow.constructs.nag.acknowledge import acknowledge

#: Findings on the role through which CloudTrail delivers to CloudWatch Logs (made by aws-cdk's Trail).
LOGS_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "The CloudTrail-to-CloudWatch-Logs role may create log streams and put "
    "events in the streams of this trail's log group only (log-group:<name>:log-stream:*); CloudTrail "
    "chooses the stream names, so they cannot be listed in advance.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "The CloudTrail-to-CloudWatch-Logs role's only "
    "policy is inline so that it lives and dies with the trail; it grants logs:CreateLogStream and "
    "logs:PutLogEvents on this trail's log group and nothing else.",
}


class KmsAuditTrail(Construct):
    """The trail, its key (``key``), buckets (``buckets``) and encrypted log group (``log_group``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str,
        administrators: Sequence[iam.IPrincipal] = (),
        auditors: Sequence[iam.IPrincipal] = (),
        organization_trail: bool = False,
        organization_id: str | None = None,
        log_retention_days: int = 365,
        transition_to_glacier_days: int | None = 90,
        expire_days: int | None = 2557,
        partition: str = "aws",
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        account, region = stack.account, stack.region
        self.trail_arn = f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail_name}"
        self.log_group_name = f"/kmsflow/cloudtrail/{trail_name}"
        log_group_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{self.log_group_name}"
        cloudtrail_context = f"arn:{partition}:cloudtrail:*:{account}:trail/*"
        statements = [
            iam.PolicyStatement(
                sid="CloudTrailEncryptLogs",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceArn": self.trail_arn},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": cloudtrail_context},
                },
            ),
            iam.PolicyStatement(
                sid="CloudTrailDescribeKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceArn": self.trail_arn}},
            ),
            cloudwatch_logs_statement(sid="CloudWatchLogsForTrailLogGroup", region=region, log_group_arn=log_group_arn),
            # As documented for alarms that publish to an SNS topic encrypted with a customer managed key
            # (Amazon SNS Developer Guide, "Configuring AWS KMS permissions"): the service principal, no
            # condition keys, because CloudWatch does not pass aws:SourceArn/aws:SourceAccount to KMS here.
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            ),
        ]
        if auditors:
            statements.append(
                iam.PolicyStatement(
                    sid="AuditorsDecryptLogFiles",
                    principals=list(auditors),
                    actions=["kms:Decrypt", "kms:ReEncryptFrom"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:CallerAccount": account},
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": cloudtrail_context},
                    },
                )
            )
        self.key = KmsflowKey(
            self,
            "Key",
            description=f"kmsflow: encrypts the CloudTrail trail {trail_name}, its log group and alarm topic",
            aliases=[f"alias/kmsflow/audit/{trail_name}"],
            policy=CustomKeyPolicy(administrators=administrators, statements=statements),
            partition=partition,
        )
        self.buckets = LogBuckets(
            self,
            "Buckets",
            key=self.key.key,
            transition_to_glacier_days=transition_to_glacier_days,
            expire_days=expire_days,
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=self.log_group_name,
            encryption_key=self.key.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # RetentionDays is an enum of names; the configuration speaks in days (checked against
        # kmsflow.auditspec.LOG_RETENTION_DAYS), so the L1 property takes the number.
        cfn_log_group: logs.CfnLogGroup = self.log_group.node.default_child  # type: ignore[assignment]
        cfn_log_group.retention_in_days = log_retention_days
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.buckets.trail_bucket,
            encryption_key=self.key.key,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            is_organization_trail=organization_trail,
            org_id=organization_id,
        )
        # aws-cdk's Trail lets cloudtrail.amazonaws.com write AWSLogs/<account>/* without naming the trail;
        # this Deny makes any other trail's delivery fail (confused deputy, CloudTrail User Guide,
        # "Amazon S3 bucket policy for CloudTrail": aws:SourceArn).
        self.buckets.trail_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyOtherTrails",
                effect=iam.Effect.DENY,
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.buckets.trail_bucket.arn_for_objects("*")],
                conditions={"StringNotEquals": {"aws:SourceArn": self.trail_arn}},
            )
        )
        acknowledge(self.trail, LOGS_ROLE_REASONS)
