"""The snapshot-copy workflow of the default configuration, on its synthesized template and asset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kmsflow.constructs.workflows.snapshot_access import DESTINATION, OWN_TAG_CONDITION, SOURCE, statements
from kmsflow.constructs.workflows.snapshot_copy import HANDLERS, STEPS, handler_role_name
from kmsflow.errors import WorkflowDefinitionError
from kmsflow.policy.document import as_list, flatten
from tests.constructs.support import (
    by_id_prefix,
    handler_functions,
    of_type,
    role_statements,
    state_machine,
    workflow_functions,
)

STACK = "kmsflow-workflows-workloads-primary"
ACCOUNT = "222222222222"


@pytest.fixture(scope="module")
def tpl(default_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return default_templates[STACK]


@pytest.fixture(scope="module")
def definition(tpl: dict[str, Any]) -> dict[str, Any]:
    """The ASL definition, with each function ARN reference written as ``${<logical id>.Arn}``."""
    machine = state_machine(tpl, "kmsflow-snapshot-copy-")
    return json.loads(flatten(machine["Properties"]["DefinitionString"]))  # type: ignore[no-any-return]


def test_state_machine_is_standard_traced_logged_with_a_24_hour_timeout(
    tpl: dict[str, Any], definition: dict[str, Any]
) -> None:
    props = state_machine(tpl, "kmsflow-snapshot-copy-")["Properties"]
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
    functions = workflow_functions(tpl)
    handlers = {lid: f["Properties"]["Handler"] for lid, f in functions.items()}
    assert sorted(handlers.values()) == sorted(f"{HANDLERS}.{step.handler}" for step in STEPS)
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            target = state["Resource"]
            logical_id = target.removeprefix("${").removesuffix(".Arn}")
            handler = handlers[logical_id].rsplit(".", 1)[1]
            assert "".join(p.capitalize() for p in handler.split("_")) == name


def test_functions_are_current_python_traced_bounded(tpl: dict[str, Any]) -> None:
    for lid, function in workflow_functions(tpl).items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14", lid
        assert props["TracingConfig"] == {"Mode": "Active"}, lid
        assert props["ReservedConcurrentExecutions"] == 20, lid
        assert props["Timeout"] == 60, lid


def test_each_function_has_a_role_of_its_own_with_a_fixed_name(tpl: dict[str, Any]) -> None:
    functions = handler_functions(tpl)
    assert sorted(functions) == sorted(step.handler for step in STEPS)
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert len(roles) == len(STEPS)
    for step in STEPS:
        role, statements = role_statements(tpl, step.handler)
        assert role["Properties"]["RoleName"] == handler_role_name("eu-west-1", step.handler)
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
        # Each function writes only to its own (encrypted) log group.
        (logs,) = [s for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
        group = functions[step.handler]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert logs["Resource"] == {"Fn::GetAtt": [group, "Arn"]}


@pytest.mark.parametrize("step", STEPS, ids=[step.handler for step in STEPS])
def test_each_role_has_exactly_its_step_s_snapshot_statements(tpl: dict[str, Any], step: Any) -> None:
    _, held = role_statements(tpl, step.handler)
    regions = {SOURCE: ["eu-west-1"], DESTINATION: ["eu-central-1"]}
    expected = statements(step.calls, regions=regions, account=ACCOUNT, partition="aws")
    snapshot_statements = [s for s in held if s.get("Sid", "").startswith(("Rds", "Aurora", "Ebs"))]
    assert [(s["Sid"], sorted(as_list(s["Action"])), sorted(as_list(s["Resource"]))) for s in snapshot_statements] == [
        (s["Sid"], s["Action"], sorted(s["Resource"])) for s in expected
    ]
    for stmt in held:
        assert "*" not in as_list(stmt["Action"]), stmt


#: Actions that change or remove a snapshot (or its tags): never on a snapshot kmsflow did not make.
MUTATING = {"rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot", "ec2:DeleteSnapshot"}


@pytest.mark.parametrize("step", STEPS, ids=[step.handler for step in STEPS])
def test_deletes_and_tags_reach_only_what_kmsflow_made(tpl: dict[str, Any], step: Any) -> None:
    _, held = role_statements(tpl, step.handler)
    for stmt in held:
        actions, resources = set(as_list(stmt["Action"])), as_list(stmt["Resource"])
        condition = stmt.get("Condition", {})
        if actions & MUTATING:
            assert condition == OWN_TAG_CONDITION, stmt  # the job tag must be on the snapshot
        if actions & (MUTATING | {"rds:AddTagsToResource"}) and any(":rds:" in r for r in resources):
            assert all(r.rsplit(":", 1)[1] == "kmsflow-*" for r in resources), stmt  # snapshot:kmsflow-*
        if "ec2:CreateTags" in actions:
            assert condition in (
                OWN_TAG_CONDITION,
                {"StringEquals": {"ec2:CreateAction": "CreateSnapshot"}},
                {"StringEquals": {"ec2:CreateAction": "CopySnapshot"}},
            ), stmt
        if actions & (MUTATING | {"ec2:CreateTags", "rds:AddTagsToResource"}):
            assert "*" not in resources, stmt


def test_the_validation_step_may_call_nothing(tpl: dict[str, Any]) -> None:
    _, statements = role_statements(tpl, "validate")
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_only_the_copy_step_uses_source_keys_and_only_through_rds_and_ebs(tpl: dict[str, Any]) -> None:
    for step in STEPS:
        _, statements = role_statements(tpl, step.handler)
        sids = {s.get("Sid") for s in statements}
        assert ("SourceKeysThroughRdsAndEbs" in sids) == (step.handler == "start_copy"), step.handler
    _, statements = role_statements(tpl, "start_copy")
    by_sid = {s.get("Sid"): s for s in statements}
    use = by_sid["SourceKeysThroughRdsAndEbs"]
    assert sorted(as_list(use["Action"])) == ["kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"]
    assert use["Resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"
    assert use["Condition"] == {
        "StringEquals": {"kms:ViaService": ["rds.eu-west-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com"]}
    }
    grants = by_sid["SourceKeyGrantsForAwsResources"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


def test_the_destination_key_grants_name_the_roles_in_both_policies(
    tpl: dict[str, Any], default_templates: dict[str, Any]
) -> None:
    """The key policy names the copy and key-check roles by aws:PrincipalArn (nothing needs to exist when the
    key deploys); the roles' policies name the key's ARN, carried across regions by CDK's export reader."""
    keys = default_templates["kmsflow-keys-workloads-secondary"]["Resources"]
    (key_id,) = [lid for lid, r in keys.items() if r["Type"] == "AWS::KMS::Key"]
    policy = {s["Sid"]: s for s in keys[key_id]["Properties"]["KeyPolicy"]["Statement"]}
    copy_arn = f"arn:aws:iam::{ACCOUNT}:role/{handler_role_name('eu-west-1', 'start_copy')}"
    check_arn = f"arn:aws:iam::{ACCOUNT}:role/{handler_role_name('eu-west-1', 'check_destination_key')}"
    use = policy["ServiceUseKmsflowSnapshotCopyEuWest1StartCopy"]
    assert use["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert use["Condition"] == {
        "StringEquals": {"kms:ViaService": ["rds.eu-central-1.amazonaws.com", "ec2.eu-central-1.amazonaws.com"]},
        "ArnEquals": {"aws:PrincipalArn": copy_arn},
    }
    assert "kms:CreateGrant" not in as_list(use["Action"])
    grants = policy["ServiceGrantsKmsflowSnapshotCopyEuWest1StartCopy"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert grants["Condition"]["ArnEquals"] == {"aws:PrincipalArn": copy_arn}
    assert grants["Condition"]["StringEquals"] == use["Condition"]["StringEquals"]
    describe = policy["DescribeKmsflowSnapshotCopyEuWest1CheckDestinationKey"]
    assert (describe["Action"], describe["Condition"]) == (
        "kms:DescribeKey",
        {"ArnEquals": {"aws:PrincipalArn": check_arn}},
    )
    # No other statement of the key policy names a workflow role.
    assert sum("snapshot-copy" in json.dumps(s) for s in policy.values()) == 3
    for handler, sid in (("start_copy", use["Sid"]), ("check_destination_key", describe["Sid"])):
        _, statements = role_statements(tpl, handler)
        (iam_side,) = [s for s in statements if s.get("Sid") == sid]
        reader, export = iam_side["Resource"]["Fn::GetAtt"]
        assert tpl["Resources"][reader]["Type"] == "Custom::CrossRegionExportReader"
        assert key_id in export


def test_notices_and_failure_alarm_go_to_the_encrypted_topic(tpl: dict[str, Any]) -> None:
    (topic_id,) = of_type(tpl, "AWS::SNS::Topic")
    # The copy machine's rule and alarm keep their ids (ExecutionStatus, ExecutionsFailed) next to the share's.
    rule = by_id_prefix(tpl, "AWS::Events::Rule", "ExecutionStatus")
    copy_machine = next(
        lid
        for lid, m in of_type(tpl, "AWS::StepFunctions::StateMachine").items()
        if m["Properties"]["StateMachineName"].startswith("kmsflow-snapshot-copy-")
    )
    assert rule["Properties"]["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": copy_machine}]
    assert rule["Properties"]["EventPattern"]["detail"]["status"] == ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}
    alarm = by_id_prefix(tpl, "AWS::CloudWatch::Alarm", "ExecutionsFailed")
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    metrics = {m["Id"]: m for m in alarm["Properties"]["Metrics"]}
    assert (
        metrics[next(i for i in metrics if "Expression" in metrics[i])]["Expression"] == "failed + timedout + aborted"
    )
    assert metrics["failed"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsFailed"
    assert "SnapshotCopyStateMachineArn" in tpl["Outputs"]


def test_the_lambda_asset_holds_only_the_runtime_package(tpl: dict[str, Any], default_outdir: Path) -> None:
    (function, *_) = handler_functions(tpl).values()
    asset = default_outdir / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert "kmsflow/__init__.py" in files
    assert "kmsflow/lambdas/aws_clients.py" in files
    assert all(f == "kmsflow/__init__.py" or f.startswith("kmsflow/lambdas/") for f in files), files


def test_the_workflows_stack_deploys_after_its_destination_key_stack(default_outdir: Path) -> None:
    """The roles' policies read the destination key's ARN from the key stack of the other region: CDK makes
    that stack a dependency, so `cdk deploy --all` creates the key (and its grants) first."""
    manifest = json.loads((default_outdir / "manifest.json").read_text())
    dependencies = manifest["artifacts"][STACK]["dependencies"]
    assert "kmsflow-keys-workloads-secondary" in dependencies


def test_role_names_stay_within_iam_s_limit() -> None:
    assert len(handler_role_name("ap-southeast-5", "check_destination_key")) <= 64
    with pytest.raises(WorkflowDefinitionError, match="IAM allows at most 64"):
        handler_role_name("a-region-whose-code-is-far-too-long-1", "check_destination_key")
