"""The snapshot-copy workflow of the default configuration, on its synthesized template and asset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kmsflow.constructs.workflows.snapshot_copy import FAMILY_ACTIONS, HANDLERS, STEPS
from kmsflow.policy.document import as_list, flatten

STACK = "kmsflow-workflows-workloads-primary"
ACCOUNT = "222222222222"


@pytest.fixture(scope="module")
def tpl(default_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return default_templates[STACK]


def of_type(tpl: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in tpl["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def definition(tpl: dict[str, Any]) -> dict[str, Any]:
    """The ASL definition, with each function ARN reference written as ``${<logical id>.Arn}``."""
    (machine,) = of_type(tpl, "AWS::StepFunctions::StateMachine").values()
    return json.loads(flatten(machine["Properties"]["DefinitionString"]))  # type: ignore[no-any-return]


def test_state_machine_is_standard_traced_logged_with_a_24_hour_timeout(
    tpl: dict[str, Any], definition: dict[str, Any]
) -> None:
    (machine,) = of_type(tpl, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "kmsflow-snapshot-copy-eu-west-1"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert definition["TimeoutSeconds"] == 24 * 3600
    assert "QueryLanguage" not in definition or definition["QueryLanguage"] == "JSONPath"


def test_the_states_and_their_order(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "Validate"
    assert states["Validate"]["Next"] == "PrepareSource"
    assert states["PrepareSource"]["Next"] == "SourceAvailable?"
    assert states["WaitForSource"] == {"Type": "Wait", "SecondsPath": "$.wait.seconds", "Next": "CheckSource"}
    assert states["CheckSource"]["Next"] == "SourceAvailable?"
    assert states["SourceAvailable?"]["Choices"] == [
        {"Variable": "$.source.status", "StringEquals": "available", "Next": "CheckDestinationKey"}
    ]
    assert states["SourceAvailable?"]["Default"] == "WaitForSource"
    assert states["CheckDestinationKey"]["Next"] == "StartCopy"
    assert states["StartCopy"]["Next"] == "WaitForCopy"
    assert states["WaitForCopy"]["SecondsPath"] == "$.wait.seconds"
    assert states["CopyAvailable?"]["Choices"][0]["Next"] == "Finish"
    assert states["Finish"]["Next"] == "Copied"
    assert states["Copied"]["Type"] == "Succeed"
    assert states["Failed"] == {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}


def test_validate_receives_the_input_and_the_execution(definition: dict[str, Any]) -> None:
    # payloadResponseOnly: the task's Resource is the function ARN and Parameters are the payload itself.
    assert definition["States"]["Validate"]["Parameters"] == {"input.$": "$", "execution.$": "$$.Execution"}


def test_every_task_retries_throttling_with_full_jitter_and_catches_to_on_failure(definition: dict[str, Any]) -> None:
    tasks = {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}
    assert len(tasks) == len(STEPS)
    for name, state in tasks.items():
        throttling = state["Retry"][0]
        assert throttling["ErrorEquals"] == [
            "ThrottlingException",
            "RequestLimitExceeded",
            "Throttling",
            "ThrottledException",
        ]
        assert throttling["JitterStrategy"] == "FULL"
        assert throttling["BackoffRate"] == 2
        assert throttling["MaxDelaySeconds"] == 120
        if name == "OnFailure":
            assert state["Next"] == "Failed"
            assert "Catch" not in state
        else:
            assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "OnFailure"}]
    quota = [r for r in tasks["StartCopy"]["Retry"] if r["ErrorEquals"] == ["CopyQuotaExceeded"]]
    assert quota == [
        {
            "ErrorEquals": ["CopyQuotaExceeded"],
            "IntervalSeconds": 120,
            "MaxAttempts": 12,
            "BackoffRate": 1.5,
            "MaxDelaySeconds": 900,
            "JitterStrategy": "FULL",
        }
    ]


def test_on_failure_gets_the_job_and_the_error(definition: dict[str, Any]) -> None:
    assert definition["States"]["OnFailure"]["Parameters"] == {"job.$": "$", "error.$": "$.error"}


def test_each_task_invokes_its_own_function_with_the_named_handler(
    tpl: dict[str, Any], definition: dict[str, Any]
) -> None:
    functions = of_type(tpl, "AWS::Lambda::Function")
    handlers = {lid: f["Properties"]["Handler"] for lid, f in functions.items()}
    assert sorted(handlers.values()) == sorted(f"{HANDLERS}.{step.handler}" for step in STEPS)
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            target = state["Resource"]
            logical_id = target.removeprefix("${").removesuffix(".Arn}")
            handler = handlers[logical_id].rsplit(".", 1)[1]
            assert "".join(p.capitalize() for p in handler.split("_")) == name


def test_functions_are_current_python_traced_bounded(tpl: dict[str, Any]) -> None:
    for lid, function in of_type(tpl, "AWS::Lambda::Function").items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14", lid
        assert props["TracingConfig"] == {"Mode": "Active"}, lid
        assert props["ReservedConcurrentExecutions"] == 20, lid
        assert props["Timeout"] == 60, lid


def handler_role(tpl: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    roles = of_type(tpl, "AWS::IAM::Role")
    (role_id,) = [
        lid for lid, r in roles.items() if r["Properties"].get("RoleName") == "kmsflow-snapshot-copy-eu-west-1"
    ]
    statements = [
        s
        for p in of_type(tpl, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return role_id, statements


def test_handler_role_has_exactly_the_snapshot_actions(tpl: dict[str, Any]) -> None:
    _, statements = handler_role(tpl)
    by_sid = {s.get("Sid"): s for s in statements}
    for family, actions in FAMILY_ACTIONS.items():
        assert sorted(as_list(by_sid[f"{family.capitalize()}Snapshots"]["Action"])) == sorted(actions)
    assert by_sid["RdsSnapshots"]["Resource"] == [
        f"arn:aws:rds:eu-central-1:{ACCOUNT}:*",
        f"arn:aws:rds:eu-west-1:{ACCOUNT}:*",
    ]
    assert by_sid["EbsSnapshots"]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}
    }


def test_handler_role_uses_keys_only_through_rds_and_ebs(tpl: dict[str, Any]) -> None:
    _, statements = handler_role(tpl)
    by_sid = {s.get("Sid"): s for s in statements}
    use = by_sid["UseKeysThroughRdsAndEbs"]
    assert "kms:CreateGrant" not in as_list(use["Action"])
    assert sorted(use["Condition"]["StringEquals"]["kms:ViaService"]) == sorted(
        f"{svc}.{region}.amazonaws.com" for svc in ("rds", "ec2") for region in ("eu-west-1", "eu-central-1")
    )
    grants = by_sid["GrantsForAwsResources"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    for stmt in statements:
        assert "*" not in as_list(stmt["Action"]), stmt


def test_the_destination_key_names_the_handler_role_as_a_service_user(default_templates: dict[str, Any]) -> None:
    keys = default_templates["kmsflow-keys-workloads-secondary"]["Resources"]
    (key,) = [r for r in keys.values() if r["Type"] == "AWS::KMS::Key"]
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    via = statements["ServiceUsersViaService"]
    assert via["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:role/kmsflow-snapshot-copy-eu-west-1"}
    assert via["Condition"]["StringEquals"]["kms:ViaService"] == [
        "rds.eu-central-1.amazonaws.com",
        "ec2.eu-central-1.amazonaws.com",
    ]


def test_notices_and_failure_alarm_go_to_the_encrypted_topic(tpl: dict[str, Any]) -> None:
    (topic_id,) = of_type(tpl, "AWS::SNS::Topic")
    (rule,) = of_type(tpl, "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"]["detail"]["status"] == ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}
    (alarm,) = of_type(tpl, "AWS::CloudWatch::Alarm").values()
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    metrics = {m["Id"]: m for m in alarm["Properties"]["Metrics"]}
    assert (
        metrics[next(i for i in metrics if "Expression" in metrics[i])]["Expression"] == "failed + timedout + aborted"
    )
    assert metrics["failed"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsFailed"
    assert "SnapshotCopyStateMachineArn" in tpl["Outputs"]


def test_the_lambda_asset_holds_only_the_runtime_package(tpl: dict[str, Any], default_outdir: Path) -> None:
    (function, *_) = of_type(tpl, "AWS::Lambda::Function").values()
    asset = default_outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert "kmsflow/__init__.py" in files
    assert "kmsflow/lambdas/aws_clients.py" in files
    assert all(f == "kmsflow/__init__.py" or f.startswith("kmsflow/lambdas/") for f in files), files
