"""The trail's log bucket and the bucket that receives its server access logs, both hardened and retained."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsflow.constructs.access_logs import access_log_bucket
from kmsflow.constructs.nag.acknowledge import acknowledge

#: Why the access-log bucket is not itself logged, encrypted with KMS or replicated: the reasons a reviewer
#: reads beside each acknowledged finding.
ACCESS_LOG_BUCKET_REASONS = {
    "AwsSolutions::AwsSolutions-S1": "This bucket is the server access log target of the trail bucket; logging "
    "its own access would recurse. Access to it is covered by the CloudTrail trail's S3 management events.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled": "This bucket is the server access log target of "
    "the trail bucket; logging its own access would recurse.",
    "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS": "S3 server access logging delivers only to "
    "buckets with SSE-S3 default encryption (SSE-KMS targets are not supported), so this bucket uses SSE-S3.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled": "Access logs of the audit bucket are kept "
    "versioned and retained in this account; cross-region replication is not required for them.",
}
TRAIL_BUCKET_REASONS = {
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled": "The trail records every region (multi-region "
    "trail) into this one versioned, retained, KMS-encrypted bucket with log file validation; replicating it "
    "to a second region is a log-archive decision made outside this stack.",
}


class LogBuckets(Construct):
    """``trail_bucket`` (named ``bucket_name``; SSE-KMS with the audit key, versioned, SSL-only, public access
    blocked, lifecycle, server access logs to ``access_log_bucket``), both retained when the stack is deleted."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        bucket_name: str | None = None,
        transition_to_glacier_days: int | None,
        expire_days: int | None,
    ) -> None:
        super().__init__(scope, id)
        self.access_log_bucket = access_log_bucket(
            self, "AccessLogs", lifecycle_rules=[_lifecycle(transition_to_glacier_days, expire_days)]
        )
        acknowledge(self.access_log_bucket, ACCESS_LOG_BUCKET_REASONS)
        self.trail_bucket = s3.Bucket(
            self,
            "Trail",
            # A fixed name: trails of other accounts deliver here, and their stacks cannot reference this one.
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            # No S3 Bucket Key: with one, creating or updating an SSE-KMS trail needs kms:Decrypt ("Configure
            # AWS KMS key policies for CloudTrail"), which no principal has under root_access: admin, and the
            # encryption context of objects becomes the bucket ARN. CloudTrail writes a few objects per region
            # every five minutes, so per-object data keys cost little.
            bucket_key_enabled=False,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="trail-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[_lifecycle(transition_to_glacier_days, expire_days)],
        )
        acknowledge(self.trail_bucket, TRAIL_BUCKET_REASONS)


def _lifecycle(transition_days: int | None, expire_days: int | None) -> s3.LifecycleRule:
    transitions = (
        [s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(transition_days))]
        if transition_days
        else None
    )
    return s3.LifecycleRule(
        id="archive-then-expire",
        transitions=transitions,
        noncurrent_version_transitions=[
            s3.NoncurrentVersionTransition(
                storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(transition_days)
            )
        ]
        if transition_days
        else None,
        expiration=Duration.days(expire_days) if expire_days else None,
        noncurrent_version_expiration=Duration.days(expire_days) if expire_days else None,
        abort_incomplete_multipart_upload_after=Duration.days(7),
    )
