"""``KmsAuditTrail``: a multi-region CloudTrail trail that records every KMS call, encrypted with its own key.

aws-cdk's ``Trail`` encrypts with a key it is given but adds nothing to that key's policy, so CloudTrail
cannot write (aws/aws-cdk#3822). Here the key policy is built with the trail: CloudTrail may generate data
keys only for this trail (``aws:SourceArn``) and only with CloudTrail's encryption context; CloudWatch Logs
may use the key only for this trail's log group; named auditors may decrypt log files, from this account.
Statements follow the CloudTrail User Guide, "Configure AWS KMS key policies for CloudTrail", and the
CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS".

The role through which CloudTrail delivers to CloudWatch Logs trusts ``cloudtrail.amazonaws.com`` without
``aws:SourceArn``/``aws:SourceAccount``: the CloudTrail User Guide ("Role policy document for CloudTrail to use
CloudWatch Logs for monitoring") says confused-deputy prevention does not apply to it and that it does not
support those keys, so a condition there could only stop delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsflow.constructs.audit.buckets import LogBuckets
from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey
from kmsflow.constructs.keys.service_statements import cloudwatch_logs_statement
from kmsflow.constructs.nag.acknowledge import acknowledge

CLOUDTRAIL = "cloudtrail.amazonaws.com"

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
    """The trail, its key (``key``), encrypted log group (``log_group``, ``None`` without CloudWatch Logs) and,
    in the account that holds the bucket, the buckets (``buckets``; ``None`` in a member account).

    The central trail (``bucket_account`` unset or this stack's account) owns the bucket ``bucket_name`` and
    lets the trails of ``member_accounts`` (same ``trail_name``, each in its own account) deliver into it,
    each only under ``AWSLogs/<its account>/`` and only from its own trail (``aws:SourceArn``). A member trail
    (``bucket_account`` another account) has its own key and log group and delivers to that bucket."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str,
        bucket_name: str,
        bucket_account: str | None = None,
        member_accounts: Sequence[str] = (),
        administrators: Sequence[iam.IPrincipal] = (),
        auditors: Sequence[iam.IPrincipal] = (),
        auditors_account: str | None = None,
        cloudwatch_logs: bool = True,
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
        self.trail_arn = trail_arn(partition, region, account, trail_name)
        self.log_group_name = f"/kmsflow/cloudtrail/{trail_name}"
        self.key = KmsflowKey(
            self,
            "Key",
            description=f"kmsflow: encrypts the CloudTrail trail {trail_name}, its log group and alarm topic",
            aliases=[f"alias/kmsflow/audit/{trail_name}"],
            policy=CustomKeyPolicy(
                administrators=administrators,
                statements=self._key_statements(
                    partition, auditors, auditors_account or account, cloudwatch_logs=cloudwatch_logs
                ),
            ),
            partition=partition,
        )
        central = bucket_account in (None, account)
        self.buckets: LogBuckets | None = None
        if central:
            self.buckets = LogBuckets(
                self,
                "Buckets",
                key=self.key.key,
                bucket_name=bucket_name,
                transition_to_glacier_days=transition_to_glacier_days,
                expire_days=expire_days,
            )
        self.log_group: logs.LogGroup | None = None
        if cloudwatch_logs:
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
        # The trail gets the bucket by name, so that aws-cdk adds none of its own bucket statements (they name
        # no trail); the bucket's statements are written below with aws:SourceArn.
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=s3.Bucket.from_bucket_name(self, "Destination", bucket_name),
            encryption_key=self.key.key,
            send_to_cloud_watch_logs=cloudwatch_logs,
            cloud_watch_log_group=self.log_group,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            is_organization_trail=organization_trail,
            org_id=organization_id,
        )
        if self.buckets is not None:
            writers = {account: self.trail_arn}
            writers.update({m: trail_arn(partition, region, m, trail_name) for m in member_accounts})
            if organization_trail and organization_id:
                writers[organization_id] = self.trail_arn  # AWSLogs/<organization id>/<account>/...
            self._allow_delivery(self.buckets.trail_bucket, writers)
            policy = self.buckets.trail_bucket.policy
            if policy is not None:  # CloudTrail checks the bucket policy when the trail is created
                self.trail.node.add_dependency(policy)
        if cloudwatch_logs:
            acknowledge(self.trail, LOGS_ROLE_REASONS)

    def _key_statements(
        self, partition: str, auditors: Sequence[iam.IPrincipal], auditors_account: str, *, cloudwatch_logs: bool
    ) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        account, region = stack.account, stack.region
        cloudtrail_context = f"arn:{partition}:cloudtrail:*:{account}:trail/*"
        statements = [
            iam.PolicyStatement(
                sid="CloudTrailEncryptLogs",
                principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceArn": self.trail_arn},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": cloudtrail_context},
                },
            ),
            iam.PolicyStatement(
                sid="CloudTrailDescribeKey",
                principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceArn": self.trail_arn}},
            ),
            # As documented for alarms that publish to an SNS topic encrypted with a customer managed key
            # (Amazon SNS Developer Guide, "Key management": "Enable compatibility between event sources from AWS
            # services and encrypted topics"): the service principal, with no condition keys documented.
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            ),
        ]
        if cloudwatch_logs:
            log_group_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{self.log_group_name}"
            statements.insert(
                2,
                cloudwatch_logs_statement(
                    sid="CloudWatchLogsForTrailLogGroup", region=region, log_group_arn=log_group_arn
                ),
            )
        if auditors:
            # Auditors may be of another account (the central audit account reading a member trail's files):
            # kms:CallerAccount names theirs.
            statements.append(
                iam.PolicyStatement(
                    sid="AuditorsDecryptLogFiles",
                    principals=list(auditors),
                    actions=["kms:Decrypt", "kms:ReEncryptFrom"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:CallerAccount": auditors_account},
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": cloudtrail_context},
                    },
                )
            )
        return statements

    @staticmethod
    def _allow_delivery(bucket: s3.Bucket, writers: Mapping[str, str]) -> None:
        """CloudTrail may read the bucket's ACL for, and write under ``AWSLogs/<prefix>/`` for, exactly the
        trails in ``writers`` (log prefix -> trail ARN), as the CloudTrail User Guide's "Amazon S3 bucket
        policy for CloudTrail" and "Setting bucket policy for multiple accounts" show (``aws:SourceArn``)."""
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailAclCheck",
                principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": {"aws:SourceArn": sorted(set(writers.values()))}},
            )
        )
        for prefix, arn in writers.items():
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"CloudTrailWrite{prefix.replace('-', '')}",
                    principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"AWSLogs/{prefix}/*")],
                    conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": arn}},
                )
            )


def trail_arn(partition: str, region: str, account: str, trail_name: str) -> str:
    """The ARN of a trail (its home region's): what ``aws:SourceArn`` carries in CloudTrail's requests."""
    return f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail_name}"
