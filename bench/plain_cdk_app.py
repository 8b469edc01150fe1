"""The benchmark baseline: kmsflow's default app (``kmsflow.yaml``) written by hand with plain aws-cdk-lib.

Same stacks, keys, aliases, replica (through a cross-region reference), outputs, key-policy statements,
tags, feature flags and cdk-nag packs (AwsSolutions and NIST 800-53 R5; kmsflow's own pack has no plain-CDK
equivalent). No kmsflow import: this is what a user would write without kmsflow.
``bench/synth_bench.py`` checks that its templates are equivalent to kmsflow's before timing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import Construct

#: Copied literally from kmsflow.app.FEATURE_FLAGS (a baseline must not import kmsflow).
FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope": True,
    "@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/core:target-partitions": ["aws", "aws-cn", "aws-us-gov"],
    "@aws-cdk/core:validationReportJson": True,
    # Replicas reference their primary across regions; keep CDK's producer-protecting behaviour explicitly.
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
}

SECURITY = "111111111111"
WORKLOADS = "222222222222"
PARTNER = "333333333333"
PRIMARY = "eu-west-1"
SECONDARY = "eu-central-1"
TAGS = {"project": "kmsflow", "managed-by": "kmsflow"}

# Key-policy actions.
ADMIN = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:GetKeyPolicy",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
ADMIN_ROTATION = [
    "kms:DisableKeyRotation",
    "kms:EnableKeyRotation",
    "kms:GetKeyRotationStatus",
    "kms:ListKeyRotations",
    "kms:RotateKeyOnDemand",
]
ADMIN_MULTI_REGION = ["kms:ReplicateKey", "kms:UpdatePrimaryRegion"]
ENCRYPT_DECRYPT = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]
SIGN = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
VERIFY = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"]
MAC = ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]
GRANTS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]


def arn(account: str, resource: str) -> str:
    return f"arn:aws:iam::{account}:{resource}"


def allow(
    sid: str, principal: str, actions: Sequence[str], conditions: dict[str, Any] | None = None
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.ArnPrincipal(principal)],
        actions=sorted(actions),
        resources=["*"],
        conditions=conditions,
    )


def admins(account: str, actions: Sequence[str]) -> list[iam.PolicyStatement]:
    """The account root and the KeyAdministrator role administer the key (no cryptographic use)."""
    return [
        allow("RootAccountAdministration", arn(account, "root"), actions),
        allow("KeyAdministrators", arn(account, "role/KeyAdministrator"), actions),
    ]


def via(*services: str, region: str = PRIMARY) -> list[str]:
    return [f"{service}.{region}.amazonaws.com" for service in services]


def grant_for_aws_resources(sid: str, principal: str, extra: dict[str, Any] | None = None) -> iam.PolicyStatement:
    return allow(sid, principal, GRANTS, {"Bool": {"kms:GrantIsForAWSResource": "true"}, **(extra or {})})


def add_key(
    stack: cdk.Stack,
    name: str,
    *,
    description: str,
    alias: str,
    statements: list[iam.PolicyStatement],
    spec: kms.KeySpec = kms.KeySpec.SYMMETRIC_DEFAULT,
    usage: kms.KeyUsage = kms.KeyUsage.ENCRYPT_DECRYPT,
    rotation_days: int | None = None,
    multi_region: bool = False,
) -> kms.Key:
    key = kms.Key(
        stack,
        name,
        description=description,
        key_spec=spec,
        key_usage=usage,
        enabled=True,
        enable_key_rotation=rotation_days is not None,
        rotation_period=cdk.Duration.days(rotation_days) if rotation_days else None,
        pending_window=cdk.Duration.days(30),
        multi_region=multi_region or None,
        policy=iam.PolicyDocument(statements=statements),
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    kms.Alias(stack, f"{name}-alias", alias_name=alias, target_key=key)
    cdk.CfnOutput(stack, f"{name}-arn", value=key.key_arn, description=f"ARN of the kmsflow key {name!r}")
    return key


def keys_stack(scope: Construct, account_name: str, region_name: str, *, cross_region: bool) -> cdk.Stack:
    name = f"kmsflow-keys-{account_name}-{region_name}"
    return cdk.Stack(
        scope,
        name,
        stack_name=name,
        description=f"kmsflow: customer managed KMS keys of account {account_name!r} in region {region_name!r}",
        env=cdk.Environment(
            account={"security": SECURITY, "workloads": WORKLOADS, "partner": PARTNER}[account_name],
            region={"primary": PRIMARY, "secondary": SECONDARY}[region_name],
        ),
        cross_region_references=cross_region,
    )


def build_app(*, outdir: str | None = None, nag: bool = True) -> cdk.App:
    """The whole app, ready for ``app.synth()``."""
    app = cdk.App(outdir=outdir, context=dict(FEATURE_FLAGS), analytics_reporting=False)
    security = keys_stack(app, "security", "primary", cross_region=True)
    security_secondary = keys_stack(app, "security", "secondary", cross_region=True)
    workloads = keys_stack(app, "workloads", "primary", cross_region=False)
    workloads_secondary = keys_stack(app, "workloads", "secondary", cross_region=False)

    data_processor = arn(SECURITY, "role/DataProcessor")
    app_runtime = arn(SECURITY, "role/AppRuntime")
    add_key(
        security,
        "data",
        description="Application data (S3 objects, RDS databases, EBS volumes)",
        alias="alias/kmsflow/data",
        rotation_days=180,
        statements=[
            *admins(SECURITY, ADMIN + ADMIN_ROTATION),
            allow("KeyUsers", data_processor, ENCRYPT_DECRYPT),
            allow(
                "ServiceUsersViaService",
                app_runtime,
                ENCRYPT_DECRYPT,
                {"StringEquals": {"kms:ViaService": via("s3", "rds", "ec2")}},
            ),
            grant_for_aws_resources(
                "ServiceUsersGrantsForAwsResources",
                app_runtime,
                {"StringEquals": {"kms:ViaService": via("s3", "rds", "ec2")}},
            ),
        ],
    )
    add_key(
        security,
        "release-signing",
        description="Signs release artifacts",
        alias="alias/kmsflow/release-signing",
        spec=kms.KeySpec.RSA_3072,
        usage=kms.KeyUsage.SIGN_VERIFY,
        statements=[
            *admins(SECURITY, [*ADMIN, "kms:GetPublicKey"]),
            allow("Signers", arn(SECURITY, "role/ReleaseSigner"), SIGN),
            allow("Verifiers", arn(SECURITY, "role/DeployVerifier"), VERIFY),
        ],
    )
    add_key(
        security,
        "session-tokens",
        description="HMAC for session tokens",
        alias="alias/kmsflow/session-tokens",
        spec=kms.KeySpec.HMAC_256,
        usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
        statements=[*admins(SECURITY, ADMIN), allow("MacUsers", arn(SECURITY, "role/TokenService"), MAC)],
    )

    def global_data_statements() -> list[iam.PolicyStatement]:
        return [
            *admins(SECURITY, ADMIN + ADMIN_ROTATION + ADMIN_MULTI_REGION),
            allow("KeyUsers", data_processor, ENCRYPT_DECRYPT),
        ]

    global_data = add_key(
        security,
        "global-data",
        description="Data replicated across regions",
        alias="alias/kmsflow/global-data",
        rotation_days=365,
        multi_region=True,
        statements=global_data_statements(),
    )
    # The replica in the secondary region: CDK carries the primary's ARN across regions (SSM parameters).
    replica = kms.CfnReplicaKey(
        security_secondary,
        "global-data",
        primary_key_arn=global_data.key_arn,
        key_policy=iam.PolicyDocument(statements=global_data_statements()),
        description="Data replicated across regions",
        enabled=True,
        pending_window_in_days=30,
    )
    replica.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    kms.CfnAlias(
        security_secondary,
        "global-data-alias",
        alias_name="alias/kmsflow/global-data",
        target_key_id=replica.attr_key_id,
    )
    cdk.CfnOutput(
        security_secondary,
        "global-data-arn",
        value=replica.attr_arn,
        description="ARN of the kmsflow key 'global-data'",
    )

    add_key(
        workloads,
        "workloads-default",
        description="General-purpose key governed by IAM policies of the workloads account",
        alias="alias/kmsflow/workloads",
        rotation_days=365,
        statements=[allow("EnableIamPolicies", arn(WORKLOADS, "root"), ["kms:*"])],
    )
    backup_operator = arn(WORKLOADS, "role/BackupOperator")
    add_key(
        workloads,
        "shared-snapshots",
        description="Encrypts snapshots shared with the partner account",
        alias="alias/kmsflow/shared-snapshots",
        rotation_days=365,
        statements=[
            *admins(WORKLOADS, ADMIN + ADMIN_ROTATION),
            allow(
                "ServiceUsersViaService",
                backup_operator,
                ENCRYPT_DECRYPT,
                {"StringEquals": {"kms:ViaService": via("rds", "ec2")}},
            ),
            grant_for_aws_resources(
                "ServiceUsersGrantsForAwsResources",
                backup_operator,
                {"StringEquals": {"kms:ViaService": via("rds", "ec2")}},
            ),
        ],
    )

    # Its users come from the snapshot-copy workflow's grants, and the workflows are left out of this
    # comparison (as in bench/synth_bench.py's keys_only): administrators only.
    add_key(
        workloads_secondary,
        "dr-snapshots",
        description="Re-encrypts snapshots copied into the secondary region",
        alias="alias/kmsflow/dr-snapshots",
        rotation_days=365,
        statements=[*admins(WORKLOADS, ADMIN + ADMIN_ROTATION)],
    )

    # The partner's multi-region key for its copies of shared snapshots (its users come from the share
    # workflow's grant helpers, left out here like the workflows): administrators only, primary and replica.
    partner = keys_stack(app, "partner", "primary", cross_region=True)
    partner_secondary = keys_stack(app, "partner", "secondary", cross_region=True)

    def partner_statements() -> list[iam.PolicyStatement]:
        return [*admins(PARTNER, ADMIN + ADMIN_ROTATION + ADMIN_MULTI_REGION)]

    partner_key = add_key(
        partner,
        "partner-snapshots",
        description="Encrypts the partner's copies of snapshots shared by the workloads account",
        alias="alias/kmsflow/partner-snapshots",
        rotation_days=365,
        multi_region=True,
        statements=partner_statements(),
    )
    partner_replica = kms.CfnReplicaKey(
        partner_secondary,
        "partner-snapshots",
        primary_key_arn=partner_key.key_arn,
        key_policy=iam.PolicyDocument(statements=partner_statements()),
        description="Encrypts the partner's copies of snapshots shared by the workloads account",
        enabled=True,
        pending_window_in_days=30,
    )
    partner_replica.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    kms.CfnAlias(
        partner_secondary,
        "partner-snapshots-alias",
        alias_name="alias/kmsflow/partner-snapshots",
        target_key_id=partner_replica.attr_key_id,
    )
    cdk.CfnOutput(
        partner_secondary,
        "partner-snapshots-arn",
        value=partner_replica.attr_arn,
        description="ARN of the kmsflow key 'partner-snapshots'",
    )

    for tag, value in TAGS.items():
        cdk.Tags.of(app).add(tag, value)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
