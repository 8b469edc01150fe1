"""The service-path table against the synthesized default templates: every request AWS makes for kmsflow is
allowed, every near-miss is denied, and every statement a row relies on is needed (removing it denies the row).

moto enforces none of these policies; the evaluator (kmsflow.policy.evaluate) is what answers here.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from kmsflow.lambdas.snapshot_share.grants import ALL_GRANT_OPERATIONS
from kmsflow.policy.assembly import Assembly, StackTemplate
from kmsflow.policy.model import StatementRef
from kmsflow.policy.service_paths import ServicePath, service_paths

SECURITY, WORKLOADS = "111111111111", "222222222222"
ROLE = "kmsflow-snapshot-share-eu-west-1"
TARGET_ROLE_1 = f"arn:aws:iam::333333333333:role/kmsflow-share-{WORKLOADS}-eu-west-1-eu-west-1"
TARGET_ROLE_2 = f"arn:aws:iam::333333333333:role/kmsflow-share-{WORKLOADS}-eu-west-1-eu-central-1"
TRAIL = "arn:aws:cloudtrail:eu-west-1:{account}:trail/kmsflow-audit"


@pytest.fixture(scope="module")
def assembly(default_outdir: Path) -> Assembly:
    return Assembly.from_directory(default_outdir)


@pytest.fixture(scope="module")
def rows(assembly: Assembly) -> list[ServicePath]:
    return service_paths(assembly)


def test_every_row_is_allowed(assembly: Assembly, rows: list[ServicePath]) -> None:
    denied = [f"{row}\n    {row.decide(assembly).reason}" for row in rows if not row.decide(assembly).allowed]
    assert denied == [], "\n".join(denied)


def test_every_near_miss_is_denied(assembly: Assembly, rows: list[ServicePath]) -> None:
    allowed = [
        f"{row} -- {miss.why}\n    {row.decide(assembly, miss.request).reason}"
        for row in rows
        for miss in row.near_misses
        if row.decide(assembly, miss.request).allowed
    ]
    assert allowed == [], "\n".join(allowed)


def test_every_row_cites_an_aws_page(rows: list[ServicePath]) -> None:
    for row in rows:
        assert "https://" in row.source, row


def _what(rows: list[ServicePath]) -> set[str]:
    return {f"{row.service}: {row.what}" for row in rows}


def test_the_table_holds_every_path_of_the_default_configuration(rows: list[ServicePath]) -> None:
    """The rows come from the templates: if a resource or statement disappeared, so would its rows."""
    what = _what(rows)
    for account in (SECURITY, WORKLOADS):
        trail = TRAIL.format(account=account)
        for expected in (
            f"CloudTrail: checks the ACL of the bucket of {trail}",
            f"CloudTrail: delivers a log file of {trail}",
            f"CloudTrail: generates the data key of a log file of {trail}",
            f"CloudTrail: describes the key of {trail}",
            f"CloudTrail: assumes its role to deliver {trail} to CloudWatch Logs",
            f"S3 for an auditor: decrypts a log file of {trail} for arn:aws:iam::{SECURITY}:role/Auditor",
        ):
            assert expected in what, expected
    by_service: dict[str, int] = defaultdict(int)
    for row in rows:
        by_service[row.service] += 1
    # Alarms of the central audit, the two member audits and the workflows notify four topics (the copy's and the
    # share's alarms one topic); each topic key is used by the publisher twice (GenerateDataKey, Decrypt).
    assert by_service["CloudWatch"] == 4
    assert by_service["cloudwatch.amazonaws.com"] == 8
    # One rule per state machine (copy, share), both to the notices topic.
    assert by_service["EventBridge"] == 2
    assert by_service["events.amazonaws.com"] == 4
    # Three trail log groups and twenty-one workflow log groups (8 copy handlers, 10 share handlers, two state
    # machines), two actions each.
    assert by_service["CloudWatch Logs"] == 2 * 23
    assert by_service["S3 server access logging"] == 1
    # kms:ViaService rows (use + grants each): the data key's service user; shared-snapshots' service user and the
    # share's re-encrypting step; dr-snapshots for the copy step; the partner key and its replica for the target
    # copy roles (primary: both roles, for Aurora's first hop in the source region; replica: the secondary's).
    via = sorted(row.what.split(" on ")[1] for row in rows if row.service in {"RDS", "S3", "EC2"})
    assert len(via) == 14, via
    assert {v.split(" ")[0] for v in via} == {
        "kmsflow-keys-security-primary/dataKey49D9B62C",
        "kmsflow-keys-workloads-primary/sharedsnapshotsKeyFF5E39C4",
        "kmsflow-keys-workloads-secondary/drsnapshotsKey48C04C28",
        "kmsflow-keys-partner-primary/partnersnapshotsKey902C35FD",
        "kmsflow-keys-partner-secondary/partnersnapshotsReplica0F2B0E50",
    }
    deletes = [row for row in rows if row.service.startswith("workflow role")]
    by_role: dict[str, set[str]] = defaultdict(set)
    for row in deletes:
        by_role[row.service.removeprefix("workflow role ")].add(row.request.action)
    # Copy: finish deletes source snapshots, on_failure copies in the destination region. Share: finish and revoke
    # delete in the source region. Target copy roles: their own copies in their region and the source region.
    every = {"ec2:DeleteSnapshot", "rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot"}
    assert by_role == {
        "kmsflow-snapshot-copy-eu-west-1-finish": every,
        "kmsflow-snapshot-copy-eu-west-1-on-failure": every,
        "kmsflow-snapshot-share-eu-west-1-finish": every,
        "kmsflow-snapshot-share-eu-west-1-revoke": every,
        "kmsflow-share-222222222222-eu-west-1-eu-west-1": every,
        "kmsflow-share-222222222222-eu-west-1-eu-central-1": every,
    }
    assert by_service["CloudFormation (CDK deploy role)"] == 12  # every AWS::KMS::Key


def test_the_share_rows_cover_the_grant_and_the_target_role(rows: list[ServicePath]) -> None:
    """Issue 10: the share step creates a grant on the sharing key only for a declared target copy role, only with a
    copy's operations and the revoke role as retiring principal; the target_copy step assumes each target copy role
    with its external id. Each row's near-misses (other grantee, extra operation, other retiring principal, other
    step role; wrong or missing external id, other role, other account) are denied by the test above."""
    grants = [row for row in rows if row.what.startswith("creates a ") and " copy grant on " in row.what]
    assert {row.service for row in grants} == {f"share step {ROLE}-open-access"}
    assert sorted(row.what.split(" for ")[1] for row in grants) == sorted(2 * [TARGET_ROLE_1, TARGET_ROLE_2])
    for row in grants:
        context = row.request.context
        assert set(context["kms:GrantOperations"]) <= set(ALL_GRANT_OPERATIONS)
        assert context["kms:RetiringPrincipal"] == f"arn:aws:iam::{WORKLOADS}:role/{ROLE}-revoke"
        whys = {miss.why for miss in row.near_misses}
        assert {
            "for another grantee",
            "with an operation a copy does not need (Sign)",
            "with an operation a copy does not need (RetireGrant)",
            "with another retiring principal",
            "by another step role of the account (the retiring one)",
        } <= whys
    assumes = [row for row in rows if row.request.action == "sts:AssumeRole" and row.service.startswith("share")]
    assert sorted(row.request.resource for row in assumes) == sorted([TARGET_ROLE_1, TARGET_ROLE_2])
    for row in assumes:
        assert row.request.principal.arn == f"arn:aws:iam::{WORKLOADS}:role/{ROLE}-target-copy"
        assert row.request.context["sts:ExternalId"] == f"kmsflow-share-{WORKLOADS}-eu-west-1"
        assert {miss.why for miss in row.near_misses} == {
            "with a wrong external id",
            "without an external id",
            "by another role of the source account",
            "by the same role name in another account",
        }


def _key_policy_rows(rows: list[ServicePath], service: str) -> list[ServicePath]:
    return [row for row in rows if row.service == service]


def test_near_misses_cover_what_the_issue_names(rows: list[ServicePath]) -> None:
    """Another account's alarm, another trail, another service, plain HTTP, a snapshot kmsflow did not make."""
    whys = {miss.why for row in rows for miss in row.near_misses}
    for expected in (
        "for another account's alarm",
        "for another account's trail",
        "from another account's trail into this account's prefix",
        "for another rule of the account",
        "through a service the statement does not list",
        "called directly, not through the service",
        "a grant that is not for an AWS resource",
        "over plain HTTP (aws:SecureTransport false)",
        "a snapshot without kmsflow's job tag",
        "an automated RDS backup (not named by kmsflow)",
        "decrypting with the key (root holds administration only)",
    ):
        assert expected in whys, expected


# --- Every statement a row relies on is needed ---------------------------------------------------------------


def _without(assembly: Assembly, ref: StatementRef, *more: StatementRef) -> Assembly:
    """The assembly with the statement ``ref`` names (and those of ``more``, of the same policy) removed from its
    template (policy sources read ``<stack>/<logical id> <property>``; inline role policies ``Policies[i]``)."""
    assert all(other.policy.source == ref.policy.source for other in more)
    removed = {ref.index, *(other.index for other in more)}
    where, label = ref.policy.source.split(" ", 1)
    stack_name, logical_id = where.split("/", 1)
    stacks = []
    for stack in assembly.stacks.values():
        template: Any = stack.template
        if stack.name == stack_name:
            template = copy.deepcopy(template)
            props = template["Resources"][logical_id]["Properties"]
            if label.startswith("Policies["):
                document = props["Policies"][int(label[len("Policies[") : -1])]["PolicyDocument"]
            else:
                document = props[label]
            raw = document["Statement"]
            document["Statement"] = [
                s for i, s in enumerate(raw if isinstance(raw, list) else [raw]) if i not in removed
            ]
        stacks.append(
            StackTemplate(
                name=stack.name,
                account=stack.account,
                region=stack.region,
                template=template,
                partition=stack.partition,
            )
        )
    return Assembly.from_templates(stacks)


def test_removing_any_statement_a_row_relies_on_denies_that_row(assembly: Assembly, rows: list[ServicePath]) -> None:
    """Removing a statement a row relies on denies the row. One exception, by design: statements of one policy
    that each allow the row (the share's re-encrypting role may create grants on every key of its region for AWS
    resources, SourceKeyGrantsForAwsResources, and its sharing key's helper names that key too) are needed
    together: removing all of them from that policy must deny the row."""
    relied_on: dict[tuple[str, int], tuple[StatementRef, list[ServicePath]]] = {}
    for row in rows:
        for ref in row.decide(assembly).allowing:
            if ref.policy not in row.assumed_identity:  # policies outside the assembly cannot be removed here
                relied_on.setdefault((ref.policy.source, ref.index), (ref, []))[1].append(row)
    assert len(relied_on) > 40  # key, bucket, topic, trust and role statements
    still_allowed = []
    for (source, index), (ref, dependents) in relied_on.items():
        smaller = _without(assembly, ref)
        for row in dependents:
            decision = row.decide(smaller)
            if decision.allowed:
                peers = [r for r in row.decide(assembly).allowing if r.policy.source == source and r.index != index]
                if peers and not row.decide(_without(assembly, ref, *peers)).allowed:
                    continue  # redundant within one policy: needed together
                still_allowed.append(f"without {source} #{index} ({ref.sid}): {row} -- {decision.reason}")
    assert still_allowed == [], "\n".join(still_allowed)


def test_the_removal_helper_really_removes_the_statement(assembly: Assembly, rows: list[ServicePath]) -> None:
    """The mutation test above is only as good as its helper: the removed statement is gone, nothing else."""
    row = next(r for r in rows if r.service == "CloudWatch")
    (ref,) = [r for r in row.decide(assembly).allowing]
    smaller = _without(assembly, ref)
    governing = smaller.resource_policy(row.request.resource)
    assert governing is not None
    sids = [s.get("Sid") for s in governing[0].document["Statement"]]
    assert ref.sid not in sids
    assert len(sids) == len(ref.policy.document["Statement"]) - 1
