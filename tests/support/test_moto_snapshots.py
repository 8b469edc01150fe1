"""The snapshot patch: moto's RDS, Aurora and EBS snapshots take virtual time to create and to copy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.rds.models import DBSnapshot, rds_backends

from tests.support.moto_snapshots import SnapshotTimings, silent_progress
from tests.support.virtual_clock import VirtualClock

REGION, OTHER = "eu-west-1", "eu-central-1"
ACCOUNT = "123456789012"  # moto's default
START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def timings(monkeypatch: pytest.MonkeyPatch) -> Iterator[SnapshotTimings]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws(), SnapshotTimings(VirtualClock(START)).install() as timings:
        yield timings


def rds_instance(region: str = REGION) -> None:
    boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier="db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="a-long-password",
    )


def rds_snapshot(snapshot_id: str, region: str = REGION) -> dict[str, object]:
    rds = boto3.client("rds", region_name=region)
    return rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]  # type: ignore[no-any-return]


def test_rds_snapshot_is_creating_until_its_duration_has_passed(timings: SnapshotTimings) -> None:
    timings.set_duration("rds-snapshot", 600)
    rds_instance()
    created = boto3.client("rds", region_name=REGION).create_db_snapshot(
        DBInstanceIdentifier="db", DBSnapshotIdentifier="snap"
    )["DBSnapshot"]
    assert (created["Status"], created["PercentProgress"]) == ("creating", 0)
    assert created["SnapshotCreateTime"] == START

    timings.clock.advance(300)
    snapshot = rds_snapshot("snap")
    assert (snapshot["Status"], snapshot["PercentProgress"]) == ("creating", 50)
    timings.clock.advance(300)
    snapshot = rds_snapshot("snap")
    assert (snapshot["Status"], snapshot["PercentProgress"]) == ("available", 100)


def test_rds_copy_is_copying_for_its_own_duration(timings: SnapshotTimings) -> None:
    timings.set_duration("rds-snapshot", 60, copy_seconds=3600)
    rds_instance()
    source = boto3.client("rds", region_name=REGION).create_db_snapshot(
        DBInstanceIdentifier="db", DBSnapshotIdentifier="snap"
    )["DBSnapshot"]
    timings.clock.advance(60)
    copy = boto3.client("rds", region_name=OTHER).copy_db_snapshot(
        SourceDBSnapshotIdentifier=source["DBSnapshotArn"], TargetDBSnapshotIdentifier="copy", SourceRegion=REGION
    )["DBSnapshot"]
    assert copy["Status"] == "copying"
    timings.clock.advance(3599)
    assert rds_snapshot("copy", OTHER)["Status"] == "copying"
    timings.clock.advance(1)
    assert rds_snapshot("copy", OTHER)["Status"] == "available"


def test_aurora_cluster_snapshots_are_creating_then_copying(timings: SnapshotTimings) -> None:
    timings.set_duration("aurora-cluster-snapshot", 100, copy_seconds=200)
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_cluster(
        DBClusterIdentifier="cluster",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="a-long-password",
    )
    created = rds.create_db_cluster_snapshot(DBClusterIdentifier="cluster", DBClusterSnapshotIdentifier="snap")
    assert created["DBClusterSnapshot"]["Status"] == "creating"
    timings.clock.advance(100)
    copied = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier="snap", TargetDBClusterSnapshotIdentifier="copy"
    )["DBClusterSnapshot"]
    assert (copied["Status"], copied["PercentProgress"]) == ("copying", 0)
    timings.clock.advance(150)
    found = {
        s["DBClusterSnapshotIdentifier"]: (s["Status"], s["PercentProgress"])
        for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    }
    assert found == {"snap": ("available", 100), "copy": ("copying", 75)}


def test_ebs_snapshots_are_pending_with_progress(timings: SnapshotTimings) -> None:
    timings.set_duration("ebs-snapshot", 400)
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)
    assert (snapshot["State"], snapshot["Progress"]) == ("pending", "0%")
    timings.clock.advance(100)
    pending = ec2.describe_snapshots(Filters=[{"Name": "status", "Values": ["pending"]}])["Snapshots"]
    assert [(s["SnapshotId"], s["Progress"]) for s in pending] == [(snapshot["SnapshotId"], "25%")]
    copy_id = boto3.client("ec2", region_name=OTHER).copy_snapshot(
        SourceSnapshotId=snapshot["SnapshotId"], SourceRegion=REGION
    )["SnapshotId"]
    timings.clock.advance(300)
    assert ec2.describe_snapshots(SnapshotIds=[snapshot["SnapshotId"]])["Snapshots"][0]["State"] == "completed"
    copy = boto3.client("ec2", region_name=OTHER).describe_snapshots(SnapshotIds=[copy_id])["Snapshots"][0]
    assert (copy["State"], copy["Progress"]) == ("pending", "75%")


def test_a_silent_curve_reports_0_until_the_snapshot_is_done(timings: SnapshotTimings) -> None:
    timings.set_duration("rds-snapshot", 400)
    timings.progress_curve = silent_progress
    rds_instance()
    boto3.client("rds", region_name=REGION).create_db_snapshot(DBSnapshotIdentifier="quiet", DBInstanceIdentifier="db")
    timings.clock.advance(399)
    assert (rds_snapshot("quiet")["Status"], rds_snapshot("quiet")["PercentProgress"]) == ("creating", 0)
    timings.clock.advance(1)
    assert (rds_snapshot("quiet")["Status"], rds_snapshot("quiet")["PercentProgress"]) == ("available", 100)


def test_without_a_duration_snapshots_are_available_at_once(timings: SnapshotTimings) -> None:
    rds_instance()
    created = boto3.client("rds", region_name=REGION).create_db_snapshot(
        DBInstanceIdentifier="db", DBSnapshotIdentifier="snap"
    )["DBSnapshot"]
    assert (created["Status"], created["PercentProgress"]) == ("available", 100)


def test_a_status_moto_sets_later_wins(timings: SnapshotTimings) -> None:
    timings.set_duration("rds-snapshot", 600)
    rds_instance()
    boto3.client("rds", region_name=REGION).create_db_snapshot(DBInstanceIdentifier="db", DBSnapshotIdentifier="snap")
    rds_backends[ACCOUNT][REGION].database_snapshots["snap"].status = "failed"
    assert rds_snapshot("snap")["Status"] == "failed"


def test_the_patch_is_undone_on_exit() -> None:
    timings = SnapshotTimings(VirtualClock(START))
    timings.set_duration("rds-snapshot", 600)
    with mock_aws():
        rds_instance()
        with timings.install():
            assert isinstance(vars(DBSnapshot)["status"], property)
            boto3.client("rds", region_name=REGION).create_db_snapshot(
                DBInstanceIdentifier="db", DBSnapshotIdentifier="snap"
            )
            assert rds_snapshot("snap")["Status"] == "creating"
        assert "status" not in vars(DBSnapshot)
        assert rds_snapshot("snap")["Status"] == "available"  # moto's own value again


def test_durations_are_checked() -> None:
    timings = SnapshotTimings(VirtualClock(START))
    with pytest.raises(ValueError, match="unknown snapshot kind"):
        timings.set_duration("fsx-snapshot", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        timings.set_duration("ebs-snapshot", 1, copy_seconds=-1)
    timings.set_duration("ebs-snapshot", 5)
    assert (timings.duration("ebs-snapshot", "create"), timings.duration("ebs-snapshot", "copy")) == (5, 5)
