"""Every kind of source through every step, against moto in two regions (eu-west-1 -> eu-central-1).

moto makes snapshots and copies available at once, so each status check answers ``available`` on its first
call; the pending paths are in ``test_steps.py`` (they put moto's model into a pending state).
"""

from __future__ import annotations

import pytest

from kmsflow import __version__
from kmsflow.lambdas.errors import UnencryptedSourceNotSupported
from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.job import copy_snapshot_id, source_snapshot_id
from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    FAMILY,
    KINDS,
    SOURCE_REGION,
    World,
    client,
    execution,
    job_input,
    make_source,
    manual_snapshots,
    run,
    snapshot_id_of,
    tags_of,
)


def destination_key_of(family: str, snapshot_id: str) -> str:
    """The KmsKeyId that the destination region reports for the copy."""
    if family == "rds":
        return str(
            client("rds", DESTINATION_REGION).describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0][
                "KmsKeyId"
            ]
        )
    if family == "aurora":
        response = client("rds", DESTINATION_REGION).describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=snapshot_id
        )
        return str(response["DBClusterSnapshots"][0]["KmsKeyId"])
    return str(
        client("ec2", DESTINATION_REGION).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["KmsKeyId"]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_copied_under_the_destination_key(world: World, kind: str) -> None:
    family = FAMILY[kind]
    source_id = make_source(world, kind)
    job, out = run(job_input(kind, source_id, world.destination_key, tags={"team": "db"}))

    copies = manual_snapshots(family, DESTINATION_REGION)
    assert [snapshot_id_of(family, item) for item in copies] == [out["destination"]["snapshot_id"]]
    assert destination_key_of(family, out["destination"]["snapshot_id"]) == world.destination_key
    assert out == {
        "source": {
            "kind": kind,
            "id": source_id,
            "region": SOURCE_REGION,
            "snapshot_arn": job["source"]["snapshot_arn"],
            "kms_key_id": world.source_key,
            "deleted": False,
        },
        "destination": {
            "region": DESTINATION_REGION,
            "snapshot_id": job["destination"]["snapshot_id"],
            "snapshot_arn": job["destination"]["snapshot_arn"],
            "kms_key_id": world.destination_key,
        },
        "job_id": job["job_id"],
        "execution": {"id": execution()["Id"], "name": "run-1"},
    }
    if family != "ebs":
        assert out["destination"]["snapshot_id"] == copy_snapshot_id(job)
        assert out["destination"]["snapshot_arn"].startswith(f"arn:aws:rds:{DESTINATION_REGION}:")
    else:
        assert (
            out["destination"]["snapshot_arn"]
            == f"arn:aws:ec2:{DESTINATION_REGION}::snapshot/{out['destination']['snapshot_id']}"
        )
    tags = tags_of(family, DESTINATION_REGION, out["destination"]["snapshot_id"])
    assert {key: value for key, value in tags.items() if key != "Name"} == {
        "team": "db",
        "kmsflow:job-id": job["job_id"],
        "kmsflow:source-arn": job["source"]["snapshot_arn"],
        "kmsflow:source-key": world.source_key,
        "kmsflow:execution": execution()["Id"],
        "kmsflow:version": __version__,
    }


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster", "ebs-volume"])
def test_an_instance_cluster_or_volume_is_snapshotted_first_and_the_snapshot_kept(world: World, kind: str) -> None:
    family = FAMILY[kind]
    job, out = run(job_input(kind, make_source(world, kind), world.destination_key))
    assert job["source"]["created"] is True
    sources = manual_snapshots(family, SOURCE_REGION)
    assert [snapshot_id_of(family, item) for item in sources] == [job["source"]["snapshot_id"]]
    assert tags_of(family, SOURCE_REGION, job["source"]["snapshot_id"])["kmsflow:job-id"] == job["job_id"]
    if family != "ebs":
        assert job["source"]["snapshot_id"] == source_snapshot_id(job)
    assert out["source"]["deleted"] is False


@pytest.mark.parametrize("kind", ["rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"])
def test_a_given_snapshot_is_copied_as_is(world: World, kind: str) -> None:
    source_id = make_source(world, kind)
    job, _ = run(job_input(kind, source_id, world.destination_key))
    assert job["source"]["created"] is False
    assert job["source"]["snapshot_id"] == source_id


def test_a_source_given_by_arn_is_found(world: World) -> None:
    source_id = make_source(world, "rds-snapshot")
    arn = f"arn:aws:rds:{SOURCE_REGION}:123456789012:snapshot:{source_id}"
    job, out = run(job_input("rds-snapshot", arn, world.destination_key))
    assert job["source"]["snapshot_id"] == source_id
    assert out["source"]["snapshot_arn"] == arn


def test_an_alias_arn_resolves_to_the_key(world: World) -> None:
    job, out = run(job_input("ebs-volume", make_source(world, "ebs-volume"), world.destination_alias))
    assert job["destination"]["kms_key_id"] == world.destination_alias
    assert job["destination"]["kms_key_arn"] == world.destination_key
    assert out["destination"]["kms_key_id"] == world.destination_key
    assert destination_key_of("ebs", out["destination"]["snapshot_id"]) == world.destination_key


@pytest.mark.parametrize("kind", ["rds-instance", "rds-snapshot", "ebs-volume", "ebs-snapshot"])
def test_an_unencrypted_source_is_copied_encrypted_under_the_destination_key(world: World, kind: str) -> None:
    """RDS DB snapshots and EBS snapshots: AWS encrypts the copy of an unencrypted snapshot given a key."""
    job, out = run(job_input(kind, make_source(world, kind, encrypted=False), world.destination_key))
    assert job["source"]["kms_key_id"] is None
    assert out["source"]["kms_key_id"] is None
    assert destination_key_of(FAMILY[kind], out["destination"]["snapshot_id"]) == world.destination_key
    assert tags_of(FAMILY[kind], DESTINATION_REGION, out["destination"]["snapshot_id"])["kmsflow:source-key"] == "none"


@pytest.mark.parametrize("kind", ["aurora-cluster", "aurora-cluster-snapshot"])
def test_an_unencrypted_aurora_source_is_refused_before_anything_is_made(world: World, kind: str) -> None:
    """AWS cannot encrypt a DB cluster snapshot while copying it (moto can: see test_moto_facts), so kmsflow
    refuses an unencrypted cluster before snapshotting it, and an unencrypted cluster snapshot before copying."""
    source_id = make_source(world, kind, encrypted=False)
    before = manual_snapshots("aurora", SOURCE_REGION)
    job = handlers.validate(
        {"input": job_input(kind, source_id, world.destination_key), "execution": execution()}, None
    )
    with pytest.raises(UnencryptedSourceNotSupported, match=f"{source_id} in {SOURCE_REGION} is not encrypted"):
        handlers.prepare_source(job, None)
    assert manual_snapshots("aurora", SOURCE_REGION) == before
    assert manual_snapshots("aurora", DESTINATION_REGION) == []


def test_the_tasks_do_not_change_their_input(world: World) -> None:
    job = handlers.validate(
        {
            "input": job_input("ebs-volume", make_source(world, "ebs-volume"), world.destination_key),
            "execution": execution(),
        },
        None,
    )
    prepared = handlers.prepare_source(job, None)
    assert "snapshot_id" not in job["source"]
    assert prepared is not job
