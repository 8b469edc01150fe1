"""`kmsflow copy start/status` against a fake Step Functions client (the live view's polling) and moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import NoCredentialsError
from typer.testing import CliRunner

from kmsflow.cli import app
from kmsflow.cli import copy as copy_cli

ARN = "arn:aws:states:eu-west-1:222222222222:stateMachine:kmsflow-snapshot-copy-eu-west-1"
EXECUTION = "arn:aws:states:eu-west-1:222222222222:execution:kmsflow-snapshot-copy-eu-west-1:x"


class FakeStepFunctions:
    """Plays back a scripted execution: each history read reveals one more batch of events."""

    def __init__(self, batches: list[list[str]], status: str, output: dict[str, Any] | None, cause: str = "") -> None:
        self.batches = batches
        self.reads = 0
        self.final_status = status
        self.output = output
        self.cause = cause
        self.started: dict[str, Any] = {}
        self.clients = 0

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started = kwargs
        return {"executionArn": EXECUTION}

    def get_paginator(self, name: str) -> Any:
        assert name == "get_execution_history"
        fake = self

        class Pages:
            def paginate(self, executionArn: str) -> list[dict[str, Any]]:  # noqa: N803 - boto3's keyword
                fake.reads += 1
                names = [n for batch in fake.batches[: fake.reads] for n in batch]
                events = [
                    {
                        "type": "TaskStateEntered",
                        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
                        "stateEnteredEventDetails": {"name": n},
                    }
                    for n in names
                ]
                return [{"events": events}]

        return Pages()

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        done = self.reads >= len(self.batches)
        description: dict[str, Any] = {"executionArn": executionArn, "status": self.final_status if done else "RUNNING"}
        if done and self.output is not None:
            description["output"] = json.dumps(self.output)
        if done and self.cause:
            description.update(error="SourceNotFound", cause=self.cause)
        return description


class FakeSts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "222222222222"}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeStepFunctions:
    sfn = FakeStepFunctions(
        [["Validate", "PrepareSource"], ["CheckSource", "StartCopy"], ["CheckCopy", "Finish"]],
        "SUCCEEDED",
        {
            "destination": {
                "snapshot_arn": "arn:aws:rds:eu-central-1:222222222222:snapshot:kmsflow-abc",
                "kms_key_id": "arn:k",
            }
        },
    )

    def fake_client(service: str, *, region: str, config: Any) -> Any:
        assert config is copy_cli.INTERACTIVE_CONFIG  # a person waits: short connects, few attempts
        sfn.clients += 1
        return sfn if service == "stepfunctions" else FakeSts()

    monkeypatch.setattr(copy_cli, "client", fake_client)
    monkeypatch.setattr(copy_cli, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(copy_cli.time, "sleep", lambda _: None)
    return sfn


FLAGS = [
    "copy", "start", "--kind", "rds-instance", "--id", "orders-db", "--source-region", "eu-west-1",
    "--destination-region", "eu-central-1", "--kms-key-id", "arn:aws:kms:eu-central-1:222222222222:alias/dr",
    "--tag", "team=orders",
]  # fmt: skip


def test_start_builds_the_contract_input_and_follows_each_state(fake: FakeStepFunctions) -> None:
    result = CliRunner().invoke(app, FLAGS)
    assert result.exit_code == 0, result.output
    assert fake.started["stateMachineArn"] == ARN
    assert json.loads(fake.started["input"]) == {
        "source": {"kind": "rds-instance", "id": "orders-db", "region": "eu-west-1"},
        "destination": {"region": "eu-central-1", "kms_key_id": "arn:aws:kms:eu-central-1:222222222222:alias/dr"},
        "options": {"tags": {"team": "orders"}, "delete_source_snapshot": False},
    }
    states = [line.split()[-1] for line in result.output.splitlines() if line.startswith("00:00:00")]
    assert states == ["Validate", "PrepareSource", "CheckSource", "StartCopy", "CheckCopy", "Finish"]
    assert "copy: arn:aws:rds:eu-central-1:222222222222:snapshot:kmsflow-abc" in result.output


def test_a_failed_execution_exits_1_with_its_cause(fake: FakeStepFunctions) -> None:
    fake.final_status, fake.output, fake.cause = "FAILED", None, "rds-snapshot nope in eu-west-1 was not found"
    result = CliRunner().invoke(app, FLAGS)
    assert result.exit_code == 1
    assert "SourceNotFound: rds-snapshot nope in eu-west-1 was not found" in result.output


def test_start_from_an_input_file_without_following(fake: FakeStepFunctions, tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text(
        json.dumps(
            {
                "source": {"kind": "ebs-volume", "id": "vol-0123456789abcdef0", "region": "eu-west-1"},
                "destination": {
                    "region": "eu-central-1",
                    "kms_key_id": "arn:aws:kms:eu-central-1:222222222222:alias/dr",
                },
            }
        )
    )
    result = CliRunner().invoke(app, ["copy", "start", "--input", str(path), "--no-follow"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"started {EXECUTION}"
    assert fake.reads == 0


def test_missing_flags_and_bad_kind_are_usage_errors(fake: FakeStepFunctions) -> None:
    result = CliRunner().invoke(app, ["copy", "start", "--kind", "rds-instance"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "missing --id, --source-region, --destination-region, --kms-key-id" in result.output
    bad = CliRunner().invoke(app, [*FLAGS[:3], "disk", *FLAGS[4:]], env={"COLUMNS": "300"})
    assert bad.exit_code == 2
    assert "--kind 'disk' is not one of rds-instance" in bad.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("--destination-region", "eu-west-1"), "destination.region"),
        (("--kms-key-id", "1234abcd-12ab-34cd-56ef-1234567890ab"), "destination.kms_key_id"),
    ],
    ids=["same-region-twice", "key-id-not-an-arn"],
)
def test_start_refuses_locally_what_the_workflow_would_refuse(
    fake: FakeStepFunctions, change: tuple[str, str], expected: str
) -> None:
    """The handler's own parser runs before any AWS call: no client is even made."""
    flags = list(FLAGS)
    flags[flags.index(change[0]) + 1] = change[1]
    result = CliRunner().invoke(app, flags)
    assert result.exit_code == 2, result.output
    assert "the execution input is invalid" in result.output
    assert expected in result.output
    assert fake.clients == 0


def test_missing_credentials_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_credentials(service: str, *, region: str, config: Any) -> Any:
        raise NoCredentialsError()

    monkeypatch.setattr(copy_cli, "client", no_credentials)
    result = CliRunner().invoke(app, FLAGS)
    assert result.exit_code == 1
    assert "no AWS credentials found; set AWS_PROFILE" in result.output
    assert "Traceback" not in result.output


def test_status_shows_one_execution(fake: FakeStepFunctions) -> None:
    fake.reads = len(fake.batches)
    result = CliRunner().invoke(app, ["copy", "status", EXECUTION])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{EXECUTION}: SUCCEEDED"
    assert "key:  arn:k" in result.output


def test_execution_names_are_unique_per_input_and_time() -> None:
    payload = {"source": {"kind": "rds-snapshot", "id": "arn:aws:rds:eu-west-1:1:snapshot:s"}}
    first = copy_cli.execution_name(payload, 1000.0)
    assert first != copy_cli.execution_name(payload, 1001.0)
    assert len(first) <= 80
    assert ":" not in first
