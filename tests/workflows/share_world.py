"""The two-account world the share machine runs in: the synthesized templates deployed into moto, keys, sources.

The share machine runs in ``workloads`` (222222222222) and copies into ``partner`` (333333333333), as the default
configuration declares. Every step acts as its own synthesized role (``handler_account``); the roles of the
workflows stack are deployed into the source account and the target stacks' copy roles into the target account,
so the target role's trust policy, evaluated by kmsflow's evaluator, decides ``sts:AssumeRole``
(tests/support/moto_sharing.py). The values the templates import from the keys stacks are keys made here:

* the sharing key ``shared-snapshots`` (source account, eu-west-1);
* ``partner-snapshots``: a multi-Region key of the target account, primary in eu-west-1, replica in eu-central-1
  (the first of two hops of a shared RDS or Aurora snapshot is encrypted under the replica in the source region);
* ``dr-snapshots`` of the copy machine, which these runs never use.

Used by the end-to-end tests, ``make demo``, ``make bench`` and ``tests/support/examples/run_share.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from moto.ec2.models.elastic_block_store import EBSBackend

from tests.lambdas.snapshot_copy.conftest import _create_snapshot_with_volume_key
from tests.support.moto_sharing import aws_managed_key
from tests.support.sfn_harness import WorkflowHarness, imported_names

SOURCE, TARGET = "222222222222", "333333333333"
SOURCE_REGION, TARGET_REGION = "eu-west-1", "eu-central-1"
WORKFLOWS_STACK = "kmsflow-workflows-workloads-primary"
TARGET_STACKS = {
    SOURCE_REGION: "kmsflow-share-target-partner-primary",
    TARGET_REGION: "kmsflow-share-target-partner-secondary",
}
SHARE_MACHINE = "kmsflow-snapshot-share-"
KINDS = ("rds-instance", "aurora-cluster", "ebs-volume", "rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot")
FAMILY = {kind: "ebs" if kind.startswith("ebs") else "aurora" if kind.startswith("aurora") else "rds" for kind in KINDS}


@dataclass
class ShareWorld:
    """A running harness with both accounts set up; ``sharing_key`` and the target keys by region."""

    h: WorkflowHarness
    sharing_key: str
    target_keys: dict[str, str]

    def session(self, account: str, region: str = SOURCE_REGION) -> Any:
        return self.h.session(account, region)

    def client(self, account: str, service: str, region: str = SOURCE_REGION) -> Any:
        return self.h.session(account, region).client(service)

    def run(self, document: Mapping[str, Any], *, name: str | None = None) -> Any:
        return self.h.run(SHARE_MACHINE, document, name=name)

    def document(
        self, kind: str, source_id: str, *, region: str = TARGET_REGION, key: str | None = None, **options: Any
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "source": {"kind": kind, "id": source_id, "region": SOURCE_REGION},
            "target": {"account": TARGET, "region": region, "kms_key_id": key or self.target_keys[region]},
        }
        if options:
            doc["options"] = options
        return doc


def _key_refs(h: WorkflowHarness, names: list[str], keys: dict[str, str]) -> dict[str, str]:
    """The imported key ARNs: each export name says which key (``sharedsnapshots``, ``partnersnapshots``...)."""
    refs: dict[str, str] = {}
    for name in names:
        flat = name.lower().replace("-", "")
        if "sharedsnapshots" in flat:
            refs[name] = keys["sharing"]
        elif "partnersnapshotsreplica" in flat:
            refs[name] = keys[f"partner:{TARGET_REGION}"]
        elif "partnersnapshots" in flat:
            refs[name] = keys[f"partner:{SOURCE_REGION}"]
        elif "drsnapshots" in flat:
            refs[name] = keys["dr"]
    return refs


@contextmanager
def share_world(templates: Mapping[str, Mapping[str, Any]], *, seed: int = 11) -> Iterator[ShareWorld]:
    """The harness running the synthesized share machine, with both accounts' roles and keys in place."""
    workflows = templates[WORKFLOWS_STACK]
    targets = {region: templates[name] for region, name in TARGET_STACKS.items()}
    names = sorted({n for t in [workflows, *targets.values()] for n in imported_names(t)})
    keys: dict[str, str] = {}

    def make_keys(h: WorkflowHarness) -> dict[str, str]:
        source = h.session(SOURCE, SOURCE_REGION).client("kms")
        keys["sharing"] = source.create_key(Description="shared-snapshots")["KeyMetadata"]["Arn"]
        keys["dr"] = h.session(SOURCE, TARGET_REGION).client("kms").create_key(Description="dr")["KeyMetadata"]["Arn"]
        partner = h.session(TARGET, SOURCE_REGION).client("kms")
        primary = partner.create_key(Description="partner-snapshots", MultiRegion=True)["KeyMetadata"]
        # moto's replicate_key takes the key id only (it looks the id up as given).
        replica = partner.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=TARGET_REGION)["ReplicaKeyMetadata"]
        keys[f"partner:{SOURCE_REGION}"], keys[f"partner:{TARGET_REGION}"] = primary["Arn"], replica["Arn"]
        return _key_refs(h, names, keys)

    # moto gap: an EBS snapshot reports its volume's key, as on AWS (the copy tests' patch).
    volume_keys = mock.patch.object(EBSBackend, "create_snapshot", _create_snapshot_with_volume_key)
    harness = WorkflowHarness(
        workflows, regions=[SOURCE_REGION, TARGET_REGION], handler_account=SOURCE, before_deploy=make_keys, seed=seed
    )
    with volume_keys, harness as h:
        for kind in ("rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"):
            h.snapshots.set_duration(kind, 20 * 60, copy_seconds=3600)  # type: ignore[arg-type]
        h.deploy_roles(workflows, SOURCE, h.refs, region=SOURCE_REGION)
        for region, template in targets.items():
            h.deploy_roles(template, TARGET, h.refs, region=region)
        yield ShareWorld(
            h=h,
            sharing_key=keys["sharing"],
            target_keys={
                SOURCE_REGION: keys[f"partner:{SOURCE_REGION}"],
                TARGET_REGION: keys[f"partner:{TARGET_REGION}"],
            },
        )


def make_source(world: ShareWorld, kind: str, *, encryption: str = "customer", name: str = "src1") -> str:
    """A source of ``kind`` in the source account and region: ``customer`` (an application key of its own),
    ``sharing`` (the sharing key), ``aws-managed`` (``alias/aws/rds`` / ``alias/aws/ebs``) or ``none``."""
    return make_source_in(
        world.session(SOURCE), SOURCE_REGION, kind, encryption=encryption, sharing_key=world.sharing_key, name=name
    )


def make_source_in(
    session: Any, region: str, kind: str, *, encryption: str, sharing_key: str | None = None, name: str = "src1"
) -> str:
    """A source of ``kind`` made through ``session`` in ``region`` (see :func:`make_source`); returns its id."""
    family = FAMILY[kind]
    key = {
        "customer": lambda: session.client("kms").create_key(Description="application")["KeyMetadata"]["Arn"],
        "sharing": lambda: sharing_key,
        "aws-managed": lambda: aws_managed_key(session, region, "ebs" if family == "ebs" else "rds"),
        "none": lambda: None,
    }[encryption]()
    rds, ec2 = session.client("rds"), session.client("ec2")
    if family == "rds":
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin_user",
            MasterUserPassword="a-long-password",
            **({"StorageEncrypted": True, "KmsKeyId": key} if key else {}),
        )
        if kind == "rds-instance":
            return name
        snapshot = rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier=f"{name}-manual")
        return str(snapshot["DBSnapshot"]["DBSnapshotIdentifier"])
    if family == "aurora":
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="admin_user",
            MasterUserPassword="a-long-password",
            **({"StorageEncrypted": True, "KmsKeyId": key} if key else {}),
        )
        if kind == "aurora-cluster":
            return name
        snapshot = rds.create_db_cluster_snapshot(
            DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-manual"
        )
        return str(snapshot["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"])
    volume = ec2.create_volume(
        AvailabilityZone=f"{region}a", Size=8, **({"Encrypted": True, "KmsKeyId": key} if key else {})
    )["VolumeId"]
    if kind == "ebs-volume":
        return str(volume)
    return str(ec2.create_snapshot(VolumeId=volume, Description="user snapshot")["SnapshotId"])


# --- What is left: shares, live grants, snapshots --------------------------------------------------------------


def shares_for_target(world: ShareWorld, family: str) -> list[str]:
    """Every snapshot of the source account (source region) shared with the target account."""
    session = world.session(SOURCE)
    rds, ec2 = session.client("rds"), session.client("ec2")
    found = []
    if family == "rds":
        for snapshot in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
            result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
            if any(
                TARGET in a["AttributeValues"] for a in result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
            ):
                found.append(snapshot["DBSnapshotArn"])
    elif family == "aurora":
        for snapshot in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]:
            result = rds.describe_db_cluster_snapshot_attributes(
                DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"]
            )["DBClusterSnapshotAttributesResult"]
            if any(TARGET in a["AttributeValues"] for a in result["DBClusterSnapshotAttributes"]):
                found.append(snapshot["DBClusterSnapshotArn"])
    else:
        for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
            permissions = ec2.describe_snapshot_attribute(
                SnapshotId=snapshot["SnapshotId"], Attribute="createVolumePermission"
            )["CreateVolumePermissions"]
            if any(p.get("UserId") == TARGET for p in permissions):
                found.append(snapshot["SnapshotId"])
    return found


def live_grants(world: ShareWorld) -> list[dict[str, Any]]:
    """Grants on the sharing key (moto drops retired ones)."""
    return list(world.client(SOURCE, "kms").list_grants(KeyId=world.sharing_key)["Grants"])


def snapshots(world: ShareWorld, account: str, family: str, region: str) -> list[dict[str, Any]]:
    """The account's manual snapshots of ``family`` in ``region`` (id, key, tags, status)."""
    session = world.session(account, region)
    if family == "rds":
        items = session.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        return [
            {
                "id": s["DBSnapshotIdentifier"],
                "key": s.get("KmsKeyId"),
                "tags": _tags(s.get("TagList")),
                "status": s["Status"],
            }
            for s in items
        ]
    if family == "aurora":
        items = session.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
        return [
            {
                "id": s["DBClusterSnapshotIdentifier"],
                "key": s.get("KmsKeyId"),
                "tags": _tags(s.get("TagList")),
                "status": s["Status"],
            }
            for s in items
        ]
    items = session.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return [
        {"id": s["SnapshotId"], "key": s.get("KmsKeyId"), "tags": _tags(s.get("Tags")), "status": s["State"]}
        for s in items
    ]


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items or []}
