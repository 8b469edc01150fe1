"""The target bucket of S3 server access logs, as every kmsflow bucket that logs its access uses it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


def access_log_bucket(
    scope: Construct, id: str, *, lifecycle_rules: Sequence[s3.LifecycleRule] | None = None
) -> s3.Bucket:
    """A private, TLS-only, versioned, retained bucket with ACLs disabled, encrypted with SSE-S3: S3 server access
    logging delivers only to buckets with SSE-S3 default encryption (not SSE-KMS)."""
    return s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        lifecycle_rules=list(lifecycle_rules) if lifecycle_rules is not None else None,
    )
