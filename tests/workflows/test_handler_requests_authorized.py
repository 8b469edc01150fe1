"""Every AWS call the snapshot-copy handlers make in end-to-end runs, with its real identifiers and tags, is
allowed by the synthesized policies of the handler's own role (kmsflow.policy.evaluate): the roles are scoped to
snapshots kmsflow names and tags, and moto (which enforces no policy) cannot tell whether that scoping still lets
the handlers work. test_handler_permissions.py compares action names; this compares whole requests.

Each call becomes the IAM request(s) AWS authorizes for it (Service Authorization Reference: the resource ARNs
per action; tags given at creation authorized as rds:AddTagsToResource / ec2:CreateTags with ec2:CreateAction;
aws:ResourceTag from the resource's tags at call time). moto's account and keys are mapped onto the template's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kmsflow.constructs.workflows.snapshot_copy import handler_role_name
from kmsflow.lambdas import aws_clients
from kmsflow.policy.assembly import Assembly, authorize
from kmsflow.policy.model import Principal, Request
from tests.lambdas.snapshot_copy.helpers import (
    ACCOUNT as MOTO_ACCOUNT,
)
from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    SOURCE_REGION,
    World,
    job_input,
    make_source,
    make_world,
    tags_of,
)
from tests.support.sfn_harness import WorkflowHarness, current_handler
from tests.workflows.support import COPY_MACHINE, STACK, unused_imports

ACCOUNT = "222222222222"  # the workloads account of the default configuration
KINDS = ("rds-instance", "aurora-cluster", "ebs-volume", "rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot")


def rds_arn(region: str, kind: str, name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:rds:{region}:{ACCOUNT}:{kind}:{name}"


def ec2_snapshot(region: str, snapshot_id: str) -> str:
    return f"arn:aws:ec2:{region}::snapshot/{snapshot_id}"


def resource_tags(family: str, region: str, snapshot_id: str) -> dict[str, str]:
    """``aws:ResourceTag/<key>`` context of an existing snapshot."""
    return {f"aws:ResourceTag/{k}": v for k, v in tags_of(family, region, snapshot_id).items()}


def iam_requests(operation: str, params: dict[str, Any], region: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The (action, resource, context) triples AWS authorizes for one API call."""
    here = {"aws:RequestedRegion": region}
    if operation in ("DescribeDBSnapshots", "DeleteDBSnapshot"):
        name = params.get("DBSnapshotIdentifier") or params["DBInstanceIdentifier"]
        kind = "snapshot" if "DBSnapshotIdentifier" in params else "db"
        extra = resource_tags("rds", region, name) if operation == "DeleteDBSnapshot" else {}
        yield f"rds:{operation}", rds_arn(region, kind, name), {**here, **extra}
    elif operation in ("DescribeDBClusterSnapshots", "DeleteDBClusterSnapshot"):
        name = params.get("DBClusterSnapshotIdentifier") or params["DBClusterIdentifier"]
        kind = "cluster-snapshot" if "DBClusterSnapshotIdentifier" in params else "cluster"
        extra = resource_tags("aurora", region, name) if operation == "DeleteDBClusterSnapshot" else {}
        yield f"rds:{operation}", rds_arn(region, kind, name), {**here, **extra}
    elif operation == "DescribeDBClusters":
        yield "rds:DescribeDBClusters", rds_arn(region, "cluster", params["DBClusterIdentifier"]), here
    elif operation == "DescribeOptionGroups":
        yield "rds:DescribeOptionGroups", rds_arn(region, "og", params["OptionGroupName"]), here
    elif operation in ("CreateDBSnapshot", "CreateDBClusterSnapshot"):
        parent, snapshot = ("db", "snapshot") if operation == "CreateDBSnapshot" else ("cluster", "cluster-snapshot")
        parent_id = params.get("DBInstanceIdentifier") or params["DBClusterIdentifier"]
        target = params.get("DBSnapshotIdentifier") or params["DBClusterSnapshotIdentifier"]
        yield f"rds:{operation}", rds_arn(region, parent, parent_id), here
        yield f"rds:{operation}", rds_arn(region, snapshot, target), here
        if params.get("Tags"):
            yield "rds:AddTagsToResource", rds_arn(region, snapshot, target), here
    elif operation in ("CopyDBSnapshot", "CopyDBClusterSnapshot"):
        kind = "snapshot" if operation == "CopyDBSnapshot" else "cluster-snapshot"
        source = params.get("SourceDBSnapshotIdentifier") or params["SourceDBClusterSnapshotIdentifier"]
        target = params.get("TargetDBSnapshotIdentifier") or params["TargetDBClusterSnapshotIdentifier"]
        source_region = source.split(":")[3]
        # The copy reads the source through a request signed for the source region (the presigned URL).
        yield f"rds:{operation}", rds_arn(source_region, kind, source), {"aws:RequestedRegion": source_region}
        yield f"rds:{operation}", rds_arn(region, kind, target), here
        if params.get("OptionGroupName"):
            yield f"rds:{operation}", rds_arn(region, "og", params["OptionGroupName"]), here
        if params.get("Tags"):
            yield "rds:AddTagsToResource", rds_arn(region, kind, target), here
    elif operation == "AddTagsToResource":
        yield "rds:AddTagsToResource", params["ResourceName"], here
    elif operation == "DescribeSnapshots":
        yield "ec2:DescribeSnapshots", "*", here
    elif operation == "CreateSnapshot":
        yield "ec2:CreateSnapshot", f"arn:aws:ec2:{region}:{ACCOUNT}:volume/{params['VolumeId']}", here
        yield "ec2:CreateSnapshot", ec2_snapshot(region, "*"), here
        if params.get("TagSpecifications"):
            yield "ec2:CreateTags", ec2_snapshot(region, "*"), {**here, "ec2:CreateAction": "CreateSnapshot"}
    elif operation == "CopySnapshot":
        yield "ec2:CopySnapshot", ec2_snapshot(region, "*"), here
        if params.get("TagSpecifications"):
            yield "ec2:CreateTags", ec2_snapshot(region, "*"), {**here, "ec2:CreateAction": "CopySnapshot"}
    elif operation in ("CreateTags", "DeleteSnapshot"):
        for snapshot_id in params.get("Resources") or [params["SnapshotId"]]:
            yield (
                f"ec2:{operation}",
                ec2_snapshot(region, snapshot_id),
                {**here, **resource_tags("ebs", region, snapshot_id)},
            )
    elif operation == "DescribeKey":
        yield "kms:DescribeKey", params["KeyId"], here
    else:
        raise AssertionError(f"no IAM mapping for {operation}: add one to this test")


@pytest.fixture(scope="module")
def assembly(default_outdir: Path) -> Assembly:
    return Assembly.from_directory(default_outdir)


def _template_key(assembly: Assembly, world: World, key_id: str) -> str:
    """moto's destination key (by ARN or alias ARN) is the configuration's dr-snapshots key."""
    if key_id in (world.destination_key, world.destination_alias):
        (key,) = [
            r.arn
            for r in assembly.resources("AWS::KMS::Key")
            if r.stack == "kmsflow-keys-workloads-secondary" and r.logical_id.startswith("drsnapshots")
        ]
        return key
    return key_id


def test_every_handler_call_is_allowed_by_its_role(
    default_templates: dict[str, Any], assembly: Assembly, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, dict[str, Any], str]] = []
    original = aws_clients.client

    def recording(service: str, **kwargs: Any) -> Any:
        made = original(service, **kwargs)

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            # The API parameters as the handler gave them; resource tags are read now, before the call changes them.
            handler = current_handler()
            if handler is not None:
                requests = list(iam_requests(model.name, params, made.meta.region_name))
                calls.extend((handler, action, context, resource) for action, resource, context in requests)

        made.meta.events.register("before-parameter-build", record)
        return made

    monkeypatch.setattr(aws_clients, "client", recording)
    with WorkflowHarness(
        default_templates[STACK],
        regions=[SOURCE_REGION, DESTINATION_REGION],
        refs=unused_imports(default_templates[STACK]),
        seed=7,
    ) as h:
        world = make_world()
        for kind in KINDS:
            family = (
                "ebs-snapshot"
                if kind.startswith("ebs")
                else "aurora-cluster-snapshot"
                if "aurora" in kind
                else "rds-snapshot"
            )
            h.snapshots.set_duration(family, 0, copy_seconds=600)
            source = make_source(world, kind, name=f"auth-{kind.replace('-', '')}")
            result = h.run(
                COPY_MACHINE, input=job_input(kind, source, world.destination_alias, delete_source_snapshot=True)
            )
            assert result.status == "SUCCEEDED", result.cause
            h.faults.add("InvalidParameterValue", handler="check_copy", times=1)  # on_failure deletes its copy
            source = make_source(world, kind, name=f"fail-{kind.replace('-', '')}")
            assert h.run(COPY_MACHINE, input=job_input(kind, source, world.destination_alias)).status == "FAILED"
    assert {c[1] for c in calls} >= {
        "rds:DeleteDBSnapshot",
        "rds:DeleteDBClusterSnapshot",
        "ec2:DeleteSnapshot",
        "rds:CopyDBSnapshot",
        "ec2:CopySnapshot",
        "ec2:CreateTags",
        "rds:AddTagsToResource",
    }
    denied = []
    for handler, action, context, resource in calls:
        role = f"arn:aws:iam::{ACCOUNT}:role/{handler_role_name(SOURCE_REGION, handler)}"
        target = resource.replace(f":{MOTO_ACCOUNT}:", f":{ACCOUNT}:")
        if action.startswith("kms:"):
            target = _template_key(assembly, world, resource)
        decision = authorize(
            assembly, Request(principal=Principal.role(role), action=action, resource=target, context=context)
        )
        if not decision.allowed:
            denied.append(f"{handler}: {action} on {target} {context}\n    {decision.reason}")
    assert denied == [], "\n".join(dict.fromkeys(denied))
