"""Least privilege, proven per function: every AWS call each handler makes in end-to-end runs is an action
that its own synthesized role allows, and each role allows little beyond what its handler calls."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from kmsflow.lambdas import aws_clients
from kmsflow.policy.document import as_list
from tests.constructs.support import handler_functions, role_statements
from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    SOURCE_REGION,
    job_input,
    make_source,
    make_world,
)
from tests.support.moto_snapshots import SnapshotKind
from tests.support.sfn_harness import WorkflowHarness, current_handler
from tests.workflows.support import COPY_MACHINE, STACK, unused_imports

#: botocore service name -> IAM action prefix.
PREFIX = {"rds": "rds", "ec2": "ec2", "kms": "kms", "sts": "sts"}
#: Actions a role holds that these runs do not call, and why: tags given at creation are authorized against
#: the tagging action (AWS checks it; moto does not call it); option groups are read only for engines that
#: need one; finish tags only a copy whose lineage tags are missing.
ONLY_OTHER_INPUTS = {
    "prepare_source": {"rds:AddTagsToResource", "ec2:CreateTags"},
    "start_copy": {"rds:AddTagsToResource", "ec2:CreateTags", "rds:DescribeOptionGroups"},
    "finish": {"rds:AddTagsToResource", "ec2:CreateTags"},
}
SERVICE_ACTIONS = re.compile(r"^(rds|ec2|kms):")
SNAPSHOTS: dict[str, SnapshotKind] = {
    "rds-instance": "rds-snapshot",
    "aurora-cluster": "aurora-cluster-snapshot",
    "ebs-volume": "ebs-snapshot",
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """IAM actions of every API call made through the product's client factory, by the handler making it."""
    made: dict[str, set[str]] = defaultdict(set)
    original = aws_clients.client

    def record(service: str, model: Any) -> None:
        handler = current_handler()
        if handler is not None:  # not the test's own set-up calls
            made[handler].add(f"{PREFIX[service]}:{model.name}")

    def recording(service: str, **kwargs: Any) -> Any:
        made_client = original(service, **kwargs)
        made_client.meta.events.register("before-call", lambda model, **_: record(service, model))
        return made_client

    monkeypatch.setattr(aws_clients, "client", recording)
    return made


def role_actions_by_handler(template: dict[str, Any]) -> dict[str, set[str]]:
    """handler function name -> the actions its function's role allows (all its policies' statements)."""
    return {
        handler: {a for s in role_statements(template, handler)[1] for a in as_list(s["Action"])}
        for handler in handler_functions(template)
    }


def test_each_handler_s_role_allows_its_calls_and_little_else(
    default_templates: dict[str, Any], calls: dict[str, set[str]]
) -> None:
    template = default_templates[STACK]
    with WorkflowHarness(
        template, regions=[SOURCE_REGION, DESTINATION_REGION], refs=unused_imports(template), seed=5
    ) as h:
        world = make_world()
        for kind, snapshots in SNAPSHOTS.items():
            h.snapshots.set_duration(snapshots, 0, copy_seconds=600)  # copying when the failing check comes
            source = make_source(world, kind, name=f"perm-{kind.split('-')[0]}")
            result = h.run(
                COPY_MACHINE, input=job_input(kind, source, world.destination_alias, delete_source_snapshot=True)
            )
            assert result.status == "SUCCEEDED", result.cause
            # The same kind again, failing at the first status check of its copy: on_failure removes the copy.
            h.faults.add("InvalidParameterValue", handler="check_copy", times=1)
            source = make_source(world, kind, name=f"fail-{kind.split('-')[0]}")
            result = h.run(COPY_MACHINE, input=job_input(kind, source, world.destination_alias))
            assert result.status == "FAILED", result.output
            assert result.state_counts["OnFailure"] == 1
    allowed = role_actions_by_handler(template)
    assert set(allowed) == {
        "validate",
        "prepare_source",
        "check_source",
        "check_destination_key",
        "start_copy",
        "check_copy",
        "finish",
        "on_failure",
    }
    assert "validate" not in calls  # input checks only: no AWS call
    for handler, made in calls.items():
        assert made <= allowed[handler], (handler, sorted(made - allowed[handler]))
        held = {a for a in allowed[handler] if SERVICE_ACTIONS.match(a)}
        unused = held - made - ONLY_OTHER_INPUTS.get(handler, set())
        # The copying step's KMS actions are used by RDS and EC2 on its behalf (kms:ViaService), never directly.
        if handler == "start_copy":
            unused = {a for a in unused if not a.startswith("kms:")}
        assert not unused, (handler, sorted(unused))
    kms_direct = {a for made in calls.values() for a in made if a.startswith("kms:")}
    assert kms_direct == {"kms:DescribeKey"}
    assert {"kms:DescribeKey"} <= calls["check_destination_key"]
