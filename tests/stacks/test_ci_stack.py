"""The CI stack of `pipeline.github`: GitHub's OIDC provider and a deploy role whose trust admits exactly the
configured repository's branch and stage environments, and whose only permission is to assume the CDK bootstrap
roles of the stages' accounts and regions. Synthesized once per module, with every cdk-nag pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmsflow.app import new_app, populate
from kmsflow.config import load_config, parse_config
from kmsflow.plan import planned_stacks

ROOT = Path(__file__).resolve().parents[2]
#: The default configuration's `pipeline:` section (kmsflow.yaml), whose app every test here reads.
REPOSITORY = "example-org/kmsflow-keys"
STAGES = [
    {"name": "security", "approval": True, "deploys": ["security:primary", "security:secondary"]},
    {"name": "workloads", "approval": True, "deploys": ["workloads:primary", "workloads:secondary"]},
    {"name": "partner", "deploys": ["partner:primary", "partner:secondary"]},
]
ACCOUNTS = {"security": "111111111111", "workloads": "222222222222", "partner": "333333333333"}
REGIONS = ("eu-west-1", "eu-central-1")


def synth(data: dict[str, Any], outdir: Path) -> dict[str, dict[str, Any]]:
    """Every template of the app of ``data`` (cdk-nag packs included: synth raises on a finding)."""
    app = new_app(outdir=str(outdir))
    populate(app, parse_config(yaml.safe_dump(data, sort_keys=False), "pipeline.yaml"), source="pipeline.yaml")
    app.synth()
    return {p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in outdir.glob("*.template.json")}


def test_the_default_configuration_is_the_one_read_here() -> None:
    data = yaml.safe_load((ROOT / "kmsflow.yaml").read_text(encoding="utf-8"))
    assert data["pipeline"] == {
        "stages": STAGES,
        "github": {"account": "security", "repository": REPOSITORY, "branch": "main"},
    }


@pytest.fixture(scope="module")
def outdir(default_outdir: Path) -> Path:
    return default_outdir


@pytest.fixture(scope="module")
def templates(default_templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The default configuration's app (session-wide: synthesized once for the whole suite)."""
    return default_templates


@pytest.fixture(scope="module")
def ci(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["kmsflow-ci-security"]


def only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == kind]
    return resource


def test_the_ci_stack_is_added_in_the_github_account_and_first_region(
    templates: dict[str, dict[str, Any]], default_templates: dict[str, dict[str, Any]], outdir: Path
) -> None:
    assert set(templates) == {*default_templates, "kmsflow-ci-security"}
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["kmsflow-ci-security"]["environment"] == "aws://111111111111/eu-west-1"


def test_the_ci_stack_holds_only_the_provider_the_role_and_its_policy(ci: dict[str, Any]) -> None:
    assert sorted(r["Type"] for r in ci["Resources"].values()) == [
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::OIDCProvider",
        "AWS::IAM::Role",
    ]


def test_the_github_oidc_provider(ci: dict[str, Any]) -> None:
    props = only(ci, "AWS::IAM::OIDCProvider")["Properties"]
    assert props["Url"] == "https://token.actions.githubusercontent.com"
    assert props["ClientIdList"] == ["sts.amazonaws.com"]
    # No thumbprints: IAM trusts GitHub's certificate through its own CA library.
    assert "ThumbprintList" not in props


def test_the_role_trusts_exactly_the_repository_branch_and_stage_environments(ci: dict[str, Any]) -> None:
    role = only(ci, "AWS::IAM::Role")["Properties"]
    (provider_id,) = [lid for lid, r in ci["Resources"].items() if r["Type"] == "AWS::IAM::OIDCProvider"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": {"Ref": provider_id}}
    assert set(statement["Condition"]) == {"StringEquals"}
    conditions = statement["Condition"]["StringEquals"]
    assert set(conditions) == {"token.actions.githubusercontent.com:aud", "token.actions.githubusercontent.com:sub"}
    assert conditions["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert set(conditions["token.actions.githubusercontent.com:sub"]) == {
        "repo:example-org/kmsflow-keys:ref:refs/heads/main",
        "repo:example-org/kmsflow-keys:environment:security",
        "repo:example-org/kmsflow-keys:environment:workloads",
        "repo:example-org/kmsflow-keys:environment:partner",
    }
    assert role["MaxSessionDuration"] == 3600
    assert role["RoleName"] == "kmsflow-ci-deploy"
    assert "Policies" not in role
    assert "ManagedPolicyArns" not in role


def test_the_role_may_only_assume_the_bootstrap_roles_of_the_stages(ci: dict[str, Any]) -> None:
    (lid,) = [lid for lid, r in ci["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    # The one policy of the stack (no inline AWS::IAM::Policy, no policy inside the role, checked above).
    policy = only(ci, "AWS::IAM::ManagedPolicy")["Properties"]
    assert policy["Roles"] == [{"Ref": lid}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:iam::{account}:role/cdk-hnb659fds-{role}-role-{account}-{region}"
        for account in ACCOUNTS.values()
        for region in REGIONS
        for role in ("deploy", "file-publishing", "image-publishing", "lookup")
    )


def test_the_deploy_role_arn_is_an_output(ci: dict[str, Any]) -> None:
    (lid,) = [lid for lid, r in ci["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert ci["Outputs"]["DeployRoleArn"]["Value"] == {"Fn::GetAtt": [lid, "Arn"]}


def test_the_region_and_branch_and_targets_follow_the_configuration(tmp_path: Path) -> None:
    """A small app: one key in one place; the CI stack in another account and the region named in github."""
    data = {
        "version": 1,
        "accounts": {"ci": {"id": "444444444444"}, "security": {"id": "111111111111"}},
        "regions": {"primary": "eu-west-1", "secondary": "eu-central-1"},
        "keys": [{"name": "k", "account": "security", "region": "secondary"}],
        "pipeline": {
            "github": {"account": "ci", "region": "secondary", "repository": "o/r", "branch": "release"},
            "stages": [{"name": "prod", "deploys": ["kmsflow-keys-security-secondary"]}],
        },
    }
    templates = synth(data, tmp_path)
    assert set(templates) == {"kmsflow-keys-security-secondary", "kmsflow-ci-ci"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["artifacts"]["kmsflow-ci-ci"]["environment"] == "aws://444444444444/eu-central-1"
    ci = templates["kmsflow-ci-ci"]
    (statement,) = only(ci, "AWS::IAM::Role")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        "repo:o/r:ref:refs/heads/release",
        "repo:o/r:environment:prod",
    ]
    (policy,) = [r["Properties"] for r in ci["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert policy["PolicyDocument"]["Statement"][0]["Resource"] == [
        f"arn:aws:iam::111111111111:role/cdk-hnb659fds-{role}-role-111111111111-eu-central-1"
        for role in ("deploy", "file-publishing", "image-publishing", "lookup")
    ]


def test_the_plan_names_exactly_the_stacks_the_app_builds(default_templates: dict[str, dict[str, Any]]) -> None:
    """The pipeline checks read kmsflow.plan instead of synthesizing: it must name what populate builds."""
    config = load_config(ROOT / "kmsflow.yaml")
    # ... and the CI stack, which no stage deploys.
    assert sorted([*(s.name for s in planned_stacks(config)), "kmsflow-ci-security"]) == sorted(default_templates)


def test_the_service_path_table_lets_exactly_the_configured_tokens_assume_the_deploy_role(
    outdir: Path, templates: dict[str, dict[str, Any]]
) -> None:
    """moto enforces no trust policy: STS's request for each allowed subject is answered by the evaluator against
    the synthesized trust, and each near-miss (another repository, branch or environment, a pull request, another
    audience, another provider) is denied."""
    from kmsflow.policy.assembly import Assembly
    from kmsflow.policy.service_paths import service_paths

    assembly = Assembly.from_directory(outdir)
    rows = [row for row in service_paths(assembly) if row.service == "GitHub Actions"]
    assert sorted(str(row.request.context["token.actions.githubusercontent.com:sub"]) for row in rows) == sorted(
        [f"repo:{REPOSITORY}:ref:refs/heads/main"] + [f"repo:{REPOSITORY}:environment:{s['name']}" for s in STAGES]
    )
    assert [row.decide(assembly).reason for row in rows if not row.decide(assembly).allowed] == []
    allowed = [
        f"{row} -- {miss.why}" for row in rows for miss in row.near_misses if row.decide(assembly, miss.request).allowed
    ]
    assert allowed == []
    assert {miss.why for row in rows for miss in row.near_misses} == {
        "for another repository",
        "for another branch or environment",
        "for a pull request",
        "for another audience",
        "from another identity provider",
    }
