"""The review of whole cloud assemblies: the default app (every key, its facts), a baseline against a changed
configuration (exactly the changed facts), and unreadable assemblies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsflow.review.actions import KEY_ACTIONS, ActionKind
from kmsflow.review.build import review_assembly
from kmsflow.review.exceptions import ReviewError
from kmsflow.review.model import Condition, Review, Via
from tests.review.conftest import APP_RUNTIME, EXTRA_ROLE_NAME, PARTNER_READER, SECOND_ADMIN

SECURITY_ADMIN = "arn:aws:iam::111111111111:role/KeyAdministrator"
DATA_PROCESSOR = "arn:aws:iam::111111111111:role/DataProcessor"
START_COPY = "arn:aws:iam::222222222222:role/kmsflow-snapshot-copy-eu-west-1-start-copy"
OPEN_ACCESS = "arn:aws:iam::222222222222:role/kmsflow-snapshot-share-eu-west-1-open-access"
DATA_KEY = "arn:aws:kms:eu-west-1:111111111111:key/kmsflow-keys-security-primary-dataKey49D9B62C"
WORKLOADS_KEY = "arn:aws:kms:eu-west-1:222222222222:key/kmsflow-keys-workloads-primary-workloadsdefaultKeyDEAA7C57"
SHARED_KEY = "arn:aws:kms:eu-west-1:222222222222:key/kmsflow-keys-workloads-primary-sharedsnapshotsKeyFF5E39C4"
USE = {action for action, kind in KEY_ACTIONS.items() if kind is ActionKind.USE}


def actions_of(review: Review, key: str, principal: str) -> set[str]:
    (found,) = [k for k in review.keys if k.key.id == key]
    return {fact.action for fact in found.facts if fact.principal == principal}


def test_every_key_of_every_template_is_reviewed(default_outdir: Path, default_review: Review) -> None:
    declared = sorted(
        (path.name.removesuffix(".template.json"), logical_id)
        for path in default_outdir.glob("*.template.json")
        for logical_id, resource in json.loads(path.read_text())["Resources"].items()
        if resource["Type"] in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
    )
    assert len(declared) == 14
    assert sorted((k.key.stack, k.key.logical_id) for k in default_review.keys) == declared
    assert all(k.facts for k in default_review.keys)
    assert [k.key.id for k in default_review.keys] == sorted(k.key.id for k in default_review.keys)


def test_the_default_app_has_no_finding(default_review: Review) -> None:
    assert [(f.id, f.key, f.principal) for f in default_review.findings] == []


def test_administrators_administer_and_users_use(default_review: Review) -> None:
    admin = actions_of(default_review, DATA_KEY, SECURITY_ADMIN)
    assert "kms:PutKeyPolicy" in admin
    assert not admin & USE
    assert actions_of(default_review, DATA_KEY, DATA_PROCESSOR) >= {"kms:Encrypt", "kms:Decrypt"}
    assert default_review.principal(SECURITY_ADMIN).label == "key administrator"  # type: ignore[union-attr]


def test_service_users_carry_their_via_service_condition(default_review: Review) -> None:
    (data,) = [k for k in default_review.keys if k.key.id == DATA_KEY]
    decrypt = [f for f in data.facts if f.principal == APP_RUNTIME and f.action == "kms:Decrypt"]
    assert [f.conditions for f in decrypt] == [
        (
            Condition(
                operator="StringEquals",
                key="kms:ViaService",
                values=("ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"),
            ),
        )
    ]


def test_workflow_roles_reach_keys_through_iam_where_the_key_policy_delegates(default_review: Review) -> None:
    (workloads,) = [k for k in default_review.keys if k.key.id == WORKLOADS_KEY]
    facts = [f for f in workloads.facts if f.principal == START_COPY]
    assert {f.action for f in facts} == {"kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:DescribeKey"}
    assert {f.via for f in facts} == {Via.IAM}
    assert default_review.principal(START_COPY).label == "copy workflow step start-copy"  # type: ignore[union-attr]


def test_the_share_machine_creates_grants_only_for_the_target_roles(default_review: Review) -> None:
    (shared,) = [k for k in default_review.keys if k.key.id == SHARED_KEY]
    (creator,) = [g for g in shared.grant_creators if g.principal == OPEN_ACCESS]
    assert creator.grantees == (
        "arn:aws:iam::333333333333:role/kmsflow-share-222222222222-eu-west-1-eu-central-1",
        "arn:aws:iam::333333333333:role/kmsflow-share-222222222222-eu-west-1-eu-west-1",
    )
    assert creator.retiring_principals == ("arn:aws:iam::222222222222:role/kmsflow-snapshot-share-eu-west-1-revoke",)
    assert "Decrypt" in creator.operations
    assert not creator.for_aws_resource


def test_unknowns_name_outside_principals_and_organization_policies(default_review: Review) -> None:
    whats = {(u.what, u.where) for u in default_review.unknowns}
    assert ("organization policies", "AWS Organizations") in whats
    assert ("outside principal", SECURITY_ADMIN) in whats
    assert not any(what == "custom resource" for what, _ in whats)  # CDK's cross-region references resolve


def test_a_changed_configuration_reports_exactly_the_changed_facts(baseline_outdir: Path, changed_outdir: Path) -> None:
    diff = review_assembly(changed_outdir, baseline=baseline_outdir).diff
    assert diff is not None
    assert (diff.keys_added, diff.keys_removed) == ((), ())
    extra_role = f"arn:aws:iam::222222222222:role/{EXTRA_ROLE_NAME}"
    gained = {(g.key, g.fact.principal) for g in diff.gained}
    assert gained == {(DATA_KEY, PARTNER_READER), (WORKLOADS_KEY, extra_role)}
    assert {g.fact.action for g in diff.gained if g.fact.principal == extra_role} == {"kms:Decrypt", "kms:DescribeKey"}
    partner = [g.fact for g in diff.gained if g.fact.principal == PARTNER_READER]
    assert {"kms:Decrypt", "kms:Encrypt"} <= {f.action for f in partner}
    assert all(
        Condition(operator="StringEquals", key="kms:CallerAccount", values=("333333333333",)) in f.conditions
        for f in partner
    )
    assert {(lost.key, lost.fact.principal) for lost in diff.lost} == {(DATA_KEY, SECOND_ADMIN)}
    assert "kms:PutKeyPolicy" in {lost.fact.action for lost in diff.lost}
    assert {(c.key, c.principal, c.change) for c in diff.conditions} == {(DATA_KEY, APP_RUNTIME, "narrowed")}
    assert [(s.key, s.setting, s.before, s.after) for s in diff.settings if s.setting == "rotation"] == [
        (WORKLOADS_KEY, "rotation", "True", "False")
    ]
    assert [(f.rule, f.key) for f in diff.findings_new] == [("rotation-off", WORKLOADS_KEY)]
    assert diff.findings_resolved == ()


def test_the_same_assembly_against_itself_has_an_empty_diff(default_outdir: Path) -> None:
    diff = review_assembly(default_outdir, baseline=default_outdir).diff
    assert diff is not None
    assert diff.empty


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({}, "does not exist"),
        ({"file": "x"}, "is not a directory"),
        ({"manifest.json": None}, "manifest not found"),
        ({"manifest.json": "{not json"}, "the manifest is not valid JSON"),
        ({"manifest.json": "[]"}, "the manifest is not a JSON object"),
        (
            {
                "manifest.json": json.dumps(
                    {
                        "artifacts": {
                            "S": {
                                "type": "aws:cloudformation:stack",
                                "environment": "aws://1/r",
                                "properties": {"templateFile": "S.template.json"},
                            }
                        }
                    }
                )
            },
            "S.template.json: template not found",
        ),
    ],
)
def test_an_unreadable_assembly_is_a_review_error(tmp_path: Path, layout: dict[str, str | None], expected: str) -> None:
    target = tmp_path / "cdk.out"
    if "file" in layout:
        target.write_text("x")
    elif layout:
        target.mkdir()
        for name, text in layout.items():
            if text is not None:
                (target / name).write_text(text)
    with pytest.raises(ReviewError, match=expected):
        review_assembly(target)
