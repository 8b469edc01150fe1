"""Least privilege, proven: every AWS call the handlers make in end-to-end runs is an action that the
synthesized handler role allows, and the role allows little beyond what the runs call."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.lambdas import aws_clients
from tests.lambdas.snapshot_copy.helpers import DESTINATION_REGION, SOURCE_REGION, job_input, make_source, make_world
from tests.support.sfn_harness import WorkflowHarness

STACK = "kmsflow-workflows-workloads-primary"
#: botocore service name -> IAM action prefix.
PREFIX = {"rds": "rds", "ec2": "ec2", "kms": "kms", "sts": "sts"}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """IAM actions of every API call made through the product's client factory."""
    made: set[str] = set()
    original = aws_clients.client

    def recording(service: str, **kwargs: Any) -> Any:
        made_client = original(service, **kwargs)
        made_client.meta.events.register(
            "before-call",
            lambda model, **_: made.add(f"{PREFIX[service]}:{model.name}"),
        )
        return made_client

    monkeypatch.setattr(aws_clients, "client", recording)
    return made


def handler_role_actions(template: dict[str, Any]) -> set[str]:
    roles = {lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    (role,) = [
        lid
        for lid in roles
        if template["Resources"][lid]["Properties"].get("RoleName", "").startswith("kmsflow-snapshot-copy")
    ]
    actions: set[str] = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions.update([found] if isinstance(found, str) else found)
    return actions


def test_the_handler_role_allows_every_call_of_every_kind(default_templates: dict[str, Any], calls: set[str]) -> None:
    template = default_templates[STACK]
    with WorkflowHarness(template, regions=[SOURCE_REGION, DESTINATION_REGION], seed=5) as h:
        world = make_world()
        for kind in ("rds-instance", "aurora-cluster", "ebs-volume"):
            source = make_source(world, kind, name=f"perm-{kind.split('-')[0]}")
            result = h.run(input=job_input(kind, source, world.destination_alias, delete_source_snapshot=True))
            assert result.status == "SUCCEEDED", result.cause
    allowed = handler_role_actions(template)
    kms_direct = {action for action in calls if action.startswith("kms:")}
    assert kms_direct == {"kms:DescribeKey"}  # the handlers themselves only describe keys; RDS/EC2 use them
    assert calls <= allowed, sorted(calls - allowed)
    # Every snapshot action the role holds is used by some run, except those that only other inputs exercise
    # and the tagging actions that AWS checks when tags are given at creation (CreateDBSnapshot Tags,
    # CreateSnapshot/CopySnapshot TagSpecifications) and that `finish` calls when lineage tags are missing.
    only_other_inputs = {"rds:DescribeOptionGroups", "rds:AddTagsToResource", "ec2:CreateTags"}
    snapshot_actions = {a for a in allowed if a.split(":")[0] in ("rds", "ec2")}
    assert snapshot_actions - calls <= only_other_inputs, sorted(snapshot_actions - calls)
