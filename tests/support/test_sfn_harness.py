"""The workflow harness against a toy state machine synthesized with CDK (one synth per module).

The toy machine snapshots a moto RDS instance and polls the snapshot with a Wait whose seconds double from
30 s up to 10 min (a Choice loop), retries a named error with back-off and full jitter, catches the rest
into a Fail state, and ends with a ``lambda:invoke`` integration task. Its handlers are the functions below:
the template names them (``tests.support.test_sfn_harness.begin`` ...) and the harness imports them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from botocore.exceptions import ClientError

from kmsflow.app import new_app
from kmsflow.lambdas.aws_clients import MAX_ATTEMPTS, client
from tests.support.sfn_harness import HarnessError, Result, WorkflowHarness
from tests.support.virtual_clock import VirtualClock

REGION = "eu-west-1"
SIX_HOURS = 6 * 3600
HANDLERS = __name__  # "tests.support.test_sfn_harness"
INPUT = {"db": "toydb", "snapshot": "toy-snap", "region": REGION}
THROTTLING = ["ThrottlingException", "Throttling", "RequestLimitExceeded"]


# ------------------------------------------------------------------------------------ toy handlers


class Flaky(Exception):
    """A transient failure that the toy machine retries."""


class ToyBroken(Exception):
    """A failure that the toy machine does not retry: its Catch sends it to the Fail state."""


def _named(error: ClientError) -> Exception:
    """The AWS error as an exception whose class name is its code: the errorType that Retry matches."""
    named: type[Exception] = type(error.response["Error"]["Code"], (Exception,), {})
    return named(str(error))


def begin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        client("rds", region=event["region"]).create_db_snapshot(
            DBInstanceIdentifier=event["db"], DBSnapshotIdentifier=event["snapshot"]
        )
    except ClientError as error:
        raise _named(error) from error
    return {**event, "status": "creating", "wait": {"seconds": 30}}


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job, attempt = event["job"], event["attempt"]
    if attempt < job.get("flaky", 0):
        raise Flaky(f"attempt {attempt} on {job['snapshot']}")
    if job.get("explode"):
        raise ToyBroken(f"snapshot {job['snapshot']} is broken")
    try:
        found = client("rds", region=job["region"]).describe_db_snapshots(DBSnapshotIdentifier=job["snapshot"])
    except ClientError as error:
        raise _named(error) from error
    status = found["DBSnapshots"][0]["Status"]
    job = {key: value for key, value in job.items() if key != "flaky"}  # flaky on the first poll only
    return {**job, "status": status, "wait": {"seconds": min(job["wait"]["seconds"] * 2, 600)}}


def finish(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "snapshot": event["snapshot"],
        "function": context.function_name,
        "stage": os.environ["TOY_STAGE"],
        "begin_function": os.environ["TOY_BEGIN"],
        "region": os.environ["AWS_REGION"],
    }


# -------------------------------------------------------------------------------------- toy app


def toy_template() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "Toy", env=cdk.Environment(account="123456789012", region=REGION))

    def function(name: str, **environment: str) -> lambda_.Function:
        return lambda_.Function(
            stack,
            f"{name.capitalize()}Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            code=lambda_.Code.from_inline("# the harness imports the handler"),
            handler=f"{HANDLERS}.{name}",
            environment=environment or None,
        )

    begin_fn, check_fn = function("begin"), function("check")
    finish_fn = function("finish", TOY_STAGE="test", TOY_BEGIN=begin_fn.function_name)

    fail = sfn.Fail(stack, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    start = tasks.LambdaInvoke(
        stack, "Begin", lambda_function=begin_fn, payload_response_only=True, retry_on_service_exceptions=False
    )
    start.add_retry(errors=["SnapshotQuotaExceeded"], interval=cdk.Duration.minutes(1), backoff_rate=2, max_attempts=5)
    start.add_catch(fail, errors=["States.ALL"], result_path="$.error")
    poll = tasks.LambdaInvoke(
        stack,
        "Check",
        lambda_function=check_fn,
        payload=sfn.TaskInput.from_object(
            {"job": sfn.JsonPath.entire_payload, "attempt": sfn.JsonPath.number_at("$$.State.RetryCount")}
        ),
        payload_response_only=True,
        retry_on_service_exceptions=False,
    )
    poll.add_retry(
        errors=["Flaky"],
        interval=cdk.Duration.seconds(2),
        backoff_rate=2,
        max_attempts=3,
        max_delay=cdk.Duration.seconds(5),
        jitter_strategy=sfn.JitterType.FULL,
    )
    poll.add_retry(errors=THROTTLING, interval=cdk.Duration.seconds(1), backoff_rate=2, max_attempts=6)
    poll.add_catch(fail, errors=["States.ALL"], result_path="$.error")
    done = tasks.LambdaInvoke(
        stack,
        "Finish",
        lambda_function=finish_fn,  # the arn:aws:states:::lambda:invoke integration, Payload.$ = "$"
        result_selector={"result.$": "$.Payload", "status.$": "$.StatusCode"},
    ).next(sfn.Succeed(stack, "Done"))
    pause = sfn.Wait(stack, "Pause", time=sfn.WaitTime.seconds_path("$.wait.seconds"))
    ready = sfn.Choice(stack, "Available?").when(sfn.Condition.string_equals("$.status", "available"), done)
    ready.otherwise(pause)
    pause.next(poll).next(ready)
    sfn.StateMachine(stack, "Toy", definition_body=sfn.DefinitionBody.from_chainable(start.next(ready)))
    return app.synth().get_stack_by_name("Toy").template  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return toy_template()


def create_db(h: WorkflowHarness) -> None:
    h.client("rds").create_db_instance(
        DBInstanceIdentifier="toydb",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="toy",
        MasterUserPassword="toy-password",
    )


@pytest.fixture
def harness(template: dict[str, Any]) -> Iterator[WorkflowHarness]:
    with WorkflowHarness(template, regions=[REGION], seed=7) as h:
        create_db(h)
        h.snapshots.set_duration("rds-snapshot", SIX_HOURS)
        yield h


def entered(result: Result, state: str) -> int:
    return result.state_counts.get(state, 0)


# ------------------------------------------------------------------------------------------ tests


@pytest.mark.synth
def test_template_is_deployed_with_its_handlers(harness: WorkflowHarness, template: dict[str, Any]) -> None:
    functions = harness.client("lambda").list_functions()["Functions"]
    handlers = {f["FunctionName"]: f["Handler"] for f in functions}
    assert sorted(handlers.values()) == [f"{HANDLERS}.{name}" for name in ("begin", "check", "finish")]
    assert set(handlers) == set(harness.functions)  # no FunctionName: named by logical id
    definition = json.loads(
        harness.client("stepfunctions").describe_state_machine(stateMachineArn=harness.state_machine_arn())[
            "definition"
        ]
    )
    assert definition["States"]["Finish"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert definition["States"]["Begin"]["Resource"] == harness.functions[_logical(template, "begin")].arn


@pytest.mark.synth
def test_six_hours_of_snapshot_polling_run_on_the_virtual_clock(harness: WorkflowHarness) -> None:
    """Six hours of waits pass on the virtual clock (no timed assert here: speed is measured in bench/)."""
    result = harness.run(input=INPUT)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "result": {
            "snapshot": "toy-snap",
            "function": harness.functions[_logical(harness.template, "finish")].name,
            "stage": "test",
            "begin_function": harness.functions[_logical(harness.template, "begin")].name,
            "region": REGION,
        },
        "status": 200,
    }
    assert SIX_HOURS <= result.virtual_seconds < SIX_HOURS + 600
    assert result.waits[:6] == (30, 60, 120, 240, 480, 600)
    assert sum(result.waits) == result.virtual_seconds  # nothing else took virtual time
    # moto's history carries virtual timestamps.
    first, last = result.events[0]["timestamp"], result.events[-1]["timestamp"]
    assert (last - first).total_seconds() == pytest.approx(result.virtual_seconds, abs=1)
    snapshot = harness.client("rds").describe_db_snapshots(DBSnapshotIdentifier="toy-snap")["DBSnapshots"][0]
    assert snapshot["Status"] == "available"


@pytest.mark.synth
def test_counts_match_the_history(harness: WorkflowHarness) -> None:
    result = harness.run(input={**INPUT, "flaky": 1})

    polls = len(result.waits)
    assert entered(result, "Pause") == entered(result, "Check") == polls
    assert entered(result, "Available?") == polls + 1
    assert entered(result, "Begin") == entered(result, "Finish") == entered(result, "Done") == 1
    assert result.retries == 1
    assert result.transitions == 3 * polls + 4 + 1
    assert result.handler_counts == {f"{HANDLERS}.begin": 1, f"{HANDLERS}.check": polls + 1, f"{HANDLERS}.finish": 1}
    scheduled = result.events_of("LambdaFunctionScheduled") + result.events_of("TaskScheduled")
    assert result.lambda_invocations == len(scheduled) == polls + 3


@pytest.mark.synth
def test_retry_matches_the_error_type_with_backoff_and_jitter(template: dict[str, Any]) -> None:
    def run(seed: int) -> Result:
        with WorkflowHarness(template, regions=[REGION], seed=seed) as h:
            create_db(h)
            return h.run(input={**INPUT, "flaky": 3})

    result = run(seed=1)
    assert result.status == "SUCCEEDED", result.cause
    failures = result.events_of("LambdaFunctionFailed")
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failures] == ["Flaky"] * 3
    assert (
        json.loads(failures[0]["lambdaFunctionFailedEventDetails"]["cause"])["errorMessage"] == "attempt 0 on toy-snap"
    )
    # IntervalSeconds 2, BackoffRate 2, MaxDelaySeconds 5, full jitter: uniform(0, 2), (0, 4), (0, 5).
    assert len(result.retry_delays) == 3
    assert all(0 <= delay <= cap for delay, cap in zip(result.retry_delays, (2, 4, 5), strict=True))
    assert result.retry_delays != (2, 4, 5)
    assert run(seed=1).retry_delays == result.retry_delays
    assert run(seed=2).retry_delays != result.retry_delays


@pytest.mark.synth
def test_catch_sends_an_unretried_error_to_fail_with_its_cause(harness: WorkflowHarness) -> None:
    result = harness.run(input={**INPUT, "explode": True})

    assert result.status == "FAILED"
    assert result.error == "ToyBroken"
    cause = json.loads(result.cause or "")
    assert cause["errorType"] == "ToyBroken"
    assert cause["errorMessage"] == "snapshot toy-snap is broken"
    assert entered(result, "Failed") == 1
    assert result.retries == 0
    assert "Finish" not in result.state_counts


@pytest.mark.synth
def test_an_unimportable_handler_fails_like_the_lambda_runtime(template: dict[str, Any]) -> None:
    broken = copy.deepcopy(template)
    broken["Resources"][_logical(template, "begin")]["Properties"]["Handler"] = "tests.support.no_such_module.begin"
    with WorkflowHarness(broken, regions=[REGION]) as h:
        result = h.run(input=INPUT)
    assert result.status == "FAILED"
    assert result.error == "Runtime.ImportModuleError"
    assert "tests.support.no_such_module" in json.loads(result.cause or "")["errorMessage"]


@pytest.mark.synth
def test_throttling_on_a_share_of_calls_is_absorbed_by_the_sdk_retries(harness: WorkflowHarness) -> None:
    harness.faults.throttle(0.3)
    result = harness.run(input=INPUT)

    assert result.status == "SUCCEEDED", result.cause
    assert result.retries == 0
    assert sum(harness.faults.injected.values()) >= 5
    assert set(harness.faults.injected) <= {"rds.DescribeDBSnapshots:Throttling", "rds.CreateDBSnapshot:Throttling"}


@pytest.mark.synth
def test_throttling_that_outlasts_the_sdk_retries_reaches_the_state_machine_retry(harness: WorkflowHarness) -> None:
    harness.faults.throttle(1.0, service="rds", operation="DescribeDBSnapshots", times=MAX_ATTEMPTS)
    result = harness.run(input=INPUT)

    assert result.status == "SUCCEEDED", result.cause
    assert harness.faults.injected == {"rds.DescribeDBSnapshots:Throttling": MAX_ATTEMPTS}
    failures = result.events_of("LambdaFunctionFailed")
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failures] == ["Throttling"]
    assert result.retry_delays == (1,)
    # botocore's back-off between the ten attempts took virtual time too.
    assert result.virtual_seconds > sum(result.waits) + sum(result.retry_delays)


@pytest.mark.synth
def test_a_copy_quota_error_clears_after_minutes_of_virtual_time(harness: WorkflowHarness) -> None:
    harness.faults.add("SnapshotQuotaExceeded", service="rds", operation="CreateDBSnapshot", for_seconds=300)
    result = harness.run(input=INPUT)

    assert result.status == "SUCCEEDED", result.cause
    assert result.retry_delays == (60, 120, 240)  # attempts at 0, 60, 180 fail; at 420 s the quota has cleared
    assert harness.faults.injected == {"rds.CreateDBSnapshot:SnapshotQuotaExceeded": 3}
    assert entered(result, "Begin") == 1


def test_waits_and_timestamps_read_the_virtual_clock() -> None:
    """A hand-written template: Seconds and Timestamp waits, ``$$`` times, DefinitionSubstitutions."""
    clock = VirtualClock(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    definition = {
        "StartAt": "Hour",
        "States": {
            "Hour": {"Type": "Wait", "Seconds": 3600, "Next": "Until"},
            "Until": {"Type": "Wait", "Timestamp": "${Deadline}", "Next": "Times"},
            "Times": {
                "Type": "Pass",
                "Parameters": {"started.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"},
                "End": True,
            },
        },
    }
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": {"Fn::Join": ["", [json.dumps(definition)]]},
                    "DefinitionSubstitutions": {"Deadline": "2030-01-01T03:00:00Z"},
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            }
        }
    }
    with WorkflowHarness(template, regions=[REGION], clock=clock) as h:
        arn = h.start(input={})
        # StartExecution returned after the end: the execution ran synchronously.
        assert h.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        result = h.result(arn)
    assert result.waits == (3600, 7200)
    assert clock.now() == dt.datetime(2030, 1, 1, 3, tzinfo=dt.UTC)
    assert result.output["started"].startswith("2030-01-01T00:00:00")
    assert result.output["entered"].startswith("2030-01-01T03:00:00")


def test_unresolvable_references_are_named() -> None:
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": {"Fn::Join": ["", ['{"Comment": "', {"Ref": "Topic"}, '"}']]}},
            }
        }
    }
    harness = WorkflowHarness(template, regions=[REGION])
    with pytest.raises(HarnessError, match=r"Machine\.DefinitionString.*'Topic'.*refs="):
        harness.__enter__()
    assert harness._stack is None  # the mock and the patches were undone


def _logical(template: Mapping[str, Any], handler: str) -> str:
    """The logical id of the toy function whose handler is ``handler``."""
    return str(
        next(
            logical_id
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Handler"].endswith(f".{handler}")
        )
    )
