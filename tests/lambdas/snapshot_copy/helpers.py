"""Shared set-up of the snapshot-copy handler tests: two regions of one moto account, keys, sources, runs.

The source region is eu-west-1 and the destination eu-central-1. ``World`` makes the KMS keys; ``make_source``
makes each of the six kinds of source; ``run`` drives the handlers in the order the state machine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends

from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.job import Job

ACCOUNT = "123456789012"  # moto's default account
SOURCE_REGION = "eu-west-1"
DESTINATION_REGION = "eu-central-1"
KINDS = ("rds-instance", "aurora-cluster", "ebs-volume", "rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot")
FAMILY = {
    "rds-instance": "rds",
    "rds-snapshot": "rds",
    "aurora-cluster": "aurora",
    "aurora-cluster-snapshot": "aurora",
    "ebs-volume": "ebs",
    "ebs-snapshot": "ebs",
}


def execution(name: str = "run-1") -> dict[str, str]:
    """A ``$$.Execution`` object as Step Functions passes it."""
    return {
        "Id": f"arn:aws:states:{SOURCE_REGION}:{ACCOUNT}:execution:kmsflow-snapshot-copy:{name}",
        "Name": name,
        "StartTime": "2025-01-01T00:00:00Z",
    }


@lru_cache(maxsize=16)
def client(service: str, region: str) -> Any:
    """A test's own client (not the product's factory); cached: moto intercepts clients made at any time."""
    return boto3.client(service, region_name=region)


@dataclass
class World:
    """The keys of a test: one in the source region (for encrypted sources), one plus an alias in the destination."""

    source_key: str
    destination_key: str
    destination_alias: str


def make_world() -> World:
    source_key = client("kms", SOURCE_REGION).create_key(Description="source")["KeyMetadata"]["Arn"]
    kms = client("kms", DESTINATION_REGION)
    destination = kms.create_key(Description="destination")["KeyMetadata"]
    kms.create_alias(AliasName="alias/kmsflow-dest", TargetKeyId=destination["KeyId"])
    alias = f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:alias/kmsflow-dest"
    return World(source_key=source_key, destination_key=destination["Arn"], destination_alias=alias)


def make_source(world: World, kind: str, *, encrypted: bool = True, name: str = "src1") -> str:
    """Create a source of ``kind`` in the source region; return the id that goes into the input."""
    rds, ec2 = client("rds", SOURCE_REGION), client("ec2", SOURCE_REGION)
    key = {"KmsKeyId": world.source_key} if encrypted else {}
    if kind in ("rds-instance", "rds-snapshot"):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin1",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            StorageEncrypted=encrypted,
            **key,
        )
        if kind == "rds-instance":
            return name
        return str(
            rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier=f"{name}-manual")["DBSnapshot"][
                "DBSnapshotIdentifier"
            ]
        )
    if kind in ("aurora-cluster", "aurora-cluster-snapshot"):
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="admin1",
            MasterUserPassword="password123",
            StorageEncrypted=encrypted,
            **key,
        )
        if kind == "aurora-cluster":
            return name
        snapshot = rds.create_db_cluster_snapshot(
            DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-manual"
        )
        return str(snapshot["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"])
    volume = ec2.create_volume(AvailabilityZone=f"{SOURCE_REGION}a", Size=8, Encrypted=encrypted, **key)["VolumeId"]
    if kind == "ebs-volume":
        return str(volume)
    return str(ec2.create_snapshot(VolumeId=volume, Description="user snapshot")["SnapshotId"])


def job_input(kind: str, source_id: str, kms_key_id: str, **options: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": {"kind": kind, "id": source_id, "region": SOURCE_REGION},
        "destination": {"region": DESTINATION_REGION, "kms_key_id": kms_key_id},
    }
    if options:
        doc["options"] = options
    return doc


def run_to_copy(doc: dict[str, Any], run: dict[str, str] | None = None) -> Job:
    """validate .. check_copy, looping the checks as the state machine's Choice states do (moto: no real waits)."""
    job = handlers.validate({"input": doc, "execution": run or execution()}, None)
    job = handlers.prepare_source(job, None)
    for _ in range(10):
        job = handlers.check_source(job, None)
        if job["source"]["status"] == "available":
            break
    job = handlers.check_destination_key(job, None)
    job = handlers.start_copy(job, None)
    for _ in range(10):
        job = handlers.check_copy(job, None)
        if job["destination"]["status"] == "available":
            break
    return job


def run(doc: dict[str, Any], run: dict[str, str] | None = None) -> tuple[Job, dict[str, Any]]:
    """The whole workflow: the last job and the output of ``finish``."""
    job = run_to_copy(doc, run)
    return job, handlers.finish(job, None)


def manual_snapshots(family: str, region: str) -> list[dict[str, Any]]:
    """The account's manual snapshots of a family in a region (moto adds automated RDS cluster snapshots)."""
    if family == "rds":
        return list(client("rds", region).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"])
    if family == "aurora":
        return list(client("rds", region).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"])
    return list(client("ec2", region).describe_snapshots(OwnerIds=["self"])["Snapshots"])


def snapshot_id_of(family: str, item: dict[str, Any]) -> str:
    key = {"rds": "DBSnapshotIdentifier", "aurora": "DBClusterSnapshotIdentifier", "ebs": "SnapshotId"}[family]
    return str(item[key])


def set_moto_status(family: str, region: str, snapshot_id: str, status: str) -> None:
    """Put a snapshot of moto's model into ``status``: moto makes every snapshot and copy ready at once."""
    if family == "rds":
        rds_backends[ACCOUNT][region].database_snapshots[snapshot_id].status = status
    elif family == "aurora":
        rds_backends[ACCOUNT][region].cluster_snapshots[snapshot_id].status = status
    else:
        ec2_backends[ACCOUNT][region].snapshots[snapshot_id].status = status


def tags_of(family: str, region: str, snapshot_id: str) -> dict[str, str]:
    """The tags of a snapshot as AWS reports them."""
    if family == "ebs":
        items = client("ec2", region).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0].get("Tags", [])
    elif family == "rds":
        items = client("rds", region).describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0][
            "TagList"
        ]
    else:
        response = client("rds", region).describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)
        items = response["DBClusterSnapshots"][0]["TagList"]
    return {item["Key"]: item["Value"] for item in items}
