"""Least privilege of the snapshot-share machine, proven per role (issue 10: "one role per step with exactly its
handler's calls"), as test_handler_permissions.py does for the copy machine.

The share machine is run end to end on the two-account harness (tests/workflows/share_world.py) for every source
kind into eu-central-1 (RDS and Aurora take two hops there), with a source deleted afterwards, a grant that
propagates slowly (EBS fails and deletes a copy), a disabled target key and a failure during the target copy (so
``revoke`` runs on the failure path, ``target_copy`` cleans up and ``on_failure`` reports). Every AWS call is
recorded with the role it is made as: a call through ``aws_clients.client(..., role_arn=...)`` (directly or through
an adapter built with a ``RoleRef``) is the target copy role's, in account 333333333333; any other call is the
step's own role's, and so is ``sts:AssumeRole`` of the copy role. Then:

(a) every call's IAM action is allowed by that role's synthesized policies (the target copy role: the one in
    ``kmsflow-share-target-partner-*`` of the copy's region);
(b) every snapshot, KMS and STS action a role holds is called, except those listed in :data:`ONLY_OTHER_INPUTS`
    with a reason, and KMS actions held only under ``kms:ViaService`` (RDS and EC2 use them on the role's behalf).

test_share_requests_authorized.py decides each recorded call as whole requests (resources, conditions, key and
trust policies) with kmsflow's evaluator. The recording (:func:`recorded_share_calls`) is made once per test
session and shared by both modules.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends

from kmsflow.lambdas import aws_clients
from kmsflow.policy.document import as_list
from tests.constructs.support import handler_functions, of_type, role_statements
from tests.support.sfn_harness import current_handler
from tests.workflows.share_world import (
    KINDS,
    SOURCE,
    SOURCE_REGION,
    TARGET,
    TARGET_REGION,
    TARGET_STACKS,
    WORKFLOWS_STACK,
    ShareWorld,
    make_source,
    share_world,
)

SHARE_HANDLERS = "kmsflow.lambdas.snapshot_share.handlers"
#: botocore service name -> IAM action prefix.
PREFIX = {"rds": "rds", "ec2": "ec2", "kms": "kms", "sts": "sts"}
SERVICE_ACTIONS = re.compile(r"^(rds|ec2|kms|sts):")

#: Actions a role holds that these runs do not call, and why (source step roles by handler name, the target copy
#: roles by role name).
ONLY_OTHER_INPUTS: Mapping[str, Mapping[str, str]] = {
    "prepare_source": {
        # Tags given at creation are authorized as the tagging action (the requests test checks that request).
        "rds:AddTagsToResource": "tags at CreateDBSnapshot/CreateDBClusterSnapshot are authorized as it",
        "ec2:CreateTags": "tags at CreateSnapshot are authorized as it (ec2:CreateAction)",
    },
    "prepare_shareable": {
        "rds:AddTagsToResource": "tags at CopyDBSnapshot/CopyDBClusterSnapshot are authorized as it",
        "ec2:CreateTags": "tags at CopySnapshot are authorized as it (ec2:CreateAction)",
    },
    "kmsflow-share-222222222222-eu-west-1-eu-west-1": {
        "rds:AddTagsToResource": "tags at CopyDBSnapshot/CopyDBClusterSnapshot are authorized as it; adding "
        "missing lineage tags later happens only to a copy a rerun finds without them",
        "ec2:CreateTags": "tags at CopySnapshot (ec2:CreateAction) and on a copy a rerun finds without its tags",
        "rds:DeleteDBSnapshot": "a share within its region makes no intermediate hop: deletes only on the failure "
        "path (exercised with the eu-central-1 role)",
        "rds:DeleteDBClusterSnapshot": "as rds:DeleteDBSnapshot",
        "ec2:DeleteSnapshot": "deletes only a failed EBS copy or on the failure path (exercised with the "
        "eu-central-1 role)",
    },
    "kmsflow-share-222222222222-eu-west-1-eu-central-1": {
        "rds:AddTagsToResource": "tags at CopyDBSnapshot/CopyDBClusterSnapshot are authorized as it; adding "
        "missing lineage tags later happens only to a copy a rerun finds without them",
        "ec2:CreateTags": "tags at CopySnapshot (ec2:CreateAction) and on a copy a rerun finds without its tags",
    },
}


@dataclass(frozen=True)
class Call:
    """One AWS API call of a share handler: who made it (``role`` None: the step's own role; else the assumed
    target copy role's ARN), where, with which parameters, and the state of the snapshots it names at call time."""

    handler: str
    role: str | None
    account: str
    service: str
    operation: str
    region: str
    params: Mapping[str, Any]
    #: snapshot id -> {"account", "region", "tags", "shared_with"} of every snapshot the call names (before it).
    snapshots: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return f"{PREFIX[self.service]}:{self.operation}"


@dataclass
class Recording:
    calls: list[Call]
    world_keys: dict[str, str]  # "sharing", "partner:<region>" -> moto key ARN
    disabled_key: str


# --- Recording ---------------------------------------------------------------------------------------------------


def _rds_snapshot(account: str, region: str, ident: str) -> Any:
    backend = rds_backends[account][region]
    name = ident.rsplit(":", 1)[-1]
    return backend.database_snapshots.get(name) or backend.cluster_snapshots.get(name)


def _snapshot_state(service: str, account: str, region: str, ident: str) -> dict[str, Any] | None:
    """Tags and share of a snapshot as they are now (an ARN names its own account and region)."""
    if ident.startswith("arn:"):
        account, region = ident.split(":")[4], ident.split(":")[3]
    if service == "rds":
        found = _rds_snapshot(account, region, ident)
        if found is None:
            return None
        tags = {t["Key"]: t["Value"] for t in found.tags or []}
        return {"account": account, "region": region, "tags": tags, "shared_with": list(found.attributes["restore"])}
    for owner in dict.fromkeys([account, SOURCE, TARGET]):  # a shared snapshot is another account's
        backend = ec2_backends[owner][region]
        snapshot = backend.snapshots.get(ident)
        if snapshot is not None:
            shared = sorted(snapshot.create_volume_permission_userids | snapshot.create_volume_permission_groups)
            return {
                "account": owner,
                "region": region,
                "tags": dict(backend.tags.get(ident, {})),
                "shared_with": shared,
            }
    return None


_SNAPSHOT_PARAMS = (
    "DBSnapshotIdentifier",
    "SourceDBSnapshotIdentifier",
    "DBClusterSnapshotIdentifier",
    "SourceDBClusterSnapshotIdentifier",
    "ResourceName",
    "SnapshotId",
    "SourceSnapshotId",
)


def _named_snapshots(service: str, account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
    idents = [params[p] for p in _SNAPSHOT_PARAMS if isinstance(params.get(p), str)]
    idents += [r for r in params.get("Resources", []) if isinstance(r, str)]
    states = {}
    for ident in idents:
        where = params.get("SourceRegion", region) if ident == params.get("SourceSnapshotId") else region
        state = _snapshot_state(service, account, where, ident)
        if state is not None:
            states[ident] = state
    return states


@contextmanager
def recording(calls: list[Call]) -> Iterator[None]:
    """Record every call made through ``aws_clients.client`` and every ``sts:AssumeRole`` of ``aws_clients``."""
    original_client, original_assumed = aws_clients.client, aws_clients._assumed

    def client(service: str, **kwargs: Any) -> Any:
        made = original_client(service, **kwargs)
        role = kwargs.get("role_arn")
        account = role.split(":")[4] if role else SOURCE
        region = made.meta.region_name

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            handler = current_handler()
            if handler is not None:  # not the test's own set-up calls
                states = _named_snapshots(service, account, region, params)
                calls.append(Call(handler, role, account, service, model.name, region, copy.deepcopy(params), states))

        made.meta.events.register("before-parameter-build", record)
        return made

    def assumed(*, region: str, role_arn: str, session_name: str, external_id: str | None) -> Any:
        handler = current_handler()
        if handler is not None:  # the step's own role assumes the target copy role
            params = {"RoleArn": role_arn, "RoleSessionName": session_name, "ExternalId": external_id}
            calls.append(Call(handler, None, SOURCE, "sts", "AssumeRole", region, params))
        return original_assumed(region=region, role_arn=role_arn, session_name=session_name, external_id=external_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws_clients, "client", client)
        patch.setattr(aws_clients, "_assumed", assumed)
        yield


def _run_all(world: ShareWorld) -> str:
    """The runs; returns the disabled target key's ARN."""
    for kind in KINDS:
        options: dict[str, Any] = {"tags": {"team": "orders"}}
        if kind in ("rds-instance", "aurora-cluster", "ebs-volume"):
            options["delete_source_snapshot"] = True  # finish deletes the snapshot the job took
        name = f"perm-{kind.replace('-', '')}"
        result = world.run(world.document(kind, make_source(world, kind, name=name), **options))
        assert result.status == "SUCCEEDED", (kind, result.error, result.cause)
        assert [h["region"] for h in result.output["target"]["hops"]][-1] == TARGET_REGION
    # Within the source region: the other target copy role, one hop each (one source already under the sharing key).
    for kind, encryption in (
        ("rds-snapshot", "sharing"),
        ("aurora-cluster-snapshot", "customer"),
        ("ebs-snapshot", "customer"),
    ):
        source = make_source(world, kind, encryption=encryption, name=f"here-{kind.replace('-', '')}")
        result = world.run(world.document(kind, source, region=SOURCE_REGION))
        assert result.status == "SUCCEEDED", (kind, result.error, result.cause)
    # A grant that counts only after 100 s: EBS accepts the copy, fails it, and the target role deletes it.
    world.h.sharing.grant_delay_seconds = 100
    result = world.run(world.document("ebs-snapshot", make_source(world, "ebs-snapshot", name="perm-slow")))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.state_counts["TargetCopy"] >= 2
    world.h.sharing.grant_delay_seconds = 0
    # A disabled target key: target_copy fails after the grant and the share; revoke runs on the failure path.
    kms = world.client(TARGET, "kms", TARGET_REGION)
    metadata = kms.create_key(Description="off")["KeyMetadata"]
    kms.disable_key(KeyId=metadata["KeyId"])
    source = make_source(world, "rds-snapshot", name="perm-disabled")
    result = world.run(world.document("rds-snapshot", source, key=metadata["Arn"]))
    assert (result.status, result.error) == ("FAILED", "TargetKeyNotUsable"), result.cause
    assert "Revoked: grants:" in result.cause
    # A failure while the target copy runs: the clean-up deletes the target's incomplete copy.
    world.h.faults.add(
        "InvalidParameterCombination",
        service="rds",
        operation="DescribeDBClusterSnapshots",
        handler="target_copy",
        skip=1,
        times=1,
    )
    source = make_source(world, "aurora-cluster-snapshot", name="perm-during")
    result = world.run(world.document("aurora-cluster-snapshot", source))
    assert result.status == "FAILED", result.output
    assert "Revoked:" in result.cause, result.cause
    assert "ACCESS MAY REMAIN" not in result.cause, result.cause
    assert "333333333333:" in result.cause  # a target copy was deleted
    world.h.faults.clear()
    return str(metadata["Arn"])


_RECORDED: list[Recording] = []


def recorded_share_calls(templates: Mapping[str, Mapping[str, Any]]) -> Recording:
    """The calls of the share runs above, made once per test session (shared with the requests test)."""
    if not _RECORDED:
        calls: list[Call] = []
        with share_world(templates, seed=13) as world, recording(calls):
            disabled = _run_all(world)
            keys = {"sharing": world.sharing_key, **{f"partner:{r}": k for r, k in world.target_keys.items()}}
        _RECORDED.append(Recording(calls=calls, world_keys=keys, disabled_key=disabled))
    return _RECORDED[0]


@pytest.fixture(scope="module")
def share_calls(default_templates: dict[str, dict[str, Any]]) -> Recording:
    return recorded_share_calls(default_templates)


# --- The checks --------------------------------------------------------------------------------------------------


def _held(statements: list[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """(every action the statements allow, the snapshot/KMS/STS actions allowed other than only through
    ``kms:ViaService``, i.e. those the role itself would call)."""
    allowed = {a for s in statements if s.get("Effect", "Allow") == "Allow" for a in as_list(s["Action"])}
    direct = {
        a
        for s in statements
        if s.get("Effect", "Allow") == "Allow"
        and "kms:ViaService" not in {k for block in s.get("Condition", {}).values() for k in block}
        for a in as_list(s["Action"])
        if SERVICE_ACTIONS.match(a)
    }
    return allowed, direct


def source_roles(template: Mapping[str, Any]) -> dict[str, tuple[set[str], set[str]]]:
    """handler -> (_held of its function's role) in the workflows stack."""
    return {
        handler: _held(role_statements(dict(template), handler, SHARE_HANDLERS)[1])
        for handler in handler_functions(dict(template), SHARE_HANDLERS)
    }


def target_roles(templates: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[set[str], set[str]]]:
    """copy role ARN -> (_held of its policies), from the target stacks."""
    found = {}
    for stack in TARGET_STACKS.values():
        template = dict(templates[stack])
        for role_id, role in of_type(template, "AWS::IAM::Role").items():
            name = role["Properties"].get("RoleName")
            if not isinstance(name, str) or not name.startswith("kmsflow-share-"):
                continue
            statements = [
                s
                for p in of_type(template, "AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"]["Roles"]
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            ]
            found[f"arn:aws:iam::{TARGET}:role/{name}"] = _held(statements)
    return found


def made_by_role(calls: list[Call]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(handler -> actions called as its own role, target role ARN -> actions called as it)."""
    own: dict[str, set[str]] = defaultdict(set)
    target: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        if call.role is None:
            own[call.handler].add(call.action)
        else:
            assert call.handler == "target_copy", call  # only target_copy acts in the target account
            target[call.role].add(call.action)
    return own, target


def problems(calls: list[Call], templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Calls a role does not allow, and snapshot/KMS/STS actions a role holds but no run called (unlisted)."""
    own, target = made_by_role(calls)
    found: list[str] = []
    for who, made, roles in (
        ("step", own, source_roles(templates[WORKFLOWS_STACK])),
        ("target", target, target_roles(templates)),
    ):
        for name, (allowed, direct) in roles.items():
            called = made.get(name, set())
            found += [f"{who} {name}: calls {a}, which its role does not allow" for a in sorted(called - allowed)]
            key = name.rsplit("/", 1)[-1]
            excused = ONLY_OTHER_INPUTS.get(key, {})
            if "*" in excused:
                continue
            found += [f"{who} {name}: holds {a}, never called" for a in sorted(direct - called - set(excused))]
        found += [f"{who} {name}: no such role in the templates" for name in sorted(set(made) - set(roles))]
    return found


# --- Tests -------------------------------------------------------------------------------------------------------


def test_every_share_role_allows_its_calls_and_holds_only_what_they_need(
    default_templates: dict[str, dict[str, Any]], share_calls: Recording
) -> None:
    own, target = made_by_role(share_calls.calls)
    assert set(source_roles(default_templates[WORKFLOWS_STACK])) == {
        "validate",
        "prepare_source",
        "check_source",
        "prepare_shareable",
        "check_shareable",
        "open_access",
        "target_copy",
        "revoke",
        "finish",
        "on_failure",
    }
    assert not own.get("validate")  # input checks only: no AWS call
    assert not own.get("on_failure")  # words the cause: no AWS call
    # The source step acts in the target account only through the assumed copy role.
    assert own["target_copy"] == {"sts:AssumeRole"}
    assert set(target) == {
        f"arn:aws:iam::{TARGET}:role/kmsflow-share-{SOURCE}-{SOURCE_REGION}-{region}"
        for region in (SOURCE_REGION, TARGET_REGION)
    }
    assert problems(share_calls.calls, default_templates) == []


def test_the_recorded_runs_cover_grant_share_copy_and_revocation(share_calls: Recording) -> None:
    own, target = made_by_role(share_calls.calls)
    assert {"kms:ListGrants", "kms:CreateGrant"} <= own["open_access"]
    assert {"kms:ListGrants", "kms:RetireGrant"} <= own["revoke"]
    assert {"rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute", "ec2:ModifySnapshotAttribute"} <= (
        own["open_access"] & own["revoke"]
    )
    for copy_role in target.values():
        assert {"kms:DescribeKey", "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot", "ec2:CopySnapshot"} <= copy_role
    kms_direct = {c.action for c in share_calls.calls if c.service == "kms"}
    assert kms_direct == {"kms:ListGrants", "kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"}


def _without(templates: Mapping[str, Mapping[str, Any]], stack: str, sid: str) -> dict[str, Any]:
    """A copy of the templates with the statement ``sid`` removed from every IAM policy of ``stack``."""
    changed = {name: template for name, template in templates.items()}
    template = copy.deepcopy(dict(templates[stack]))
    removed = 0
    for policy in of_type(template, "AWS::IAM::Policy").values():
        document = policy["Properties"]["PolicyDocument"]
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        removed += len(document["Statement"]) - len(kept)
        document["Statement"] = kept
    assert removed, f"{stack} has no statement {sid}"
    changed[stack] = template
    return changed


@pytest.mark.parametrize(
    ("stack", "sid", "expected"),
    [
        (
            WORKFLOWS_STACK,
            "ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess",
            "step open_access: calls kms:CreateGrant",
        ),
        (WORKFLOWS_STACK, "RetireGrantsKmsflowSnapshotShareEuWest1Revoke", "step revoke: calls kms:RetireGrant"),
        (WORKFLOWS_STACK, "AssumeTargetCopyRoles", "step target_copy: calls sts:AssumeRole"),
        (
            TARGET_STACKS[TARGET_REGION],
            "EbsDeleteOwnTarget",
            ":role/kmsflow-share-222222222222-eu-west-1-eu-central-1: calls ec2:DeleteSnapshot",
        ),
    ],
)
def test_a_removed_statement_that_a_call_needs_is_found(
    default_templates: dict[str, dict[str, Any]], share_calls: Recording, stack: str, sid: str, expected: str
) -> None:
    found = problems(share_calls.calls, _without(default_templates, stack, sid))
    assert any(expected in p and "does not allow" in p for p in found), found


def test_an_action_held_but_never_called_is_found(
    default_templates: dict[str, dict[str, Any]], share_calls: Recording
) -> None:
    templates = dict(default_templates)
    template = copy.deepcopy(templates[WORKFLOWS_STACK])
    _, statements = role_statements(template, "check_shareable", SHARE_HANDLERS)
    statements[0]["Action"] = [*as_list(statements[0]["Action"]), "rds:ModifyDBSnapshotAttribute"]
    templates[WORKFLOWS_STACK] = template
    assert "step check_shareable: holds rds:ModifyDBSnapshotAttribute, never called" in problems(
        share_calls.calls, templates
    )
