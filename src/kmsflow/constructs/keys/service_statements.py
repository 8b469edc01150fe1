"""Key-policy statements for AWS services that use a key on kmsflow's behalf (CloudWatch Logs, topics)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

#: What CloudWatch Logs needs of a key that encrypts log groups (CloudWatch Logs User Guide, "Encrypt log
#: data in CloudWatch Logs using AWS KMS"), listed rather than wildcarded.
LOGS_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)


def cloudwatch_logs_statement(*, sid: str, region: str, log_group_arn: str) -> iam.PolicyStatement:
    """CloudWatch Logs of ``region`` may use the key only for log groups matching ``log_group_arn``
    (an exact ARN, or one ending in ``*``), through the ``aws:logs:arn`` encryption context."""
    operator = "ArnLike" if log_group_arn.endswith("*") else "ArnEquals"
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
        actions=list(LOGS_ACTIONS),
        resources=["*"],
        conditions={operator: {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
    )
