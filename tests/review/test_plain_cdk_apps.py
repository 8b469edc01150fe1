"""Plain aws-cdk apps (no kmsflow construct) reviewed: what CDK's own grants, imports and statements become."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmsflow.cli import app as cli
from kmsflow.review.build import review_assembly
from kmsflow.review.model import KeyReview, Review, Via

ACCOUNT = "444444444444"
REGION = "eu-west-1"
READER = f"arn:aws:iam::{ACCOUNT}:role/plain-reader"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/plain-operator"


def _synth(outdir: Path) -> Path:
    """One app, two stacks: a CDK ``kms.Key`` (CDK's default key policy: the account root may do ``kms:*``)
    with a ``NotAction`` statement for an operator; a second stack whose role gets ``grant_decrypt`` on the key
    (a cross-stack reference) and uses the AWS managed key ``alias/aws/s3`` through an imported alias."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    keys = cdk.Stack(app, "plain-keys", env=env)
    key = kms.Key(keys, "DataKey", alias="alias/plain/data")
    operator = iam.Role(keys, "Operator", role_name="plain-operator", assumed_by=iam.AccountRootPrincipal())
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="OperatorAllButDeletion",
            principals=[operator],
            not_actions=["kms:ScheduleKeyDeletion"],
            resources=["*"],
        )
    )
    apps = cdk.Stack(app, "plain-apps", env=env)
    reader = iam.Role(apps, "Reader", role_name="plain-reader", assumed_by=iam.AccountRootPrincipal())
    key.grant_decrypt(reader)
    s3_key = kms.Alias.from_alias_name(apps, "S3Managed", "alias/aws/s3")
    reader.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[s3_key.key_arn]))
    # A stage: its stacks live in a nested cloud assembly (cdk.out/assembly-Prod/).
    stage = cdk.Stage(app, "Prod", env=env)
    staged = cdk.Stack(stage, "keys")
    kms.Key(staged, "StageKey", enable_key_rotation=True)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def plain_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory.mktemp("plain") / "cdk.out")


@pytest.fixture(scope="module")
def plain(plain_outdir: Path) -> Review:
    return review_assembly(plain_outdir)


def data_key(review: Review) -> KeyReview:
    (key,) = [k for k in review.keys if k.key.stack == "plain-keys"]
    return key


def test_only_the_customer_managed_keys_are_keys_stages_included(plain: Review) -> None:
    assert [(k.key.stack, k.key.template, k.key.aliases, k.key.rotation) for k in plain.keys] == [
        ("Prod-keys", "assembly-Prod/Prodkeys6A109B8B.template.json", (), True),  # sorted by key ARN
        ("plain-keys", "plain-keys.template.json", ("alias/plain/data",), False),
    ]


def test_grant_decrypt_in_another_stack_is_a_fact_through_the_root_delegation(plain: Review) -> None:
    key = data_key(plain)
    facts = [f for f in key.facts if f.principal == READER]
    assert sorted(f.action for f in facts) == ["kms:Decrypt"]
    (fact,) = facts
    assert fact.via is Via.IAM
    # CDK's default key policy: statement 0, without a Sid, lets the account root (IAM) decide.
    assert [(s.sid, s.via) for s in fact.sources] == [("#0", Via.KEY_POLICY), ("#0", Via.IAM)]
    assert fact.sources[1].policy.startswith("plain-apps/ReaderDefaultPolicy")


def test_the_aws_managed_key_is_listed_as_unknown(plain: Review) -> None:
    unknown = [u for u in plain.unknowns if u.what == "aws managed key"]
    assert [u.detail.split(" ")[0] for u in unknown] == ["alias/aws/s3"]


def test_not_action_is_a_high_finding_with_its_statement(plain: Review) -> None:
    key = data_key(plain)
    broad = [f for f in key.findings if f.rule == "broad-grant"]
    assert [(f.severity.value, f.principal, f.source.sid if f.source else None) for f in broad] == [
        ("high", OPERATOR, "OperatorAllButDeletion")
    ]
    operator_actions = {f.action for f in key.facts if f.principal == OPERATOR}
    assert "kms:PutKeyPolicy" in operator_actions
    assert "kms:ScheduleKeyDeletion" not in operator_actions


def test_cdk_keys_rotate_only_when_asked(plain: Review) -> None:
    key = data_key(plain)
    assert key.key.rotation is False
    assert "rotation-off" in {f.rule for f in key.findings}


def test_fail_on_high_exits_1_on_this_app(plain_outdir: Path) -> None:
    result = CliRunner().invoke(cli, ["review", str(plain_outdir), "--format", "json"])
    assert result.exit_code == 1
    assert "finding(s) at or above high" in result.stderr


def test_sarif_locates_a_stage_finding_in_its_nested_template(plain: Review) -> None:
    from dataclasses import replace

    from kmsflow.review.render.sarif import template_uri

    (staged,) = [k.key for k in plain.keys if k.key.stack == "Prod-keys"]
    assert template_uri(staged, "cdk.out") == "cdk.out/assembly-Prod/Prodkeys6A109B8B.template.json"
    assert template_uri(replace(staged, template=""), "cdk.out") == "cdk.out/Prod-keys.template.json"
