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

from kmsflow.policy.assembly import Assembly, StackTemplate
from kmsflow.policy.model import StatementRef
from kmsflow.policy.service_paths import ServicePath, service_paths

SECURITY, WORKLOADS = "111111111111", "222222222222"
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
    # Alarms of the central audit, the member audit and the workflows notify three topics; each topic key is
    # used by the publisher twice (GenerateDataKey, Decrypt).
    assert by_service["CloudWatch"] == 3
    assert by_service["cloudwatch.amazonaws.com"] == 6
    assert by_service["EventBridge"] == 1
    assert by_service["events.amazonaws.com"] == 2
    # Two trail log groups and nine workflow log groups (8 handlers + the state machine), two actions each.
    assert by_service["CloudWatch Logs"] == 2 * 11
    assert by_service["S3 server access logging"] == 1
    # kms:ViaService rows: the data key's service user (use + grants), the partner account (use + grants) on
    # shared-snapshots and its service user (use + grants), and the workflow's copy role on dr-snapshots
    # (use + grants).
    via = sorted(row.what.split(" on ")[1] for row in rows if row.service in {"RDS", "S3", "EC2"})
    assert len(via) == 8, via
    assert {v.split(" ")[0] for v in via} == {
        "kmsflow-keys-security-primary/dataKey49D9B62C",
        "kmsflow-keys-workloads-primary/sharedsnapshotsKeyFF5E39C4",
        "kmsflow-keys-workloads-secondary/drsnapshotsKey48C04C28",
    }
    deletes = [row for row in rows if row.service.startswith("workflow role")]
    # finish deletes source snapshots (RDS, Aurora, EBS) in the source region, on_failure copies in the
    # destination region.
    assert sorted((row.service.rsplit("-", 2)[-2:][-1], row.request.action) for row in deletes) == sorted(
        [(step, action) for step in ("finish", "failure") for action in (
            "ec2:DeleteSnapshot", "rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot"
        )]
    )  # fmt: skip
    assert by_service["CloudFormation (CDK deploy role)"] == 10  # every AWS::KMS::Key


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


def _without(assembly: Assembly, ref: StatementRef) -> Assembly:
    """The assembly with the statement ``ref`` names removed from its template (policy sources read
    ``<stack>/<logical id> <property>``; inline role policies ``Policies[i]``)."""
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
            document["Statement"] = [s for i, s in enumerate(raw if isinstance(raw, list) else [raw]) if i != ref.index]
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
