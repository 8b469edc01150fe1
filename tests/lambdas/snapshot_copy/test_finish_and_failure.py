"""``finish`` deletes only the source snapshot the job made, after the copy is available; ``on_failure`` removes
only an incomplete copy this execution made, and words the Fail state's cause.

moto makes copies available at once; the tests of an incomplete copy put moto's model into ``copying`` /
``pending`` with ``set_moto_status`` (AWS would report that state while the copy runs).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsflow.lambdas.errors import CopyFailed, CopyQuotaExceeded, InvalidInput
from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.job import Job
from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    FAMILY,
    KINDS,
    SOURCE_REGION,
    World,
    client,
    execution,
    job_input,
    make_source,
    manual_snapshots,
    run,
    run_to_copy,
    set_moto_status,
    snapshot_id_of,
)

PENDING_WORD = {"rds": "copying", "aurora": "copying", "ebs": "pending"}


def ids(family: str, region: str) -> set[str]:
    return {snapshot_id_of(family, item) for item in manual_snapshots(family, region)}


# --- finish --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster", "ebs-volume"])
def test_finish_deletes_the_source_snapshot_the_job_made_when_asked(world: World, kind: str) -> None:
    family = FAMILY[kind]
    source_id = make_source(world, kind)
    make_source(
        world,
        kind.replace("instance", "snapshot").replace("cluster", "cluster-snapshot").replace("volume", "snapshot"),
        name="other",
    )
    others = ids(family, SOURCE_REGION)
    job, out = run(job_input(kind, source_id, world.destination_key, delete_source_snapshot=True))
    assert out["source"]["deleted"] is True
    assert ids(family, SOURCE_REGION) == others  # the job's own snapshot is gone, the user's stays
    assert job["source"]["snapshot_id"] not in ids(family, SOURCE_REGION)
    assert ids(family, DESTINATION_REGION) == {out["destination"]["snapshot_id"]}


@pytest.mark.parametrize("kind", ["rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"])
def test_finish_never_deletes_a_snapshot_the_job_did_not_make(world: World, kind: str) -> None:
    source_id = make_source(world, kind)
    _, out = run(job_input(kind, source_id, world.destination_key, delete_source_snapshot=True))
    assert out["source"]["deleted"] is False
    assert source_id in ids(FAMILY[kind], SOURCE_REGION)


def test_finish_keeps_a_source_snapshot_without_the_jobs_tag(world: World) -> None:
    """A snapshot with the job's name but without its tag was not proven the job's: it is kept."""
    job = run_to_copy(
        job_input(
            "rds-instance", make_source(world, "rds-instance"), world.destination_key, delete_source_snapshot=True
        )
    )
    client("rds", SOURCE_REGION).remove_tags_from_resource(
        ResourceName=job["source"]["snapshot_arn"], TagKeys=["kmsflow:job-id"]
    )
    out = handlers.finish(job, None)
    assert out["source"]["deleted"] is False
    assert job["source"]["snapshot_id"] in ids("rds", SOURCE_REGION)


def test_finish_again_after_the_source_was_deleted_reports_it_deleted(world: World) -> None:
    job = run_to_copy(
        job_input("ebs-volume", make_source(world, "ebs-volume"), world.destination_key, delete_source_snapshot=True)
    )
    assert handlers.finish(job, None)["source"]["deleted"] is True
    assert handlers.finish(job, None)["source"]["deleted"] is True


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster", "ebs-volume"])
def test_finish_deletes_nothing_while_the_copy_is_not_available(world: World, kind: str) -> None:
    family = FAMILY[kind]
    job = run_to_copy(job_input(kind, make_source(world, kind), world.destination_key, delete_source_snapshot=True))
    set_moto_status(family, DESTINATION_REGION, job["destination"]["snapshot_id"], PENDING_WORD[family])
    with pytest.raises(CopyFailed, match="nothing deleted"):
        handlers.finish(job, None)
    assert job["source"]["snapshot_id"] in ids(family, SOURCE_REGION)


# --- on_failure ----------------------------------------------------------------------------------------------------


def lambda_error(error: Exception) -> dict[str, str]:
    """The Catch output of a Lambda task that raised ``error`` (Cause is the Lambda error document as JSON)."""
    cause = {"errorMessage": str(error), "errorType": type(error).__name__, "requestId": "r-1", "stackTrace": []}
    return {"Error": type(error).__name__, "Cause": json.dumps(cause)}


def started(world: World, kind: str) -> Job:
    return run_to_copy(job_input(kind, make_source(world, kind), world.destination_key))


@pytest.mark.parametrize("kind", KINDS)
def test_on_failure_deletes_an_incomplete_copy_this_execution_made_and_nothing_else(world: World, kind: str) -> None:
    family = FAMILY[kind]
    job = started(world, kind)
    copy_id = job["destination"]["snapshot_id"]
    sources = ids(family, SOURCE_REGION)
    set_moto_status(family, DESTINATION_REGION, copy_id, PENDING_WORD[family])
    error = CopyFailed(f"copy {copy_id} in {DESTINATION_REGION} is failed")
    job["destination"]["status"] = "pending"
    result = handlers.on_failure({"job": job, "error": lambda_error(error)}, None)
    assert ids(family, DESTINATION_REGION) == set()
    assert ids(family, SOURCE_REGION) == sources
    assert result["error"] == "CopyFailed"
    cause = result["cause"]
    assert cause.startswith(f"The copy of {kind} ")
    assert f"failed at step check_copy with CopyFailed: copy {copy_id} in {DESTINATION_REGION} is failed" in cause
    assert CopyFailed.remedy in cause
    assert f"The incomplete copy {copy_id} in {DESTINATION_REGION}, made by this execution, was deleted." in cause


@pytest.mark.parametrize("kind", ["rds-instance", "aurora-cluster", "ebs-volume"])
def test_on_failure_keeps_an_available_copy(world: World, kind: str) -> None:
    job = started(world, kind)
    result = handlers.on_failure({"job": job, "error": lambda_error(CopyFailed("x"))}, None)
    assert ids(FAMILY[kind], DESTINATION_REGION) == {job["destination"]["snapshot_id"]}
    assert "is available and was kept" in result["cause"]


@pytest.mark.parametrize("kind", ["rds-snapshot", "ebs-snapshot"])
def test_on_failure_keeps_a_copy_an_earlier_execution_made(world: World, kind: str) -> None:
    """A rerun found the copy (created false): even if it is not available, this execution must not delete it."""
    family = FAMILY[kind]
    source_id = make_source(world, kind)
    run_to_copy(job_input(kind, source_id, world.destination_key))
    job = run_to_copy(job_input(kind, source_id, world.destination_key), execution("run-2"))
    assert job["destination"]["created"] is False
    set_moto_status(family, DESTINATION_REGION, job["destination"]["snapshot_id"], PENDING_WORD[family])
    result = handlers.on_failure({"job": job, "error": lambda_error(CopyFailed("x"))}, None)
    assert ids(family, DESTINATION_REGION) == {job["destination"]["snapshot_id"]}
    assert "deleted" not in result["cause"]


def test_on_failure_keeps_a_copy_whose_tags_say_another_execution_made_it(world: World) -> None:
    job = started(world, "rds-snapshot")
    copy_id = job["destination"]["snapshot_id"]
    set_moto_status("rds", DESTINATION_REGION, copy_id, "copying")
    job["execution"]["id"] = "arn:aws:states:eu-west-1:123456789012:execution:kmsflow-snapshot-copy:someone-else"
    result = handlers.on_failure({"job": job, "error": lambda_error(CopyFailed("x"))}, None)
    assert ids("rds", DESTINATION_REGION) == {copy_id}
    assert "this execution did not make it" in result["cause"]


def test_on_failure_of_validate_names_the_input_problem_and_touches_nothing(world: World) -> None:
    raw = job_input("rds-cluster", "Orders-DB", world.destination_key)
    with pytest.raises(InvalidInput) as caught:
        handlers.validate({"input": raw, "execution": execution()}, None)
    result = handlers.on_failure({"job": raw, "error": lambda_error(caught.value)}, None)
    assert result["error"] == "InvalidInput"
    assert result["cause"].startswith(
        f"The copy of rds-cluster Orders-DB in {SOURCE_REGION} to {DESTINATION_REGION} failed at step validate"
    )
    assert "source.kind: 'rds-cluster' received" in result["cause"]
    assert result["cause"].endswith("correct the execution input and start a new execution.")


def test_on_failure_of_a_retried_quota_error_names_step_and_remedy(world: World) -> None:
    job = handlers.check_destination_key(
        handlers.check_source(
            handlers.prepare_source(
                handlers.validate(
                    {
                        "input": job_input("ebs-volume", make_source(world, "ebs-volume"), world.destination_key),
                        "execution": execution(),
                    },
                    None,
                ),
                None,
            ),
            None,
        ),
        None,
    )
    error = CopyQuotaExceeded(f"too many snapshot copies to {DESTINATION_REGION}")
    result = handlers.on_failure({"job": job, "error": lambda_error(error)}, None)
    assert result["error"] == "CopyQuotaExceeded"
    assert "failed at step start_copy with CopyQuotaExceeded" in result["cause"]
    assert "ask for a higher quota" in result["cause"]


@pytest.mark.parametrize(
    ("error", "expected_type", "expected_text"),
    [
        ({"Error": "States.Timeout", "Cause": "The state machine timed out"}, "States.Timeout", "ran out of time"),
        ({"Error": "Lambda.Unknown", "Cause": "not json"}, "Lambda.Unknown", "read the task's log"),
        ({"Error": "States.TaskFailed"}, "States.TaskFailed", "no message"),
        ("not an object", "UnknownError", "no error details"),
    ],
)
def test_on_failure_words_errors_that_kmsflow_did_not_raise(error: Any, expected_type: str, expected_text: str) -> None:
    result = handlers.on_failure({"job": {"source": "?"}, "error": error}, None)
    assert result["error"] == expected_type
    assert expected_text in result["cause"]
    assert result["cause"].endswith(".")


def test_on_failure_words_a_cause_even_when_the_job_is_malformed() -> None:
    job = {"job_id": "x", "destination": {"created": True, "snapshot_id": "s1", "region": DESTINATION_REGION}}
    result = handlers.on_failure({"job": job, "error": {"Error": "States.TaskFailed", "Cause": "boom"}}, None)
    assert "The incomplete copy s1 in eu-central-1 could not be removed" in result["cause"]
    assert result["cause"].startswith("The copy of ? ? in ? to eu-central-1 failed at step")
