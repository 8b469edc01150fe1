"""Each step's own cases against moto: missing sources, waiting, the destination key, reruns, conflicts.

moto makes every snapshot and copy available at once; tests of the waiting and failure paths put moto's model
into ``creating``/``copying``/``pending``/``failed``/``error`` with ``set_moto_status`` (a direct change of
moto's in-memory snapshot, as AWS would report it mid-copy).
"""

from __future__ import annotations

from typing import Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from kmsflow.lambdas import aws_clients
from kmsflow.lambdas.errors import (
    CopyFailed,
    DestinationKeyDisabled,
    DestinationKeyNotFound,
    DestinationKeyNotSymmetric,
    DestinationKeyWrongRegion,
    SourceNotFound,
    SourceSnapshotFailed,
    TargetConflict,
)
from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.job import Job, copy_snapshot_id
from tests.lambdas.snapshot_copy.helpers import (
    ACCOUNT,
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
    run_to_copy,
    set_moto_status,
    tags_of,
)

MISSING_IDS = {
    "rds-instance": "no-such-db",
    "aurora-cluster": "no-such-cluster",
    "ebs-volume": "vol-0123456789abcdef0",
    "rds-snapshot": "no-such-snapshot",
    "aurora-cluster-snapshot": "no-such-cluster-snapshot",
    "ebs-snapshot": "snap-0123456789abcdef0",
}


def validated(doc: dict[str, Any], run_name: str = "run-1") -> Job:
    return handlers.validate({"input": doc, "execution": execution(run_name)}, None)


def prepared(world: World, kind: str, **options: Any) -> Job:
    return handlers.prepare_source(
        validated(job_input(kind, make_source(world, kind), world.destination_key, **options)), None
    )


# --- prepare_source / check_source -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_source_is_named_with_its_region(world: World, kind: str) -> None:
    job = validated(job_input(kind, MISSING_IDS[kind], world.destination_key))
    with pytest.raises(SourceNotFound) as caught:
        handlers.prepare_source(job, None)
    message = str(caught.value)
    assert MISSING_IDS[kind] in message
    assert SOURCE_REGION in message
    assert "check source.id, source.kind and source.region" in message
    assert manual_snapshots(FAMILY[kind], SOURCE_REGION) == []


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster", "ebs-volume"])
def test_prepare_source_reuses_the_jobs_snapshot_on_a_rerun(world: World, kind: str) -> None:
    source_id = make_source(world, kind)
    first = handlers.prepare_source(validated(job_input(kind, source_id, world.destination_key)), None)
    second = handlers.prepare_source(validated(job_input(kind, source_id, world.destination_key), "run-2"), None)
    assert second["source"]["snapshot_id"] == first["source"]["snapshot_id"]
    assert second["source"]["created"] is True
    assert len(manual_snapshots(FAMILY[kind], SOURCE_REGION)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_check_source_doubles_the_wait_while_the_snapshot_is_pending(world: World, kind: str) -> None:
    job = prepared(world, kind)
    family = FAMILY[kind]
    set_moto_status(family, SOURCE_REGION, job["source"]["snapshot_id"], "pending" if family == "ebs" else "creating")
    waits = []
    for _ in range(6):
        job = handlers.check_source(job, None)
        assert job["source"]["status"] == "pending"
        waits.append(job["wait"]["seconds"])
    assert waits == [60, 120, 240, 480, 600, 600]
    set_moto_status(
        family, SOURCE_REGION, job["source"]["snapshot_id"], "completed" if family == "ebs" else "available"
    )
    assert handlers.check_source(job, None)["source"]["status"] == "available"


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster-snapshot", "ebs-volume"])
def test_a_failed_source_snapshot_is_named(world: World, kind: str) -> None:
    job = prepared(world, kind)
    set_moto_status(
        FAMILY[kind], SOURCE_REGION, job["source"]["snapshot_id"], "error" if FAMILY[kind] == "ebs" else "failed"
    )
    with pytest.raises(SourceSnapshotFailed, match=f"{job['source']['snapshot_id']} in {SOURCE_REGION} is"):
        handlers.check_source(job, None)


def test_a_source_snapshot_deleted_while_waiting_is_named(world: World) -> None:
    job = prepared(world, "rds-snapshot")
    client("rds", SOURCE_REGION).delete_db_snapshot(DBSnapshotIdentifier=job["source"]["snapshot_id"])
    with pytest.raises(SourceNotFound, match="disappeared"):
        handlers.check_source(job, None)


# --- check_destination_key ---------------------------------------------------------------------------------------


def key_job(world: World, key: str) -> Job:
    job = prepared(world, "ebs-volume")
    job["destination"]["kms_key_id"] = key
    return job


def test_the_destination_key_is_resolved_to_its_arn(world: World) -> None:
    job = handlers.check_destination_key(key_job(world, world.destination_alias), None)
    assert job["destination"]["kms_key_arn"] == world.destination_key


@pytest.mark.parametrize(
    "key",
    [
        f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
        f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:alias/no-such-alias",
    ],
)
def test_a_missing_destination_key_is_named(world: World, key: str) -> None:
    with pytest.raises(DestinationKeyNotFound, match=f"KMS key {key} does not exist in {DESTINATION_REGION}"):
        handlers.check_destination_key(key_job(world, key), None)


@pytest.mark.parametrize("change", ["disable_key", "schedule_key_deletion"])
def test_a_disabled_destination_key_is_named(world: World, change: str) -> None:
    kms = client("kms", DESTINATION_REGION)
    getattr(kms, change)(KeyId=world.destination_key.split("/")[-1])  # moto: ScheduleKeyDeletion takes no ARN
    state = kms.describe_key(KeyId=world.destination_key)["KeyMetadata"]["KeyState"]
    with pytest.raises(DestinationKeyDisabled, match=f"is {state}, not Enabled"):
        handlers.check_destination_key(key_job(world, world.destination_alias), None)


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")],
)
def test_an_asymmetric_or_hmac_destination_key_is_named(world: World, spec: str, usage: str) -> None:
    key = client("kms", DESTINATION_REGION).create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["Arn"]
    with pytest.raises(DestinationKeyNotSymmetric, match=f"key spec {spec} and usage {usage}"):
        handlers.check_destination_key(key_job(world, key), None)


def test_a_destination_key_of_another_region_is_named(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """validate refuses a key ARN of another region, so this case needs KMS to answer with one: a multi-Region
    key's alias could. moto cannot, so the answer comes from a Stubber."""
    job = key_job(world, world.destination_alias)
    kms = boto3.client("kms", region_name=DESTINATION_REGION)
    stubber = Stubber(kms)
    other = f"arn:aws:kms:{SOURCE_REGION}:{ACCOUNT}:key/mrk-0123456789abcdef0123456789abcdef"
    stubber.add_response(
        "describe_key",
        {
            "KeyMetadata": {
                "KeyId": "mrk-0123456789abcdef0123456789abcdef",
                "Arn": other,
                "KeyState": "Enabled",
                "KeySpec": "SYMMETRIC_DEFAULT",
                "KeyUsage": "ENCRYPT_DECRYPT",
            }
        },
    )
    stubber.activate()
    monkeypatch.setattr(aws_clients, "client", lambda *_args, **_kwargs: kms)
    with pytest.raises(DestinationKeyWrongRegion, match=f"a key of {SOURCE_REGION}, not of {DESTINATION_REGION}"):
        handlers.check_destination_key(job, None)


# --- start_copy / check_copy -------------------------------------------------------------------------------------


def to_start(world: World, kind: str, run_name: str = "run-1", **options: Any) -> Job:
    job = handlers.prepare_source(
        validated(job_input(kind, make_source(world, kind), world.destination_key, **options), run_name), None
    )
    return handlers.check_destination_key(handlers.check_source(job, None), None)


@pytest.mark.parametrize("kind", KINDS)
def test_start_copy_again_finds_the_copy_instead_of_making_a_second(world: World, kind: str) -> None:
    """A retried start_copy in the same execution reuses the copy and still knows it made it."""
    job = to_start(world, kind)
    first = handlers.start_copy(job, None)
    again = handlers.start_copy(job, None)
    assert first["destination"]["created"] is True
    assert again["destination"]["created"] is True
    assert again["destination"]["snapshot_id"] == first["destination"]["snapshot_id"]
    assert len(manual_snapshots(FAMILY[kind], DESTINATION_REGION)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_rerun_of_the_same_input_finds_its_finished_copy(world: World, kind: str) -> None:
    """A second execution of the same input ends with the first one's copy, which it did not create."""
    source_id = make_source(world, kind)
    _, first = run(job_input(kind, source_id, world.destination_key))
    job, second = run(job_input(kind, source_id, world.destination_key), execution("run-2"))
    assert second["destination"] == first["destination"]
    assert job["destination"]["created"] is False
    assert len(manual_snapshots(FAMILY[kind], DESTINATION_REGION)) == 1
    assert (
        tags_of(FAMILY[kind], DESTINATION_REGION, first["destination"]["snapshot_id"])["kmsflow:execution"]
        == execution()["Id"]
    )


@pytest.mark.parametrize("kind", ["rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"])
def test_a_copy_left_untagged_by_a_crash_is_reused_and_tagged_by_finish(world: World, kind: str) -> None:
    """The crash between starting a copy and tagging it: RDS finds the copy by its deterministic name; EBS
    by the job tag, which CopySnapshot sets atomically (so only the other lineage tags can be missing)."""
    family = FAMILY[kind]
    job = handlers.start_copy(to_start(world, kind), None)
    snapshot_id = job["destination"]["snapshot_id"]
    rds, ec2 = client("rds", DESTINATION_REGION), client("ec2", DESTINATION_REGION)
    lineage = ["kmsflow:source-arn", "kmsflow:source-key", "kmsflow:execution", "kmsflow:version"]
    if family == "ebs":
        ec2.delete_tags(Resources=[snapshot_id], Tags=[{"Key": key} for key in lineage])
    else:
        rds.remove_tags_from_resource(
            ResourceName=job["destination"]["snapshot_arn"], TagKeys=[*lineage, "kmsflow:job-id"]
        )
    rerun = handlers.start_copy(to_start_again(job), None)
    assert rerun["destination"]["snapshot_id"] == snapshot_id
    assert rerun["destination"]["created"] is False  # no proof left that this execution made it: never deleted
    out = handlers.finish(handlers.check_copy(rerun, None), None)
    tags = tags_of(family, DESTINATION_REGION, snapshot_id)
    assert set(lineage) <= set(tags)
    assert tags["kmsflow:job-id"] == job["job_id"]
    assert out["destination"]["snapshot_id"] == snapshot_id
    assert len(manual_snapshots(family, DESTINATION_REGION)) == 1


def to_start_again(job: Job) -> Job:
    """The job as it was before start_copy (a retry of the step)."""
    kept = ("region", "kms_key_id", "kms_key_arn")
    destination = {key: value for key, value in job["destination"].items() if key in kept}
    return cast(Job, {**job, "destination": destination})


def test_a_copy_name_taken_by_another_job_is_a_conflict(world: World) -> None:
    job = to_start(world, "rds-snapshot")
    source_arn = job["source"]["snapshot_arn"]
    client("rds", DESTINATION_REGION).copy_db_snapshot(
        SourceDBSnapshotIdentifier=source_arn,
        TargetDBSnapshotIdentifier=copy_snapshot_id(job),
        SourceRegion=SOURCE_REGION,
        KmsKeyId=world.destination_key,
        Tags=[{"Key": "kmsflow:job-id", "Value": "ffffffffffffffff"}],
    )
    with pytest.raises(TargetConflict, match="belongs to kmsflow job ffffffffffffffff"):
        handlers.start_copy(job, None)


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster", "ebs-volume"])
def test_check_copy_waits_while_copying_and_names_a_failed_copy(world: World, kind: str) -> None:
    family = FAMILY[kind]
    job = handlers.start_copy(to_start(world, kind), None)
    snapshot_id = job["destination"]["snapshot_id"]
    set_moto_status(family, DESTINATION_REGION, snapshot_id, "pending" if family == "ebs" else "copying")
    job = handlers.check_copy(job, None)
    assert (job["destination"]["status"], job["wait"]["seconds"]) == ("pending", 60)
    set_moto_status(family, DESTINATION_REGION, snapshot_id, "error" if family == "ebs" else "failed")
    with pytest.raises(CopyFailed, match=f"copy {snapshot_id} in {DESTINATION_REGION} is"):
        handlers.check_copy(job, None)


def test_a_copy_that_disappeared_is_a_failed_copy(world: World) -> None:
    job = handlers.start_copy(to_start(world, "ebs-snapshot"), None)
    client("ec2", DESTINATION_REGION).delete_snapshot(SnapshotId=job["destination"]["snapshot_id"])
    with pytest.raises(CopyFailed, match="no longer exists"):
        handlers.check_copy(job, None)


def test_run_to_copy_helper_gets_there(world: World) -> None:
    job = run_to_copy(job_input("ebs-volume", make_source(world, "ebs-volume"), world.destination_key))
    assert job["destination"]["status"] == "available"
