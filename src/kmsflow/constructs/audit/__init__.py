"""The audit of every KMS call: a CloudTrail trail with its key, buckets and log group, and alarms."""

from kmsflow.constructs.audit.alarms import KmsAlarms
from kmsflow.constructs.audit.buckets import LogBuckets
from kmsflow.constructs.audit.trail import KmsAuditTrail

__all__ = ["KmsAlarms", "KmsAuditTrail", "LogBuckets"]
