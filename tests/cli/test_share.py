"""`kmsflow share start/status` against the scripted Step Functions client of the copy command's tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from kmsflow.cli import app
from kmsflow.cli import copy as copy_cli
from tests.cli.test_copy import FakeStepFunctions, FakeSts

ARN = "arn:aws:states:eu-west-1:222222222222:stateMachine:kmsflow-snapshot-share-eu-west-1"
KEY = "arn:aws:kms:eu-central-1:333333333333:alias/partner-snapshots"
FLAGS = [
    "share", "start", "--kind", "rds-snapshot", "--id", "orders-2030-01-01", "--source-region", "eu-west-1",
    "--target-account", "333333333333", "--target-region", "eu-central-1", "--kms-key-id", KEY, "--tag", "team=orders",
]  # fmt: skip
OUTPUT = {
    "target": {
        "account": "333333333333",
        "snapshot_arn": "arn:aws:rds:eu-central-1:333333333333:snapshot:kmsflow-abc",
        "kms_key_id": "arn:aws:kms:eu-central-1:333333333333:key/k",
    },
    "revoked": {"grants": ["g-1"], "unshared": ["333333333333:arn:s"], "deleted": ["eu-west-1:kmsflow-abc-share"]},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeStepFunctions:
    sfn = FakeStepFunctions(
        [["Validate", "PrepareSource", "PrepareShareable"], ["OpenAccess", "TargetCopy"], ["RevokeAccess", "Finish"]],
        "SUCCEEDED",
        OUTPUT,
    )

    def fake_client(service: str, *, region: str, config: Any) -> Any:
        assert config is copy_cli.INTERACTIVE_CONFIG
        sfn.clients += 1
        return sfn if service == "stepfunctions" else FakeSts()

    monkeypatch.setattr(copy_cli, "client", fake_client)  # share start/status run through copy's launch
    monkeypatch.setattr(copy_cli, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(copy_cli.time, "sleep", lambda _: None)
    return sfn


def test_start_builds_the_share_input_follows_it_and_shows_the_revocation(fake: FakeStepFunctions) -> None:
    result = CliRunner().invoke(app, FLAGS)
    assert result.exit_code == 0, result.output
    assert fake.started["stateMachineArn"] == ARN
    assert json.loads(fake.started["input"]) == {
        "source": {"kind": "rds-snapshot", "id": "orders-2030-01-01", "region": "eu-west-1"},
        "target": {"account": "333333333333", "region": "eu-central-1", "kms_key_id": KEY},
        "options": {"tags": {"team": "orders"}, "delete_source_snapshot": False},
    }
    states = [line.split()[-1] for line in result.output.splitlines() if line.startswith("00:00:00")]
    assert states == [
        "Validate",
        "PrepareSource",
        "PrepareShareable",
        "OpenAccess",
        "TargetCopy",
        "RevokeAccess",
        "Finish",
    ]
    assert "copy in 333333333333: arn:aws:rds:eu-central-1:333333333333:snapshot:kmsflow-abc" in result.output
    assert "revoked grants: g-1" in result.output
    assert "deleted: eu-west-1:kmsflow-abc-share" in result.output


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--target-account", "3333", "target.account: '3333' received"),
        ("--kms-key-id", "arn:aws:kms:eu-central-1:444444444444:alias/x", "a key or alias ARN of account 333333333333"),
    ],
    ids=["short-account", "key-of-another-account"],
)
def test_start_refuses_locally_what_the_machine_would_refuse(
    fake: FakeStepFunctions, flag: str, value: str, expected: str
) -> None:
    flags = list(FLAGS)
    flags[flags.index(flag) + 1] = value
    result = CliRunner().invoke(app, flags)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert fake.clients == 0


def test_a_failed_share_exits_1_with_its_cause(fake: FakeStepFunctions) -> None:
    fake.final_status, fake.output, fake.cause = "FAILED", None, "failed at step target_copy ... Revoked: grants: g-1."
    result = CliRunner().invoke(app, FLAGS)
    assert result.exit_code == 1
    assert "Revoked: grants: g-1." in result.output


def test_status_shows_the_copy_and_the_revocation(fake: FakeStepFunctions) -> None:
    fake.reads = len(fake.batches)
    result = CliRunner().invoke(app, ["share", "status", "arn:aws:states:eu-west-1:222222222222:execution:m:x"])
    assert result.exit_code == 0, result.output
    assert "unshared: 333333333333:arn:s" in result.output
