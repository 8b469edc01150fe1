"""The cross-account sharing extensions of moto (moto_sharing.py), each alone, and the harness's two-account API
(``h.session``, ``h.deploy_roles``, ``handler_account``) with a hand-written toy template."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from kmsflow.lambdas import aws_clients
from tests.support.moto_sharing import (
    EBS_KEY_NOT_ACCESSIBLE,
    REQUIRED_GRANT_OPERATIONS,
    SharingModel,
    aws_managed_key,
    caller_from_access_key,
)
from tests.support.sfn_harness import HarnessError, WorkflowHarness, handler_scope, in_handler
from tests.support.virtual_clock import VirtualClock

SOURCE, TARGET = "222222222222", "333333333333"
REGION, OTHER = "eu-west-1", "eu-central-1"
START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
COPIER = f"arn:aws:iam::{TARGET}:role/copier"
EXTERNAL_ID = "kmsflow-share-222222222222-eu-west-1"


# ------------------------------------------------------------------------------------------ fixtures


#: One botocore model loader for every session here (each new Session would parse the service models again).
_LOADER = botocore.loaders.create_loader()
_sessions: dict[tuple[str, str], boto3.Session] = {}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[SharingModel]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    _sessions.clear()
    with mock_aws(), SharingModel(VirtualClock(START), trust_applies=in_handler).install() as sharing:
        yield sharing
    _sessions.clear()


def session(role_arn: str, region: str = REGION) -> boto3.Session:
    """A session of ``role_arn``, assumed with the credentials of the environment (cached per test)."""
    if (role_arn, region) not in _sessions:
        creds = boto3.client("sts", region_name=region).assume_role(RoleArn=role_arn, RoleSessionName="test")
        new = boto3.Session(
            aws_access_key_id=creds["Credentials"]["AccessKeyId"],
            aws_secret_access_key=creds["Credentials"]["SecretAccessKey"],
            aws_session_token=creds["Credentials"]["SessionToken"],
            region_name=region,
        )
        new._session.register_component("data_loader", _LOADER)
        _sessions[role_arn, region] = new
    return _sessions[role_arn, region]


def admin(account: str, region: str = REGION) -> boto3.Session:
    return session(f"arn:aws:iam::{account}:role/admin", region)


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def make_role(account: str, name: str, trust: dict[str, Any], *, allow: list[dict[str, Any]] | None = None) -> str:
    iam = admin(account).client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    if allow is not None:
        document = {"Version": "2012-10-17", "Statement": allow}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return arn


def key(account: str, region: str = REGION, policy: dict[str, Any] | None = None) -> str:
    kms = admin(account, region).client("kms")
    params = {"Policy": json.dumps(policy)} if policy else {}
    return str(kms.create_key(**params)["KeyMetadata"]["Arn"])


def grant(
    key_arn: str, grantee: str = COPIER, operations: tuple[str, ...] = ("Decrypt", "CreateGrant", "DescribeKey")
) -> str:
    kms = admin(key_arn.split(":")[4], key_arn.split(":")[3]).client("kms")
    return str(kms.create_grant(KeyId=key_arn, GranteePrincipal=grantee, Operations=list(operations))["GrantId"])


def retire(key_arn: str, grant_id: str) -> None:
    admin(key_arn.split(":")[4], key_arn.split(":")[3]).client("kms").retire_grant(KeyId=key_arn, GrantId=grant_id)


def copier(region: str = REGION) -> boto3.Session:
    """The target account's copy role (moto IAM does not hold it: its IAM side counts as allowed)."""
    return session(COPIER, region)


def rds_snapshot(key_arn: str | None, region: str = REGION) -> str:
    rds = admin(SOURCE, region).client("rds")
    encryption = {"StorageEncrypted": True, "KmsKeyId": key_arn} if key_arn else {}
    rds.create_db_instance(
        DBInstanceIdentifier="db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="a-long-password",
        **encryption,
    )
    return str(
        rds.create_db_snapshot(DBInstanceIdentifier="db", DBSnapshotIdentifier="snap")["DBSnapshot"]["DBSnapshotArn"]
    )


def share_rds(snapshot_arn: str, accounts: list[str] | None = None) -> None:
    admin(SOURCE).client("rds").modify_db_snapshot_attribute(
        DBSnapshotIdentifier=snapshot_arn.rsplit(":", 1)[1], AttributeName="restore", ValuesToAdd=accounts or [TARGET]
    )


def copy_rds(source_arn: str, target_key: str, region: str = REGION, name: str = "copy") -> dict[str, Any]:
    return (
        copier(region)
        .client("rds")
        .copy_db_snapshot(  # type: ignore[no-any-return]
            SourceDBSnapshotIdentifier=source_arn,
            TargetDBSnapshotIdentifier=name,
            KmsKeyId=target_key,
            SourceRegion=REGION,
        )["DBSnapshot"]
    )


# ------------------------------------------------------------------------------------------ (a) trust


def trust_policy(principal_arn: str, external_id: str = EXTERNAL_ID) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": principal_arn},
                    "StringEquals": {"sts:ExternalId": external_id},
                },
            }
        ],
    }


def test_assume_role_in_a_handler_needs_the_trust_policy_and_the_callers_own_permission(model: SharingModel) -> None:
    lambda_trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    target = f"arn:aws:iam::{TARGET}:role/target-copy"
    may_assume = [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": target}]
    step = make_role(SOURCE, "step", lambda_trust, allow=may_assume)
    other = make_role(SOURCE, "other-step", lambda_trust, allow=may_assume)
    bare = make_role(
        SOURCE, "bare-step", lambda_trust, allow=[{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]
    )
    make_role(TARGET, "target-copy", trust_policy(step))

    def assume(caller: str, external_id: str | None, role: str = target) -> str:
        sts = session(caller).client("sts")
        params = {"RoleArn": role, "RoleSessionName": "copy"} | ({"ExternalId": external_id} if external_id else {})
        with handler_scope("pkg.mod.target_copy"):
            creds = sts.assume_role(**params)["Credentials"]
        return str(
            boto3.client(
                "sts",
                region_name=REGION,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            ).get_caller_identity()["Arn"]
        )

    assert assume(step, EXTERNAL_ID) == f"arn:aws:sts::{TARGET}:assumed-role/target-copy/copy"
    for caller, external_id, role in [
        (step, "wrong-id", target),
        (step, None, target),
        (other, EXTERNAL_ID, target),  # not the principal the trust names
        (step, EXTERNAL_ID, f"arn:aws:iam::{TARGET}:role/missing"),
    ]:
        with pytest.raises(ClientError) as refused:
            assume(caller, external_id, role)
        assert error_code(refused) == "AccessDenied"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        message = refused.value.response["Error"]["Message"]
        assert message == (
            f"User: arn:aws:sts::{SOURCE}:assumed-role/{caller.rsplit('/', 1)[1]}/test is not authorized to perform: "
            f"sts:AssumeRole on resource: {role}"
        )
    # Trusted by the role, but its own IAM policies do not allow sts:AssumeRole (cross-account: both must).
    admin(TARGET).client("iam").update_assume_role_policy(
        RoleName="target-copy", PolicyDocument=json.dumps(trust_policy(bare))
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        assume(bare, EXTERNAL_ID)
    assert len(model.refusals) == 5
    # Outside handlers nothing changes: moto assumes any role for anyone.
    session(other).client("sts").assume_role(RoleArn=target, RoleSessionName="test-setup")


# ----------------------------------------------------------------------------- (b, d) RDS and Aurora


def test_rds_copy_by_arn_of_a_shared_snapshot_needs_the_share_and_a_live_grant(model: SharingModel) -> None:
    source_key, target_key = key(SOURCE), key(TARGET)
    snapshot_arn = rds_snapshot(source_key)
    with pytest.raises(ClientError) as not_shared:
        copy_rds(snapshot_arn, target_key)
    assert error_code(not_shared) == "DBSnapshotNotFound"

    share_rds(snapshot_arn)
    with pytest.raises(ClientError) as no_grant:
        copy_rds(snapshot_arn, target_key)
    assert error_code(no_grant) == "KMSKeyNotAccessibleFault"
    assert no_grant.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    grant(source_key, operations=("Decrypt", "DescribeKey"))  # CreateGrant missing: not enough
    with pytest.raises(ClientError, match="KMSKeyNotAccessibleFault"):
        copy_rds(snapshot_arn, target_key)

    grant_id = grant(source_key)
    copied = copy_rds(snapshot_arn, target_key)
    assert copied["DBSnapshotArn"] == f"arn:aws:rds:{REGION}:{TARGET}:snapshot:copy"
    assert (copied["KmsKeyId"], copied["Encrypted"]) == (target_key, True)
    assert copier().client("rds").describe_db_snapshots(DBSnapshotIdentifier="copy")["DBSnapshots"]

    retire(source_key, grant_id)
    with pytest.raises(ClientError, match="KMSKeyNotAccessibleFault"):
        copy_rds(snapshot_arn, target_key, name="again")


def test_rds_copies_an_unencrypted_share_across_regions_in_one_step_but_not_an_encrypted_one(
    model: SharingModel,
) -> None:
    snapshot_arn = rds_snapshot(None)
    share_rds(snapshot_arn)
    copied = copy_rds(snapshot_arn, key(TARGET, OTHER), region=OTHER)
    assert copied["DBSnapshotArn"] == f"arn:aws:rds:{OTHER}:{TARGET}:snapshot:copy"

    admin(SOURCE).client("rds").delete_db_instance(DBInstanceIdentifier="db", SkipFinalSnapshot=True)
    admin(SOURCE).client("rds").delete_db_snapshot(DBSnapshotIdentifier="snap")
    source_key = key(SOURCE)
    encrypted = rds_snapshot(source_key)
    share_rds(encrypted)
    grant(source_key)
    with pytest.raises(ClientError) as cross_region:
        copy_rds(encrypted, key(TARGET, OTHER), region=OTHER, name="again")
    assert error_code(cross_region) == "InvalidParameterValue"
    assert copy_rds(encrypted, key(TARGET), name="again")["Encrypted"]


def test_a_key_policy_that_opens_the_key_to_the_account_allows_the_copy(model: SharingModel) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{TARGET}:root"},
                "Action": ["kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": f"rds.{REGION}.amazonaws.com"}},
            },
        ],
    }
    snapshot_arn = rds_snapshot(key(SOURCE, policy=policy))
    share_rds(snapshot_arn)
    assert copy_rds(snapshot_arn, key(TARGET))["Encrypted"]


def aurora_snapshot(key_arn: str) -> str:
    rds = admin(SOURCE).client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="cluster",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="a-long-password",
        StorageEncrypted=True,
        KmsKeyId=key_arn,
    )
    snapshot = rds.create_db_cluster_snapshot(DBClusterIdentifier="cluster", DBClusterSnapshotIdentifier="csnap")
    rds.modify_db_cluster_snapshot_attribute(
        DBClusterSnapshotIdentifier="csnap", AttributeName="restore", ValuesToAdd=[TARGET]
    )
    return str(snapshot["DBClusterSnapshot"]["DBClusterSnapshotArn"])


def test_aurora_copy_of_a_shared_cluster_snapshot_within_its_region_only(model: SharingModel) -> None:
    source_key = key(SOURCE)
    snapshot_arn = aurora_snapshot(source_key)

    def copy(region: str) -> dict[str, Any]:
        return (
            copier(region)
            .client("rds")
            .copy_db_cluster_snapshot(  # type: ignore[no-any-return]
                SourceDBClusterSnapshotIdentifier=snapshot_arn,
                TargetDBClusterSnapshotIdentifier="ccopy",
                KmsKeyId=key(TARGET, region),
                SourceRegion=REGION,
            )["DBClusterSnapshot"]
        )

    with pytest.raises(ClientError, match="KMSKeyNotAccessibleFault"):
        copy(REGION)
    grant(source_key)
    assert copy(REGION)["DBClusterSnapshotArn"] == f"arn:aws:rds:{REGION}:{TARGET}:cluster-snapshot:ccopy"
    with pytest.raises(ClientError) as cross_region:
        copy(OTHER)
    assert error_code(cross_region) == "InvalidParameterValue"
    assert "copy it in eu-west-1 first" in cross_region.value.response["Error"]["Message"]


# --------------------------------------------------------------------------------------------- (c) EBS


def ebs_snapshot(key_arn: str) -> str:
    ec2 = admin(SOURCE).client("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, Encrypted=True, KmsKeyId=key_arn)["VolumeId"]
    return str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])


def test_ebs_shared_snapshot_is_visible_and_copyable_with_a_grant(model: SharingModel) -> None:
    source_key, target_key = key(SOURCE), key(TARGET, OTHER)
    snapshot_id = ebs_snapshot(source_key)
    ec2 = copier().client("ec2")
    with pytest.raises(ClientError, match=r"InvalidSnapshot\.NotFound"):
        ec2.describe_snapshots(SnapshotIds=[snapshot_id])

    admin(SOURCE).client("ec2").modify_snapshot_attribute(  # the CreateVolumePermission form (g)
        SnapshotId=snapshot_id, Attribute="createVolumePermission", CreateVolumePermission={"Add": [{"UserId": TARGET}]}
    )
    (seen,) = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert (seen["OwnerId"], seen["Encrypted"]) == (SOURCE, True)

    def copy() -> dict[str, Any]:
        target = copier(OTHER).client("ec2")
        snapshot = target.copy_snapshot(
            SourceRegion=REGION, SourceSnapshotId=snapshot_id, Encrypted=True, KmsKeyId=target_key
        )["SnapshotId"]
        return target.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]  # type: ignore[no-any-return]

    failed = copy()  # accepted, then fails "silently", as on AWS
    assert (failed["State"], failed["StateMessage"]) == ("error", EBS_KEY_NOT_ACCESSIBLE)
    grant_id = grant(source_key)
    copied = copy()
    assert (copied["State"], copied["OwnerId"], copied["KmsKeyId"]) == ("completed", TARGET, target_key)
    retire(source_key, grant_id)
    assert copy()["State"] == "error"

    admin(SOURCE).client("ec2").modify_snapshot_attribute(
        SnapshotId=snapshot_id,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Remove": [{"UserId": TARGET}]},
    )
    with pytest.raises(ClientError, match=r"InvalidSnapshot\.NotFound"):
        ec2.describe_snapshots(SnapshotIds=[snapshot_id])


# ------------------------------------------------------------------------------ (e) grant propagation


def test_a_grant_counts_only_after_the_propagation_delay(model: SharingModel) -> None:
    assert model.clock is not None
    model.grant_delay_seconds = 300
    source_key, target_key = key(SOURCE), key(TARGET)
    snapshot_arn = rds_snapshot(source_key)
    share_rds(snapshot_arn)
    grant(source_key)
    model.clock.advance(299)
    with pytest.raises(ClientError, match="KMSKeyNotAccessibleFault"):
        copy_rds(snapshot_arn, target_key)
    model.clock.advance(1)
    assert copy_rds(snapshot_arn, target_key)["Encrypted"]


# -------------------------------------------------------------------------------- (f) AWS managed keys


def test_aws_managed_keys_cannot_be_shared_nor_opened(model: SharingModel) -> None:
    rds_key = aws_managed_key(admin(SOURCE), REGION, "rds")
    metadata = admin(SOURCE).client("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    assert (metadata["Arn"], metadata["KeyManager"]) == (rds_key, "AWS")
    snapshot_arn = rds_snapshot(rds_key)
    with pytest.raises(ClientError) as refused:
        share_rds(snapshot_arn)
    assert error_code(refused) == "InvalidParameterValue"

    ebs_key = aws_managed_key(admin(SOURCE), REGION, "ebs")
    snapshot_id = ebs_snapshot(ebs_key)
    with pytest.raises(ClientError, match="OperationNotPermitted"):
        admin(SOURCE).client("ec2").modify_snapshot_attribute(
            SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", UserIds=[TARGET]
        )
    # moto's own default keys (an encrypted volume without a key) are AWS managed as well.
    ec2 = admin(SOURCE).client("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, Encrypted=True)
    assert admin(SOURCE).client("kms").describe_key(KeyId=volume["KmsKeyId"])["KeyMetadata"]["KeyManager"] == "AWS"


def test_the_aws_managed_key_policy_never_lets_another_account_use_the_key(model: SharingModel) -> None:
    rds_key = aws_managed_key(admin(SOURCE), REGION, "rds")
    caller = session(COPIER)
    who = caller_from_access_key(caller.get_credentials().access_key)  # type: ignore[union-attr]
    reason = model.key_denial(who, rds_key, account=SOURCE, region=REGION, family="rds")
    assert reason is not None
    assert "implicit deny" in reason
    assert {"Decrypt", "CreateGrant", "DescribeKey"} == REQUIRED_GRANT_OPERATIONS


# ------------------------------------------------------------------------ harness: two accounts


def whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Toy handler: who it runs as, and (if asked) who it becomes through a role of another account."""
    region = event.get("region", "eu-west-1")
    me = aws_clients.client("sts", region=region).get_caller_identity()["Arn"]
    other = None
    if "assume" in event:
        other = aws_clients.client(
            "sts", region=region, role_arn=event["assume"], session_name="hop", external_id=event.get("external_id")
        ).get_caller_identity()["Arn"]
    return {"me": me, "other": other, "role_env": __import__("os").environ["TOY_ROLE"]}


def toy_template() -> dict[str, Any]:
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    return {
        "Resources": {
            "WhoRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "toy-who", "AssumeRolePolicyDocument": trust},
            },
            "WhoPolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "hop",
                    "Roles": [{"Ref": "WhoRole"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${Target}:role/toy-target"},
                            }
                        ],
                    },
                },
            },
            "WhoFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "toy-whoami",
                    "Handler": f"{__name__}.whoami",
                    "Runtime": "python3.12",
                    "Role": {"Fn::GetAtt": ["WhoRole", "Arn"]},
                    "Environment": {"Variables": {"TOY_ROLE": {"Fn::GetAtt": ["WhoRole", "Arn"]}}},
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "Definition": {
                        "StartAt": "Who",
                        "States": {
                            "Who": {"Type": "Task", "Resource": {"Fn::GetAtt": ["WhoFunction", "Arn"]}, "End": True}
                        },
                    },
                },
            },
        }
    }


def test_handlers_act_as_their_own_role_and_assume_only_what_trusts_them() -> None:
    template = toy_template()
    with WorkflowHarness(template, regions=[REGION], handler_account=SOURCE) as h:
        with pytest.raises(HarnessError, match=r"WhoPolicy\.PolicyDocument.*'Target'.*refs="):
            h.deploy_roles(template, SOURCE)
        roles = h.deploy_roles(template, SOURCE, refs={"Target": TARGET})
        assert roles == {"WhoRole": f"arn:aws:iam::{SOURCE}:role/toy-who"}
        assert h.session(TARGET).client("sts").get_caller_identity()["Account"] == TARGET
        h.session(TARGET).client("iam").create_role(
            RoleName="toy-target", AssumeRolePolicyDocument=json.dumps(trust_policy(roles["WhoRole"]))
        )

        alone = h.run(input={})
        assert alone.status == "SUCCEEDED", alone.cause
        assert alone.output["me"] == f"arn:aws:sts::{SOURCE}:assumed-role/toy-who/toy-whoami"
        assert alone.output["role_env"] == roles["WhoRole"]

        target = f"arn:aws:iam::{TARGET}:role/toy-target"
        hop = h.run(input={"assume": target, "external_id": EXTERNAL_ID})
        assert hop.status == "SUCCEEDED", hop.cause
        assert hop.output["other"] == f"arn:aws:sts::{TARGET}:assumed-role/toy-target/hop"

        refused = h.run(input={"assume": target, "external_id": "wrong"})
        assert (refused.status, refused.error) == ("FAILED", "ClientError")
        assert "AccessDenied" in str(refused.cause)


def test_without_handler_account_handlers_keep_moto_default_credentials() -> None:
    with WorkflowHarness(toy_template(), regions=[REGION]) as h:
        result = h.run(input={})
        assert result.status == "SUCCEEDED", result.cause
        assert result.output["me"] == "arn:aws:sts::123456789012:user/moto"
        assert result.output["role_env"] == "arn:aws:iam::123456789012:role/toy-who"
