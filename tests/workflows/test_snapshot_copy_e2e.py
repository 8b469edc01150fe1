"""The synthesized snapshot-copy state machine, executed end to end in moto with its real handlers.

The definition is the one the default configuration synthesizes (``kmsflow-workflows-workloads-primary``);
each Lambda task runs the handler named in the template, in process (tests/support/sfn_harness.py). Snapshots
take virtual time (source snapshots 30 minutes, copies 2 hours unless a test says otherwise), so the
executions go through real creating/copying states and back-off waits in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kmsflow.lambdas.snapshot_copy import handlers
from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    FAMILY,
    KINDS,
    SOURCE_REGION,
    execution,
    job_input,
    make_source,
    make_world,
    manual_snapshots,
    snapshot_id_of,
    tags_of,
)
from tests.support.moto_snapshots import silent_progress
from tests.support.sfn_harness import WorkflowHarness
from tests.workflows.support import COPY_MACHINE, STACK, unused_imports

SNAPSHOT_KINDS = {"rds": "rds-snapshot", "aurora": "aurora-cluster-snapshot", "ebs": "ebs-snapshot"}
#: Virtual seconds until the copy is done: the source snapshot (made in the harness for every kind) and the copy.
DONE_AFTER = 30 * 60 + 2 * 3600


@pytest.fixture
def harness(default_templates: dict[str, dict[str, Any]]) -> Iterator[WorkflowHarness]:
    with WorkflowHarness(
        default_templates[STACK],
        regions=[SOURCE_REGION, DESTINATION_REGION],
        refs=unused_imports(default_templates[STACK]),
        seed=7,
    ) as h:
        for family in SNAPSHOT_KINDS.values():
            h.snapshots.set_duration(family, 30 * 60, copy_seconds=2 * 3600)
        yield h


def copy_of(family: str, snapshot_id: str) -> dict[str, Any]:
    (copy,) = [s for s in manual_snapshots(family, DESTINATION_REGION) if snapshot_id_of(family, s) == snapshot_id]
    return copy


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_copied_under_the_destination_key(harness: WorkflowHarness, kind: str) -> None:
    world = make_world()
    source = make_source(world, kind)
    result = harness.run(COPY_MACHINE, input=job_input(kind, source, world.destination_alias, tags={"team": "orders"}))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    destination = result.output["destination"]
    assert destination["region"] == DESTINATION_REGION
    assert destination["kms_key_id"] == world.destination_key
    family = FAMILY[kind]
    copy = copy_of(family, destination["snapshot_id"])
    assert copy["KmsKeyId"] == world.destination_key
    tags = tags_of(family, DESTINATION_REGION, destination["snapshot_id"])
    assert tags["team"] == "orders"
    assert tags["kmsflow:source-arn"] == result.output["source"]["snapshot_arn"]
    assert tags["kmsflow:execution"].startswith("arn:aws:states:")
    # The copy took two virtual hours; the waits followed its reported progress: a handful of checks, and the
    # copy was noticed less than 10 minutes after it was done (a fixed 60-second loop makes 120 checks).
    assert DONE_AFTER <= result.virtual_seconds <= DONE_AFTER + 600
    assert result.state_counts["CheckCopy"] <= 6


def test_without_progress_figures_the_waits_double_up_to_10_minutes(harness: WorkflowHarness) -> None:
    """A copy that reports 0 % until it is done (RDS often does) is checked at 30 s, doubling, capped at 10 min."""
    harness.snapshots.progress_curve = silent_progress
    world = make_world()
    source = make_source(world, "rds-snapshot")
    result = harness.run(COPY_MACHINE, input=job_input("rds-snapshot", source, world.destination_alias))
    assert result.status == "SUCCEEDED", result.cause
    assert result.waits[:6] == (30, 60, 120, 240, 480, 600)
    assert max(result.waits) == 600
    # Each of the two waits (source, copy) notices its end at most one capped wait late.
    assert DONE_AFTER <= result.virtual_seconds <= DONE_AFTER + 2 * 600


@pytest.mark.parametrize("kind", ["rds-snapshot", "rds-instance", "ebs-snapshot", "ebs-volume"])
def test_an_unencrypted_source_is_copied_encrypted(harness: WorkflowHarness, kind: str) -> None:
    world = make_world()
    source = make_source(world, kind, encrypted=False)
    result = harness.run(COPY_MACHINE, input=job_input(kind, source, world.destination_alias))
    assert result.status == "SUCCEEDED", result.cause
    copy = copy_of(FAMILY[kind], result.output["destination"]["snapshot_id"])
    assert copy["Encrypted"] is True
    assert copy["KmsKeyId"] == world.destination_key


@pytest.mark.parametrize("kind", ["aurora-cluster", "aurora-cluster-snapshot"])
def test_an_unencrypted_aurora_source_is_refused_before_anything_is_made(harness: WorkflowHarness, kind: str) -> None:
    """AWS cannot encrypt a DB cluster snapshot while copying it: refused, with the remedy, and no snapshot of
    the cluster nor a copy is left behind."""
    world = make_world()
    source = make_source(world, kind, encrypted=False)
    before = [snapshot_id_of("aurora", s) for s in manual_snapshots("aurora", SOURCE_REGION)]
    result = harness.run(COPY_MACHINE, input=job_input(kind, source, world.destination_alias))
    assert result.status == "FAILED"
    assert result.error == "UnencryptedSourceNotSupported"
    assert "restore the snapshot into a new cluster encrypted with a KMS key" in (result.cause or "")
    assert [snapshot_id_of("aurora", s) for s in manual_snapshots("aurora", SOURCE_REGION)] == before
    assert manual_snapshots("aurora", DESTINATION_REGION) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda doc: doc["source"].update(kind="floppy-disk"), "kind"),
        (lambda doc: doc["source"].pop("id"), "source.id"),
        (lambda doc: doc["destination"].update(region="mars-north-1"), "mars-north-1"),
    ],
    ids=["unknown-kind", "missing-field", "unknown-region"],
)
def test_bad_input_fails_with_invalid_input(harness: WorkflowHarness, change: Any, fragment: str) -> None:
    world = make_world()
    doc = job_input("rds-snapshot", "anything", world.destination_alias)
    change(doc)
    result = harness.run(COPY_MACHINE, input=doc)
    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    assert fragment in (result.cause or "")
    assert result.state_counts.get("PrepareSource", 0) == 0


def test_a_missing_source_fails_naming_it(harness: WorkflowHarness) -> None:
    world = make_world()
    result = harness.run(COPY_MACHINE, input=job_input("rds-snapshot", "no-such-snapshot", world.destination_alias))
    assert result.status == "FAILED"
    assert result.error == "SourceNotFound"
    assert "no-such-snapshot" in (result.cause or "")
    assert SOURCE_REGION in (result.cause or "")


def _disable(world: Any, h: WorkflowHarness) -> str:
    h.client("kms", DESTINATION_REGION).disable_key(KeyId=world.destination_key.rsplit("/", 1)[1])
    return str(world.destination_key)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (
            lambda w, h: f"arn:aws:kms:{DESTINATION_REGION}:123456789012:key/00000000-0000-0000-0000-000000000000",
            "DestinationKeyNotFound",
        ),
        (_disable, "DestinationKeyDisabled"),
        (
            lambda w, h: h.client("kms", DESTINATION_REGION).create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")[
                "KeyMetadata"
            ]["Arn"],
            "DestinationKeyNotSymmetric",
        ),
    ],
    ids=["missing", "disabled", "asymmetric"],
)
def test_destination_key_problems_fail_before_any_copy(harness: WorkflowHarness, key: Any, error: str) -> None:
    world = make_world()
    source = make_source(world, "ebs-snapshot")
    result = harness.run(COPY_MACHINE, input=job_input("ebs-snapshot", source, key(world, harness)))
    assert result.status == "FAILED"
    assert result.error == error, result.cause
    assert result.state_counts.get("StartCopy", 0) == 0
    assert manual_snapshots("ebs", DESTINATION_REGION) == []


def test_a_destination_key_of_another_region_is_refused_at_validation(harness: WorkflowHarness) -> None:
    """A key ARN of the source region cannot encrypt a copy in the destination region: refused up front."""
    world = make_world()
    source = make_source(world, "ebs-snapshot")
    result = harness.run(COPY_MACHINE, input=job_input("ebs-snapshot", source, world.source_key))
    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    assert SOURCE_REGION in (result.cause or "")
    assert DESTINATION_REGION in (result.cause or "")
    assert manual_snapshots("ebs", DESTINATION_REGION) == []


def test_throttling_on_30_percent_of_calls_still_succeeds(harness: WorkflowHarness) -> None:
    world = make_world()
    source = make_source(world, "rds-instance")
    harness.faults.throttle(0.3)
    result = harness.run(COPY_MACHINE, input=job_input("rds-instance", source, world.destination_alias))
    assert result.status == "SUCCEEDED", result.cause
    # Calls of at least three different operations were throttled, and the execution still got through.
    assert sum(harness.faults.injected.values()) >= 5
    assert len({name.split(":")[0] for name in harness.faults.injected}) >= 3
    assert len(manual_snapshots("rds", DESTINATION_REGION)) == 1


def test_a_copy_quota_error_that_clears_after_minutes_is_retried(harness: WorkflowHarness) -> None:
    world = make_world()
    source = make_source(world, "rds-snapshot")
    harness.faults.add(
        "SnapshotQuotaExceeded",
        service="rds",
        operation="CopyDBSnapshot",
        # The source snapshot is ready after 30 virtual minutes; the quota then stays full for 30 more.
        for_seconds=60 * 60,
        message="Cannot copy more than 20 snapshots across regions",
    )
    result = harness.run(COPY_MACHINE, input=job_input("rds-snapshot", source, world.destination_alias))
    assert result.status == "SUCCEEDED", result.cause
    assert result.state_counts["StartCopy"] == 1
    assert result.retries >= 2
    assert max(result.retry_delays) >= 60  # quota retries wait minutes (full jitter: at most the interval)
    assert any(key.endswith(":SnapshotQuotaExceeded") for key in harness.faults.injected)
    assert len(manual_snapshots("rds", DESTINATION_REGION)) == 1


def test_a_rerun_of_a_finished_input_makes_no_second_copy(harness: WorkflowHarness) -> None:
    world = make_world()
    source = make_source(world, "aurora-cluster-snapshot")
    doc = job_input("aurora-cluster-snapshot", source, world.destination_alias)
    first = harness.run(COPY_MACHINE, input=doc)
    second = harness.run(COPY_MACHINE, input=doc)
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert second.output["destination"]["snapshot_id"] == first.output["destination"]["snapshot_id"]
    assert len(manual_snapshots("aurora", DESTINATION_REGION)) == 1


def test_a_rerun_after_a_crash_between_copy_and_tagging_resumes_with_one_copy(harness: WorkflowHarness) -> None:
    """The first attempt started the copy and died before its lineage was complete (simulated: the handlers run
    up to start_copy, then the copy's tags are removed); the rerun finds the copy, tags it, and finishes."""
    world = make_world()
    source = make_source(world, "rds-snapshot")
    doc = job_input("rds-snapshot", source, world.destination_alias)
    harness.clock.advance(31 * 60)  # the source snapshot (30 virtual minutes) is available
    job = handlers.validate({"input": doc, "execution": execution("crashed")}, None)
    job = handlers.check_destination_key(handlers.prepare_source(job, None), None)
    job = handlers.start_copy(job, None)
    copy_id = job["destination"]["snapshot_id"]
    rds = harness.client("rds", DESTINATION_REGION)
    arn = copy_of("rds", copy_id)["DBSnapshotArn"]
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=list(tags_of("rds", DESTINATION_REGION, copy_id)))
    result = harness.run(COPY_MACHINE, input=doc)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["destination"]["snapshot_id"] == copy_id
    assert len(manual_snapshots("rds", DESTINATION_REGION)) == 1
    assert tags_of("rds", DESTINATION_REGION, copy_id)["kmsflow:source-arn"] == result.output["source"]["snapshot_arn"]


@pytest.mark.parametrize("kind", ["rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"])
def test_a_copy_left_by_a_failed_execution_is_removed(harness: WorkflowHarness, kind: str) -> None:
    """The first status check of the copy fails for good: OnFailure deletes the copy this execution started,
    and the cause says so; the source snapshot, which the execution did not make, stays."""
    world = make_world()
    source = make_source(world, kind)
    family = FAMILY[kind]
    before = [snapshot_id_of(family, s) for s in manual_snapshots(family, SOURCE_REGION)]
    harness.faults.add("InvalidParameterValue", handler="check_copy", times=1)
    result = harness.run(COPY_MACHINE, input=job_input(kind, source, world.destination_alias))
    assert result.status == "FAILED"
    assert result.state_counts["StartCopy"] == 1
    assert "was deleted" in (result.cause or "")
    assert manual_snapshots(family, DESTINATION_REGION) == []
    assert [snapshot_id_of(family, s) for s in manual_snapshots(family, SOURCE_REGION)] == before
