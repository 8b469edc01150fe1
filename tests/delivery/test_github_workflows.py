"""The GitHub Actions workflows the configuration implies: the committed files are exactly what kmsflow.yaml
implies (a drift fails here), every job has least permissions and pinned actions, and the deploy jobs follow the
configuration's stages, deploy the reviewed assembly only, and assume the CI stack's role as its trust admits."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from kmsflow.cli import app
from kmsflow.config import KmsflowConfig, load_config, parse_config
from kmsflow.delivery import actions
from kmsflow.delivery.exceptions import WorkflowDriftError
from kmsflow.delivery.github_workflows import (
    DEPLOY_FILE,
    PULL_REQUEST_FILE,
    check_workflows,
    deploy_stages,
    drift,
    workflow_files,
    write_workflows,
)
from kmsflow.plan import planned_stacks

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}$")


def default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "kmsflow.yaml").read_text(encoding="utf-8"))
    return data


def config_of(data: dict[str, Any]) -> KmsflowConfig:
    return parse_config(yaml.safe_dump(data, sort_keys=False), "pipeline.yaml")


def parsed(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean true; GitHub reads it as the string.
    data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def default_config() -> KmsflowConfig:
    return load_config(str(ROOT / "kmsflow.yaml"))


@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, Any]]:
    return {name: parsed((WORKFLOWS / name).read_text(encoding="utf-8")) for name in (PULL_REQUEST_FILE, DEPLOY_FILE)}


# --- drift -----------------------------------------------------------------------------------------------------


def check_with_cli(directory: Path) -> Result:
    """`kmsflow delivery github-workflows --check` of the repository's kmsflow.yaml against ``directory``."""
    args = ["delivery", "github-workflows", "--check", "--config", str(ROOT / "kmsflow.yaml"), "--directory"]
    return CliRunner().invoke(app, [*args, str(directory)])


def test_the_committed_workflows_are_what_kmsflow_yaml_implies(default_config: KmsflowConfig) -> None:
    assert drift(default_config, WORKFLOWS) == []
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == [DEPLOY_FILE, PULL_REQUEST_FILE]
    result = check_with_cli(WORKFLOWS)
    assert result.exit_code == 0, result.output


def test_a_drift_is_reported_with_the_fix(default_config: KmsflowConfig, tmp_path: Path) -> None:
    write_workflows(default_config, tmp_path)
    assert drift(default_config, tmp_path) == []
    deploy = tmp_path / DEPLOY_FILE
    deploy.write_text(deploy.read_text(encoding="utf-8").replace('name: "partner"', 'name: "prod"'), encoding="utf-8")
    (tmp_path / PULL_REQUEST_FILE).unlink()
    with pytest.raises(WorkflowDriftError) as caught:
        check_workflows(default_config, tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / PULL_REQUEST_FILE} is missing; {deploy} differs from what the configuration implies; run "
        "`make workflows` (kmsflow delivery github-workflows) and commit the result"
    )
    result = check_with_cli(tmp_path)
    assert result.exit_code == 1
    assert "differs from what the configuration implies" in result.stderr


def test_a_stage_change_in_the_configuration_is_a_drift(tmp_path: Path) -> None:
    data = default_data()
    data["pipeline"]["stages"][2]["name"] = "recovery"
    assert drift(config_of(data), WORKFLOWS) == [
        f"{WORKFLOWS / DEPLOY_FILE} differs from what the configuration implies"
    ]


def test_without_pipeline_github_there_is_no_deploy_workflow(default_config: KmsflowConfig, tmp_path: Path) -> None:
    write_workflows(default_config, tmp_path)
    data = default_data()
    del data["pipeline"]
    config = config_of(data)
    assert drift(config, tmp_path) == [
        f"{tmp_path / DEPLOY_FILE} exists, but the configuration implies no such workflow"
    ]
    assert write_workflows(config, tmp_path) == [tmp_path / PULL_REQUEST_FILE]
    assert sorted(p.name for p in tmp_path.iterdir()) == [PULL_REQUEST_FILE]
    pull_request = parsed(workflow_files(config)[PULL_REQUEST_FILE])
    assert pull_request["on"] == {"pull_request": {"branches": ["main"]}}


# --- every workflow ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [PULL_REQUEST_FILE, DEPLOY_FILE])
def test_least_privilege_and_pinned_actions(committed: dict[str, dict[str, Any]], name: str) -> None:
    workflow = committed[name]
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert workflow["permissions"] == {}
    assert "secrets." not in text
    assert "pull_request_target" not in text
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, job_id
        for step in job["steps"]:
            if "uses" in step:
                assert PINNED.match(step["uses"]), (job_id, step["uses"])
            # Event data reaches scripts through env:, never interpolated into the script (script injection).
            assert "${{" not in step.get("run", ""), (job_id, step["run"])
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    # Every pin in the file is one of the reviewed table's, with its version comment.
    pins = set(re.findall(r"uses: (\S+@[0-9a-f]{40}) # (\S+)", text))
    assert pins <= {(f"{a.name}@{a.sha}", a.version) for a in actions.ALL}
    assert len(re.findall(r"uses: \S+@[0-9a-f]{40} # v", text)) == len(re.findall(r"uses: ", text))


def test_a_pin_must_be_a_full_sha() -> None:
    with pytest.raises(ValueError, match="is not a full commit SHA"):
        actions.PinnedAction("actions/checkout", "v4", "v4")
    with pytest.raises(ValueError, match="is not a full commit SHA"):
        actions.PinnedAction("actions/checkout", "11bd719", "v4.2.2")


# --- pull-request.yml ----------------------------------------------------------------------------------------------


def test_the_pull_request_workflow(committed: dict[str, dict[str, Any]]) -> None:
    workflow = committed[PULL_REQUEST_FILE]
    assert workflow["on"] == {"pull_request": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert {job_id: job["permissions"] for job_id, job in jobs.items()} == {
        "test": {"contents": "read"},
        "review": {"contents": "read"},
        "comment": {"pull-requests": "write"},
        "code-scanning": {"actions": "read", "contents": "read", "security-events": "write"},
    }
    assert [s["run"] for s in jobs["test"]["steps"] if "run" in s] == ["make test"]
    review = jobs["review"]["steps"]
    assert review[0]["with"]["fetch-depth"] == 0  # the base commit must be in the clone for its worktree
    (make,) = [s for s in review if s.get("id") == "review"]
    assert make["env"]["BASE"] == "${{ github.event.pull_request.base.sha }}"
    assert 'make review-pr BASE="$BASE"' in make["run"]
    assert "FULL_REPORT=" in make["run"]
    summary = [s for s in review if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert [s["run"] for s in summary] == ['cat cdk.out/review-pr/review.md >> "$GITHUB_STEP_SUMMARY"']
    upload = [s for s in review if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload[0]["with"]["path"] == "cdk.out/review-pr/review.*"
    # The gate is the last step: the summary and the artifact are published before the job fails.
    assert review[-1]["if"] == "steps.review.outputs.exit-code == '1'"
    assert "exit 1" in review[-1]["run"]
    for job_id in ("comment", "code-scanning"):
        condition = jobs[job_id]["if"]
        assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
        assert "needs.review.outputs.exit-code == '1'" in condition
        assert "!cancelled()" in condition
    (sarif,) = [s for s in jobs["code-scanning"]["steps"] if s["uses"].startswith("github/codeql-action/upload-sarif@")]
    assert sarif["with"] == {"sarif_file": "review-pr/review.sarif", "category": "kmsflow-review"}
    (script,) = [s for s in jobs["comment"]["steps"] if s["uses"].startswith("actions/github-script@")]
    assert script["env"]["REVIEW_MARKDOWN"] == "review-pr/review.md"
    assert "<!-- kmsflow-review -->" in script["with"]["script"]


# --- deploy.yml ----------------------------------------------------------------------------------------------------


def _stage_jobs(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, job) for job_id, job in workflow["jobs"].items() if job_id.startswith("stage-")]


def _deploy_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("run", "").startswith("make deploy ")]
    return step


def _stacks_of(job: dict[str, Any]) -> list[str]:
    match = re.search(r'STACKS="([^"]+)"', _deploy_step(job)["run"])
    assert match
    return match.group(1).split()


def test_deploy_jobs_follow_the_stages_in_order(
    committed: dict[str, dict[str, Any]], default_config: KmsflowConfig
) -> None:
    workflow = committed[DEPLOY_FILE]
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"] == {"group": "kmsflow-deploy", "cancel-in-progress": False}
    stages = _stage_jobs(workflow)
    assert [job["environment"]["name"] for _, job in stages] == ["security", "workloads", "partner"]
    assert [job["name"] for _, job in stages] == [
        "deploy stage security (after approval in its environment)",
        "deploy stage workloads (after approval in its environment)",
        "deploy stage partner",
    ]
    previous: list[str] = []
    for job_id, job in stages:
        assert job["needs"] == ["test", "review", *previous]
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        previous = [job_id]
    deployed = [stack for _, job in stages for stack in _stacks_of(job)]
    # Every stack the app builds, exactly once, and never before a stack it depends on.
    assert sorted(deployed) == sorted(s.name for s in planned_stacks(default_config))
    assert _stacks_of(stages[0][1]) == [
        "kmsflow-keys-security-primary",
        "kmsflow-keys-security-secondary",
        "kmsflow-audit-security-primary",
    ]
    # Only the stage jobs may ask for an OIDC token.
    others = {job_id: job["permissions"] for job_id, job in workflow["jobs"].items() if not job_id.startswith("stage-")}
    assert others == {"test": {"contents": "read"}, "review": {"contents": "read"}}


def test_each_stage_deploys_the_reviewed_assembly_without_synthesizing(committed: dict[str, dict[str, Any]]) -> None:
    workflow = committed[DEPLOY_FILE]
    review = workflow["jobs"]["review"]
    assert [s["run"] for s in review["steps"] if s.get("run") == "make review"] == ["make review"]
    assert review["outputs"] == {"digest": "${{ steps.digest.outputs.digest }}"}
    upload = [s for s in review["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload[0]["with"]["path"] == "cdk.out"
    for job_id, job in _stage_jobs(workflow):
        steps = job["steps"]
        kinds = [s.get("uses", s.get("run", "")).split("@")[0] for s in steps]
        download = kinds.index("actions/download-artifact")
        check = next(i for i, s in enumerate(steps) if "--expect" in s.get("run", ""))
        credentials = kinds.index("aws-actions/configure-aws-credentials")
        deploy = next(i for i, s in enumerate(steps) if s.get("run", "").startswith("make deploy "))
        assert download < check < credentials < deploy, job_id
        assert steps[download]["with"] == {"name": "cdk-out", "path": "cdk.out"}
        assert steps[check]["env"]["DIGEST"] == steps[deploy]["env"]["DIGEST"] == "${{ needs.review.outputs.digest }}"
        # Nothing in a stage job synthesizes: no `make synth`, `make review`, `cdk synth` or app run.
        runs = " ".join(s.get("run", "") for s in steps)
        assert not re.search(r"synth|make review|app\.py", runs), job_id


def test_the_deploy_target_refuses_another_assembly() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\ndeploy: setup\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in target.splitlines()]
    check = next(i for i, line in enumerate(lines) if "kmsflow delivery digest cdk.out --expect" in line)
    deploy = next(i for i, line in enumerate(lines) if "cdk deploy" in line)
    assert check < deploy
    assert "--app cdk.out" in lines[deploy]
    assert "--exclusively" in lines[deploy]


def test_the_stage_jobs_assume_the_ci_role_its_trust_admits(
    committed: dict[str, dict[str, Any]], default_templates: dict[str, dict[str, Any]]
) -> None:
    ci = default_templates["kmsflow-ci-security"]
    (role,) = [r["Properties"] for r in ci["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    admitted = statement["Condition"]["StringEquals"]
    for _, job in _stage_jobs(committed[DEPLOY_FILE]):
        (credentials,) = [
            s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        assert credentials["with"]["role-to-assume"] == f"arn:aws:iam::111111111111:role/{role['RoleName']}"
        # A job in an environment presents this subject; the trust lists it exactly.
        subject = f"repo:example-org/kmsflow-keys:environment:{job['environment']['name']}"
        assert subject in admitted["token.actions.githubusercontent.com:sub"]
        assert admitted["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"


def test_another_configuration_gives_its_own_stages_branch_and_region() -> None:
    data = default_data()
    pipeline = data["pipeline"]
    pipeline["github"] = {"account": "workloads", "region": "secondary", "repository": "acme/keys", "branch": "release"}
    pipeline["stages"] = [
        {"name": "Shared", "deploys": ["security:primary", "security:secondary", "workloads:secondary"]},
        {
            "name": "Rest",
            "approval": True,
            "deploys": ["workloads:primary", "partner:primary", "partner:secondary"],
        },
    ]
    config = config_of(copy.deepcopy(data))
    files = workflow_files(config)
    deploy = parsed(files[DEPLOY_FILE])
    assert deploy["on"] == {"push": {"branches": ["release"]}}
    assert parsed(files[PULL_REQUEST_FILE])["on"] == {"pull_request": {"branches": ["release"]}}
    stages = _stage_jobs(deploy)
    assert [job_id for job_id, _ in stages] == ["stage-1-shared", "stage-2-rest"]
    assert [s.name for s in deploy_stages(config)] == ["Shared", "Rest"]
    for _, job in stages:
        (credentials,) = [
            s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        assert credentials["with"]["role-to-assume"] == "arn:aws:iam::222222222222:role/kmsflow-ci-deploy"
        assert credentials["with"]["aws-region"] == "eu-central-1"
    assert "kmsflow-workflows-workloads-primary" in _stacks_of(stages[1][1])
