"""What moto 5.2.5 does with the calls this workflow makes: the facts the handler and workflow tests rely on.

These tests pin moto's behaviour (not kmsflow's), so that a moto upgrade that changes it fails here, with a
clear name, instead of somewhere in a workflow test.
"""

from __future__ import annotations

import pytest

from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    SOURCE_REGION,
    World,
    client,
    make_source,
    make_world,
)


@pytest.mark.usefixtures("unpatched_aws")
def test_default_amis_are_off_so_no_snapshots_are_seeded() -> None:
    """With MOTO_EC2_LOAD_DEFAULT_AMIS=false set before mock_aws starts, EC2 holds no seeded snapshots."""
    for region in (SOURCE_REGION, DESTINATION_REGION):
        assert client("ec2", region).describe_snapshots(OwnerIds=["self"])["Snapshots"] == []


@pytest.mark.usefixtures("unpatched_aws")
def test_unpatched_moto_omits_the_kms_key_of_an_ebs_snapshot() -> None:
    """moto gap: CreateSnapshot of an encrypted volume gives Encrypted=true but no KmsKeyId (AWS: the volume's key)."""
    world = make_world()
    snapshot_id = make_source(world, "ebs-snapshot")
    snapshot = client("ec2", SOURCE_REGION).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert snapshot["Encrypted"] is True
    assert "KmsKeyId" not in snapshot


def test_the_fixture_patch_reports_the_volume_key(world: World) -> None:
    """The conftest patch closes that gap: the snapshot reports the volume's key."""
    snapshot_id = make_source(world, "ebs-snapshot")
    snapshot = client("ec2", SOURCE_REGION).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert snapshot["KmsKeyId"] == world.source_key


@pytest.mark.usefixtures("aws")
def test_kms_omits_key_usage_of_a_key_created_without_it() -> None:
    """moto returns no KeyUsage for create_key() without KeyUsage (AWS: ENCRYPT_DECRYPT); KeySpec is there."""
    kms = client("kms", DESTINATION_REGION)
    metadata = kms.describe_key(KeyId=kms.create_key()["KeyMetadata"]["KeyId"])["KeyMetadata"]
    assert "KeyUsage" not in metadata
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"


def test_cross_region_copies_are_available_at_once_and_record_the_new_key(world: World) -> None:
    """RDS, Aurora and EBS copies across regions: status available/completed at once, KmsKeyId = the key given."""
    rds, ec2 = client("rds", DESTINATION_REGION), client("ec2", DESTINATION_REGION)
    db_snapshot = client("rds", SOURCE_REGION).describe_db_snapshots(
        DBSnapshotIdentifier=make_source(world, "rds-snapshot", name="f1")
    )["DBSnapshots"][0]
    copy = rds.copy_db_snapshot(
        SourceDBSnapshotIdentifier=db_snapshot["DBSnapshotArn"],
        TargetDBSnapshotIdentifier="c1",
        KmsKeyId=world.destination_key,
        SourceRegion=SOURCE_REGION,
    )["DBSnapshot"]
    assert (copy["Status"], copy["KmsKeyId"]) == ("available", world.destination_key)
    cluster_snapshot = client("rds", SOURCE_REGION).describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=make_source(world, "aurora-cluster-snapshot", name="f2")
    )["DBClusterSnapshots"][0]
    cluster_copy = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=cluster_snapshot["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="c2",
        KmsKeyId=world.destination_key,
        SourceRegion=SOURCE_REGION,
    )["DBClusterSnapshot"]
    assert (cluster_copy["Status"], cluster_copy["KmsKeyId"]) == ("available", world.destination_key)
    ebs_copy_id = ec2.copy_snapshot(
        SourceRegion=SOURCE_REGION,
        SourceSnapshotId=make_source(world, "ebs-snapshot"),
        Encrypted=True,
        KmsKeyId=world.destination_key,
    )["SnapshotId"]
    ebs_copy = ec2.describe_snapshots(SnapshotIds=[ebs_copy_id])["Snapshots"][0]
    assert (ebs_copy["State"], ebs_copy["KmsKeyId"]) == ("completed", world.destination_key)


def test_moto_encrypts_an_unencrypted_cluster_snapshot_on_copy_which_aws_refuses(world: World) -> None:
    """moto accepts CopyDBClusterSnapshot of an unencrypted snapshot with KmsKeyId and encrypts the copy; AWS
    returns an error ("If you copy an unencrypted DB cluster snapshot and specify a value for the KmsKeyId
    parameter, an error is returned"). kmsflow refuses such a source itself (UnencryptedSourceNotSupported)."""
    snapshot_id = make_source(world, "aurora-cluster-snapshot", encrypted=False)
    source = client("rds", SOURCE_REGION).describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)
    arn = source["DBClusterSnapshots"][0]["DBClusterSnapshotArn"]
    assert source["DBClusterSnapshots"][0]["StorageEncrypted"] is False
    copy = client("rds", DESTINATION_REGION).copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=arn,
        TargetDBClusterSnapshotIdentifier="c3",
        KmsKeyId=world.destination_key,
        SourceRegion=SOURCE_REGION,
    )["DBClusterSnapshot"]
    assert copy["StorageEncrypted"] is True


def test_rds_snapshots_are_not_described_by_arn_in_moto(world: World) -> None:
    """moto's DescribeDBSnapshots finds a snapshot by name only, so kmsflow reduces an input ARN to the name."""
    snapshot_id = make_source(world, "rds-snapshot")
    arn = f"arn:aws:rds:{SOURCE_REGION}:123456789012:snapshot:{snapshot_id}"
    with pytest.raises(client("rds", SOURCE_REGION).exceptions.DBSnapshotNotFoundFault):
        client("rds", SOURCE_REGION).describe_db_snapshots(DBSnapshotIdentifier=arn)
