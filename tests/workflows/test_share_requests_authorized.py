"""Every AWS call of the snapshot-share machine, as the IAM request(s) AWS authorizes for it, is allowed by the
synthesized policies (kmsflow's evaluator on ``Assembly.from_templates`` over the default templates, so that
cross-stack and cross-region references resolve): the step roles' IAM policies, the sharing key's key policy
(``kmsflow-keys-workloads-primary``), the target copy roles' IAM and trust policies and the target keys' policies.
test_share_handler_permissions.py compares action names; this compares whole requests (the calls are its recording).

Each call becomes the requests of the Service Authorization Reference: resource ARNs per action (an EBS snapshot
is ``arn:aws:ec2:<region>::snapshot/<id>``), tags at creation as ``rds:AddTagsToResource`` / ``ec2:CreateTags``
with ``ec2:CreateAction``, ``aws:ResourceTag`` from the resource's tags at call time, ``kms:CreateGrant`` with
``kms:GranteePrincipal``, ``kms:RetiringPrincipal``, ``kms:GrantOperations`` (multi-valued) and
``kms:CallerAccount``, ``sts:AssumeRole`` with ``sts:ExternalId``. Across accounts both sides must allow: for
``sts:AssumeRole`` the target role's trust policy; for a copy of the source account's snapshot by the target
copy role the snapshot's share (RDS ``restore`` attribute, Aurora cluster snapshot attribute, EBS
``createVolumePermission``, read at call time), which stands in for a resource policy naming the target account.

``kms:RetireGrant`` is authorized by the grant, not by policy: the grant's retiring principal may retire it (KMS
Developer Guide, "Retiring and revoking grants"). It is not decided here; instead every grant is created with the
revoke role as retiring principal and the key policy allows creating grants only so.

Not decided here: the KMS requests RDS and EC2 make on a role's behalf during a copy (``kms:ViaService``; the
harness's SharingModel decides the shared key's side of a cross-account copy).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kmsflow.policy.assembly import Assembly, StackTemplate, authorize
from kmsflow.policy.evaluate import evaluate
from kmsflow.policy.model import Decision, Policy, Principal, Request
from tests.constructs.support import role_statements
from tests.workflows.share_world import SOURCE, SOURCE_REGION, TARGET, TARGET_REGION, TARGET_STACKS, WORKFLOWS_STACK
from tests.workflows.test_share_handler_permissions import SHARE_HANDLERS, Call, Recording, recorded_share_calls

KEYS_STACK = "kmsflow-keys-workloads-primary"
#: The keys the world makes (share_world.py), by the template resource that stands for each: (stack, logical id
#: prefix, type).
TEMPLATE_KEYS = {
    "sharing": (KEYS_STACK, "sharedsnapshots", "AWS::KMS::Key"),
    f"partner:{SOURCE_REGION}": ("kmsflow-keys-partner-primary", "partnersnapshots", "AWS::KMS::Key"),
    f"partner:{TARGET_REGION}": ("kmsflow-keys-partner-secondary", "partnersnapshots", "AWS::KMS::ReplicaKey"),
}
REVOKE_ROLE = f"arn:aws:iam::{SOURCE}:role/kmsflow-snapshot-share-{SOURCE_REGION}-revoke"
OPEN_ROLE = f"arn:aws:iam::{SOURCE}:role/kmsflow-snapshot-share-{SOURCE_REGION}-open-access"
COPY_ROLE = f"arn:aws:iam::{TARGET}:role/kmsflow-share-{SOURCE}-{SOURCE_REGION}-{TARGET_REGION}"


@pytest.fixture(scope="module")
def share_calls(default_templates: dict[str, dict[str, Any]]) -> Recording:
    return recorded_share_calls(default_templates)


@pytest.fixture(scope="module")
def stacks(default_outdir: Path) -> dict[str, StackTemplate]:
    """Every stack of the default app with its environment (from the cloud assembly's manifest)."""
    return dict(Assembly.from_directory(default_outdir).stacks)


def assembly_of(stacks: Mapping[str, StackTemplate], changed: Mapping[str, Mapping[str, Any]] = {}) -> Assembly:
    """The default templates (``changed`` replacing some) as one assembly."""
    return Assembly.from_templates(
        StackTemplate(name=s.name, account=s.account, region=s.region, template=changed.get(s.name, s.template))
        for s in stacks.values()
    )


def template_keys(assembly: Assembly, world_keys: Mapping[str, str]) -> dict[str, str]:
    """moto key ARN -> the ARN of the template key it stands for."""
    found = {}
    for name, (stack, prefix, kind) in TEMPLATE_KEYS.items():
        (arn,) = [r.arn for r in assembly.resources(kind) if r.stack == stack and r.logical_id.startswith(prefix)]
        found[world_keys[name]] = arn
    return found


# --- Calls -> requests -------------------------------------------------------------------------------------------


def _rds_arn(call: Call, kind: str, name: str, region: str | None = None) -> str:
    return name if name.startswith("arn:") else f"arn:aws:rds:{region or call.region}:{call.account}:{kind}:{name}"


def _ec2_snapshot(region: str, snapshot_id: str) -> str:
    return f"arn:aws:ec2:{region}::snapshot/{snapshot_id}"


def _tags(call: Call, ident: str) -> dict[str, str]:
    """``aws:ResourceTag/<key>`` of a snapshot the call names, as it was when the call was made."""
    state = call.snapshots.get(ident)
    return {f"aws:ResourceTag/{k}": v for k, v in (state or {}).get("tags", {}).items()}


def iam_requests(call: Call) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The (action, resource, context) triples AWS authorizes for one call."""
    op, params, region = call.operation, call.params, call.region
    here: dict[str, Any] = {"aws:RequestedRegion": region}
    if op in ("DescribeDBSnapshots", "DeleteDBSnapshot", "DescribeDBSnapshotAttributes", "ModifyDBSnapshotAttribute"):
        if "DBSnapshotIdentifier" in params:
            name = params["DBSnapshotIdentifier"]
            extra = _tags(call, name) if op == "DeleteDBSnapshot" else {}
            yield f"rds:{op}", _rds_arn(call, "snapshot", name), {**here, **extra}
        else:
            yield f"rds:{op}", _rds_arn(call, "db", params["DBInstanceIdentifier"]), here
    elif op in (
        "DescribeDBClusterSnapshots",
        "DeleteDBClusterSnapshot",
        "DescribeDBClusterSnapshotAttributes",
        "ModifyDBClusterSnapshotAttribute",
    ):
        if "DBClusterSnapshotIdentifier" in params:
            name = params["DBClusterSnapshotIdentifier"]
            extra = _tags(call, name) if op == "DeleteDBClusterSnapshot" else {}
            yield f"rds:{op}", _rds_arn(call, "cluster-snapshot", name), {**here, **extra}
        else:
            yield f"rds:{op}", _rds_arn(call, "cluster", params["DBClusterIdentifier"]), here
    elif op == "DescribeDBClusters":
        yield "rds:DescribeDBClusters", _rds_arn(call, "cluster", params["DBClusterIdentifier"]), here
    elif op in ("CreateDBSnapshot", "CreateDBClusterSnapshot"):
        parent, snapshot = ("db", "snapshot") if op == "CreateDBSnapshot" else ("cluster", "cluster-snapshot")
        parent_id = params.get("DBInstanceIdentifier") or params["DBClusterIdentifier"]
        target = params.get("DBSnapshotIdentifier") or params["DBClusterSnapshotIdentifier"]
        yield f"rds:{op}", _rds_arn(call, parent, parent_id), here
        yield f"rds:{op}", _rds_arn(call, snapshot, target), here
        if params.get("Tags"):
            yield "rds:AddTagsToResource", _rds_arn(call, snapshot, target), here
    elif op in ("CopyDBSnapshot", "CopyDBClusterSnapshot"):
        kind = "snapshot" if op == "CopyDBSnapshot" else "cluster-snapshot"
        source = params.get("SourceDBSnapshotIdentifier") or params["SourceDBClusterSnapshotIdentifier"]
        target = params.get("TargetDBSnapshotIdentifier") or params["TargetDBClusterSnapshotIdentifier"]
        source_region = source.split(":")[3] if source.startswith("arn:") else region
        # The copy reads the source through a request signed for the source region (the presigned URL).
        yield f"rds:{op}", _rds_arn(call, kind, source, source_region), {"aws:RequestedRegion": source_region}
        yield f"rds:{op}", _rds_arn(call, kind, target), here
        if params.get("OptionGroupName"):
            yield f"rds:{op}", _rds_arn(call, "og", params["OptionGroupName"]), here
        if params.get("Tags"):
            yield "rds:AddTagsToResource", _rds_arn(call, kind, target), here
    elif op == "AddTagsToResource":
        yield "rds:AddTagsToResource", params["ResourceName"], here
    elif op == "DescribeSnapshots":
        yield "ec2:DescribeSnapshots", "*", here
    elif op == "CreateSnapshot":
        yield "ec2:CreateSnapshot", f"arn:aws:ec2:{region}:{call.account}:volume/{params['VolumeId']}", here
        yield "ec2:CreateSnapshot", _ec2_snapshot(region, "*"), here
        if params.get("TagSpecifications"):
            yield "ec2:CreateTags", _ec2_snapshot(region, "*"), {**here, "ec2:CreateAction": "CreateSnapshot"}
    elif op == "CopySnapshot":
        source_region = params["SourceRegion"]
        source = _ec2_snapshot(source_region, params["SourceSnapshotId"])
        yield "ec2:CopySnapshot", source, {"aws:RequestedRegion": source_region}
        yield "ec2:CopySnapshot", _ec2_snapshot(region, "*"), here
        if params.get("TagSpecifications"):
            yield "ec2:CreateTags", _ec2_snapshot(region, "*"), {**here, "ec2:CreateAction": "CopySnapshot"}
    elif op in ("CreateTags", "DeleteSnapshot", "DescribeSnapshotAttribute", "ModifySnapshotAttribute"):
        for snapshot_id in params.get("Resources") or [params["SnapshotId"]]:
            extra = _tags(call, snapshot_id) if op in ("CreateTags", "DeleteSnapshot") else {}
            yield f"ec2:{op}", _ec2_snapshot(region, snapshot_id), {**here, **extra}
    elif op in ("DescribeKey", "ListGrants", "RetireGrant"):
        yield f"kms:{op}", params["KeyId"], {**here, "kms:CallerAccount": call.account}
    elif op == "CreateGrant":
        yield (
            "kms:CreateGrant",
            params["KeyId"],
            {
                **here,
                "kms:CallerAccount": call.account,
                "kms:GranteePrincipal": params["GranteePrincipal"],
                "kms:RetiringPrincipal": params["RetiringPrincipal"],
                "kms:GrantOperations": list(params["Operations"]),
            },
        )
    elif op == "AssumeRole":
        yield "sts:AssumeRole", params["RoleArn"], {"sts:ExternalId": params["ExternalId"]}
    else:
        raise AssertionError(f"no IAM mapping for {op}: add one to this test")


def _share_policy(resource: str, action: str, shared_with: list[str]) -> Policy:
    """A snapshot's share as the resource side of a cross-account request: the accounts it is shared with."""
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": action,
            "Resource": resource,
        }
        for account in shared_with
        if account != "all"  # the machine never shares with all
    ]
    return Policy(document={"Statement": statements}, source=f"share of {resource} ({shared_with})")


def principal_of(call: Call, templates: Mapping[str, Mapping[str, Any]]) -> str:
    """The role the call is made as: the assumed target copy role, else the step's own role."""
    if call.role is not None:
        return call.role
    role, _ = role_statements(dict(templates[WORKFLOWS_STACK]), call.handler, SHARE_HANDLERS)
    return f"arn:aws:iam::{SOURCE}:role/{role['Properties']['RoleName']}"


def decisions(
    calls: list[Call], assembly: Assembly, keys: Mapping[str, str], templates: Mapping[str, Mapping[str, Any]]
) -> Iterator[tuple[Call, Request, Decision]]:
    """Each call's requests, decided (kms:RetireGrant left out: the grant authorizes it, see the docstring)."""
    for call in calls:
        principal = principal_of(call, templates)
        for action, resource, context in iam_requests(call):
            if action == "kms:RetireGrant":
                continue
            target = keys.get(resource, resource)
            request = Request(principal=Principal.role(principal), action=action, resource=target, context=context)
            state = next(
                (
                    s
                    for ident, s in call.snapshots.items()
                    if resource == ident or resource.endswith(("/" + ident, ":" + ident))
                ),
                None,
            )
            if state is not None and state["account"] != call.account:
                # A snapshot of the other account, shared: its share is the resource side.
                decision = evaluate(
                    request,
                    identity_policies=assembly.identity_policies(principal),
                    resource_policy=_share_policy(target, action, state["shared_with"]),
                    resource_account=state["account"],
                )
            else:
                decision = authorize(assembly, request)
            yield call, request, decision


def denials(
    calls: list[Call], assembly: Assembly, keys: Mapping[str, str], templates: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    found = [
        f"{call.handler} as {request.principal.arn}: {request.action} on {request.resource} {dict(request.context)}"
        f"\n    {decision.reason}"
        for call, request, decision in decisions(calls, assembly, keys, templates)
        if not decision.allowed
    ]
    return list(dict.fromkeys(found))


def _usable(calls: list[Call], disabled_key: str) -> list[Call]:
    """The calls to be allowed: all but the copy role's DescribeKey of the undeclared (disabled) key."""
    return [c for c in calls if c.params.get("KeyId") != disabled_key]


# --- Tests -------------------------------------------------------------------------------------------------------


def test_every_share_call_is_allowed_by_the_synthesized_policies(
    default_templates: dict[str, dict[str, Any]], stacks: dict[str, StackTemplate], share_calls: Recording
) -> None:
    assembly = assembly_of(stacks)
    keys = template_keys(assembly, share_calls.world_keys)
    calls = _usable(share_calls.calls, share_calls.disabled_key)
    actions = {request.action for _, request, _ in decisions(calls, assembly, keys, default_templates)}
    assert actions >= {
        "sts:AssumeRole",
        "kms:CreateGrant",
        "kms:ListGrants",
        "kms:DescribeKey",
        "rds:ModifyDBSnapshotAttribute",
        "rds:ModifyDBClusterSnapshotAttribute",
        "ec2:ModifySnapshotAttribute",
        "rds:CopyDBSnapshot",
        "rds:CopyDBClusterSnapshot",
        "ec2:CopySnapshot",
        "rds:AddTagsToResource",
        "ec2:CreateTags",
        "rds:DeleteDBSnapshot",
        "rds:DeleteDBClusterSnapshot",
        "ec2:DeleteSnapshot",
    }
    assert denials(calls, assembly, keys, default_templates) == []


def test_cross_account_requests_are_decided_on_both_sides(
    default_templates: dict[str, dict[str, Any]], stacks: dict[str, StackTemplate], share_calls: Recording
) -> None:
    """The target copy role copies snapshots of the source account (allowed by their share and its policy), and the
    target_copy step assumes it (allowed by the step role's policy and the copy role's trust, with the external id)."""
    assembly = assembly_of(stacks)
    keys = template_keys(assembly, share_calls.world_keys)
    decided = list(decisions(share_calls.calls, assembly, keys, default_templates))
    assumed = [(r, d) for _, r, d in decided if r.action == "sts:AssumeRole"]
    assert assumed
    for request, decision in assumed:
        assert request.principal.arn == f"arn:aws:iam::{SOURCE}:role/kmsflow-snapshot-share-{SOURCE_REGION}-target-copy"
        assert decision.allowed, decision.reason
        assert "cross-account" in decision.reason, decision.reason
        # Both sides: the step role's IAM policy and the copy role's trust policy, in the stack of its region.
        region = request.resource.rsplit("-", 3)[-3:]
        stacks_of = {ref.policy.source.split("/")[0] for ref in decision.allowing}
        assert stacks_of == {WORKFLOWS_STACK, TARGET_STACKS["-".join(region)]}, stacks_of
        assert {ref.sid for ref in decision.allowing} >= {"AssumeTargetCopyRoles"}
    shared_copies = [
        (c, r, d)
        for c, r, d in decided
        if c.role is not None and r.action.startswith(("rds:Copy", "ec2:Copy")) and f":{SOURCE}:" in r.resource
    ]
    assert {r.action for _, r, _ in shared_copies} >= {"rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"}
    assert all(d.allowed and "cross-account" in d.reason for _, _, d in shared_copies)
    # EBS snapshot ARNs name no account: the share of the source account's snapshot decides with the role's policy.
    ebs = [
        d
        for c, r, d in decided
        if c.role is not None and r.action == "ec2:CopySnapshot" and "share of" in str(d.allowing)
    ]
    assert ebs
    assert all(d.allowed for d in ebs)
    # The undeclared (disabled) key: the copy role may not even describe it.
    (refused,) = {d.outcome for c, _, d in decided if c.params.get("KeyId") == share_calls.disabled_key}
    assert refused != "allowed"


def test_every_grant_is_retired_by_the_revoke_role_as_its_retiring_principal(
    default_templates: dict[str, dict[str, Any]], stacks: dict[str, StackTemplate], share_calls: Recording
) -> None:
    """RetireGrant is authorized by the grant (its retiring principal), not by policy: the grants name the revoke
    role, the key policy lets grants be created only so, and only the revoke step retires them."""
    created = [c for c in share_calls.calls if c.operation == "CreateGrant"]
    retired = [c for c in share_calls.calls if c.operation == "RetireGrant"]
    assert created
    assert retired
    assert {c.params["RetiringPrincipal"] for c in created} == {REVOKE_ROLE}
    assert {c.handler for c in retired} == {"revoke"}
    assert {principal_of(c, default_templates) for c in retired} == {REVOKE_ROLE}
    assert {c.params["KeyId"] for c in retired} <= {c.params["KeyId"] for c in created}
    # The key policy (and the open_access role's policy) refuse a grant with any other retiring principal.
    assembly = assembly_of(stacks)
    keys = template_keys(assembly, share_calls.world_keys)
    grant = created[0]
    for change in ({"RetiringPrincipal": OPEN_ROLE}, {"Operations": [*grant.params["Operations"], "RetireGrant"]}):
        call = Call(**{**grant.__dict__, "params": {**grant.params, **change}})
        ((_, _, decision),) = decisions([call], assembly, keys, default_templates)
        assert not decision.allowed, (change, decision.reason)
    # The sharing key's own policy requires that retiring principal (whatever the open_access role's policy says).
    key_policy = assembly.resource_policy(keys[share_calls.world_keys["sharing"]])
    assert key_policy is not None
    (statement,) = [
        s
        for s in key_policy[0].document["Statement"]
        if "kms:CreateGrant" in str(s["Action"]) and "kms:GranteePrincipal" in str(s.get("Condition"))
    ]
    assert statement["Condition"]["StringEquals"]["kms:RetiringPrincipal"] == REVOKE_ROLE
    assert COPY_ROLE in statement["Condition"]["StringEquals"]["kms:GranteePrincipal"]


@pytest.mark.parametrize(
    ("stack", "sid", "action"),
    [
        (KEYS_STACK, "ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess", "kms:CreateGrant"),
        (WORKFLOWS_STACK, "ListGrantsKmsflowSnapshotShareEuWest1Revoke", "kms:ListGrants"),
        (WORKFLOWS_STACK, "ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess", "kms:CreateGrant"),
        (WORKFLOWS_STACK, "AssumeTargetCopyRoles", "sts:AssumeRole"),
        (WORKFLOWS_STACK, "AuroraShareSource", "rds:ModifyDBClusterSnapshotAttribute"),
        (TARGET_STACKS[TARGET_REGION], "#trust", "sts:AssumeRole"),
        (TARGET_STACKS[TARGET_REGION], "RdsCopyFromShared", "rds:CopyDBSnapshot"),
        (TARGET_STACKS[TARGET_REGION], "AuroraCopyFromShared", "rds:CopyDBClusterSnapshot"),
        (TARGET_STACKS[TARGET_REGION], "EbsCopyToTarget", "ec2:CopySnapshot"),
        (TARGET_STACKS[TARGET_REGION], "DescribeKmsflowShare222222222222EuWest1EuCentral1", "kms:DescribeKey"),
    ],
)
def test_a_removed_statement_a_call_relies_on_is_a_denial(
    default_templates: dict[str, dict[str, Any]],
    stacks: dict[str, StackTemplate],
    share_calls: Recording,
    stack: str,
    sid: str,
    action: str,
) -> None:
    template = copy.deepcopy(dict(stacks[stack].template))
    removed = 0
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        documents = [props.get("KeyPolicy"), props.get("PolicyDocument")]
        if sid == "#trust" and str(props.get("RoleName", "")).startswith("kmsflow-share-"):
            documents = [props["AssumeRolePolicyDocument"]]
        for document in filter(None, documents):
            kept = [s for s in document["Statement"] if sid != "#trust" and s.get("Sid") != sid]
            removed += len(document["Statement"]) - len(kept)
            document["Statement"] = kept
    assert removed, (stack, sid)
    assembly = assembly_of(stacks, {stack: template})
    keys = template_keys(assembly, share_calls.world_keys)
    calls = _usable(share_calls.calls, share_calls.disabled_key)
    found = denials(calls, assembly, keys, default_templates)
    assert any(f": {action} on " in d for d in found), found
