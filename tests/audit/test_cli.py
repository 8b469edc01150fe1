"""``kmsflow audit usage`` through typer's CliRunner: formats, options, exit codes."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from kmsflow.audit.usage.sources import LookupSettings
from kmsflow.cli import audit
from kmsflow.cli.audit import app
from kmsflow.lambdas.aws_clients import client

from . import factory as f

APP = f.assumed_role("App", "s1")
PARTNER_ROLE = f.assumed_role("Reader", "p", account=f.PARTNER)
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["usage", *args])


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    records = [
        f.create_alias("alias/app", f.key_id(1), f.iam_user("Admin"), time="2025-05-01T00:00:00Z"),
        *[f.kms_event("Decrypt", APP, key=f.key_arn(1), time="2025-05-20T10:00:00Z")] * 3,
        f.kms_event("Encrypt", APP, key_param="alias/app", resources=[], time="2025-05-20T11:00:00Z"),
        f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1), time="2025-05-21T10:00:00Z"),
        f.kms_event("Decrypt", f.aws_service("rds.amazonaws.com"), key=f.key_arn(2), time="2025-05-22T10:00:00Z"),
        f.kms_event(
            "Decrypt", f.iam_user("Mallory"), key=f.key_arn(1), error_code="AccessDenied", time="2025-05-22T11:00:00Z"
        ),
        f.kms_event("ListKeys", f.root()),
        f.other_service(),
    ]
    f.write(tmp_path / "logs", f.log_key(f.ACCOUNT, f.REGION), f.log_bytes(records))
    f.write(tmp_path / "logs", f.digest_key(f.ACCOUNT, f.REGION), f.digest_bytes())
    return tmp_path


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "now", lambda: NOW)


def usage_counts(document: dict[str, Any]) -> dict[tuple[str, str, str], int]:
    return {(u["key"], u["principal"], u["operation"]): u["count"] for u in document["usage"]}


def test_json_report(trail: Path) -> None:
    result = invoke("--logs", str(trail / "logs"), "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"usage", "unused_keys", "external_principals", "window", "sources", "complete"}
    assert usage_counts(document) == {
        (f.key_arn(1), f.role_arn("App"), "Decrypt"): 3,
        (f.key_arn(1), f.role_arn("App"), "Encrypt"): 1,
        (f.key_arn(1), f.role_arn("Reader", f.PARTNER), "Decrypt"): 1,
        (f.key_arn(2), "rds.amazonaws.com", "Decrypt"): 1,
        (f.key_arn(1), f"arn:aws:iam::{f.ACCOUNT}:user/Mallory", "Decrypt"): 1,
        (f.key_arn(1), f"arn:aws:iam::{f.ACCOUNT}:user/Admin", "CreateAlias"): 1,
        ("-", f"arn:aws:iam::{f.ACCOUNT}:root", "ListKeys"): 1,
    }
    first = document["usage"][0]
    assert first == {
        "key": f.key_arn(1),
        "key_kind": "key",
        "key_aliases": ["alias/app"],
        "principal": f.role_arn("App"),
        "principal_type": "role",
        "principal_account": f.ACCOUNT,
        "operation": "Decrypt",
        "account": f.ACCOUNT,
        "region": f.REGION,
        "service": "",
        "error_code": "",
        "count": 3,
    }
    assert [e["principal"] for e in document["external_principals"]] == [f.role_arn("Reader", f.PARTNER)]
    denied = [u for u in document["usage"] if u["error_code"]]
    assert [(u["principal"], u["error_code"]) for u in denied] == [
        (f"arn:aws:iam::{f.ACCOUNT}:user/Mallory", "AccessDenied")
    ]
    sources = document["sources"]
    assert (sources["files_read"], sources["files_ignored"], sources["files_bad"]) == (1, 1, [])
    assert (sources["records_read"], sources["records_kms"], sources["records_other_services"]) == (10, 9, 1)
    assert document["window"] == {"since": None, "until": None}
    assert document["complete"] is True


def test_csv_report(trail: Path) -> None:
    result = invoke("--logs", str(trail / "logs"), "--format", "csv", "--operation", "Decrypt")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.stdout.splitlines()[0] == (
        "key,key_kind,key_aliases,principal,principal_type,principal_account,operation,account,region,service,"
        "error_code,count"
    )
    assert {r["operation"] for r in rows} == {"Decrypt"}
    assert sum(int(r["count"]) for r in rows) == 6
    assert rows[0]["key_aliases"] == "alias/app"
    assert rows[0]["count"] == "3"


def test_table_report_and_output_file(trail: Path, tmp_path: Path) -> None:
    result = invoke("--logs", str(trail / "logs"))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "COUNT" in text
    assert "PRINCIPAL" in text
    assert f.role_arn("App") in text
    assert "alias/app" in text
    assert "Principals from other accounts" in text
    out = tmp_path / "report.json"
    result = invoke("--logs", str(trail / "logs"), "--format", "json", "--output", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(out.read_text())["complete"] is True


def test_window_and_filters(trail: Path) -> None:
    result = invoke(
        "--logs",
        str(trail / "logs"),
        "--format",
        "json",
        "--since",
        "2025-05-20",
        "--until",
        "2025-05-21",
        "--key",
        "alias/app",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert usage_counts(document) == {
        (f.key_arn(1), f.role_arn("App"), "Decrypt"): 3,
        (f.key_arn(1), f.role_arn("App"), "Encrypt"): 1,
    }
    assert document["window"] == {"since": "2025-05-20T00:00:00Z", "until": "2025-05-21T00:00:00Z"}
    relative = json.loads(invoke("--logs", str(trail / "logs"), "--format", "json", "--since", "7d").stdout)
    assert relative["window"]["since"] == "2025-05-25T12:00:00Z"
    assert relative["usage"] == []


def test_keys_and_aliases_files(trail: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"Keys": [{"KeyId": f.key_id(n), "KeyArn": f.key_arn(n)} for n in (1, 2, 3)]}))
    aliases = tmp_path / "aliases.json"
    aliases.write_text(json.dumps({"alias/idle": f.key_arn(3)}))
    result = invoke("--logs", str(trail / "logs"), "--format", "json", "--keys", str(keys), "--aliases", str(aliases))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unused_keys"] == [{"key": f.key_arn(3), "key_aliases": ["alias/idle"]}]


def test_bad_file_exit_3_named_on_stderr(trail: Path) -> None:
    bad = f.write(trail / "logs", f.log_key(f.ACCOUNT, f.REGION, unique="TRUNCATEDXXXXXXX"), f.log_bytes([])[:10])
    result = invoke("--logs", str(trail / "logs"), "--format", "json")
    assert result.exit_code == 3
    assert str(bad) in result.stderr
    assert "truncated" in result.stderr
    document = json.loads(result.stdout)
    assert document["complete"] is False
    assert [b["path"] for b in document["sources"]["files_bad"]] == [str(bad)]


def test_malformed_record_exit_3(tmp_path: Path) -> None:
    f.write(tmp_path, "a.json", f.log_bytes([{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt"}], gz=False))
    result = invoke("--logs", str(tmp_path))
    assert result.exit_code == 3
    assert "1 malformed record(s)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no source"),
        (("--logs", "/nonexistent/dir"), "no such file"),
        (("--logs", ".", "--since", "last week"), "--since"),
        (("--logs", ".", "--format", "xml"), "--format"),
        (("--logs", ".", "--keys", "/nonexistent.json"), "--keys"),
    ],
)
def test_invalid_arguments_exit_2(args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_lookup_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    result = invoke("--lookup")
    assert result.exit_code == 2
    assert "region" in result.stderr


class _Clients:
    """Stands in for kmsflow.lambdas.aws_clients.client: real clients with Stubbers, one per (service, region)."""

    def __init__(self) -> None:
        self.stubs: dict[tuple[str, str], Stubber] = {}
        self.made: dict[tuple[str, str], Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def stub(self, service: str, region: str) -> Stubber:
        made = client(service, region=region)
        self.made[(service, region)] = made
        self.stubs[(service, region)] = stub = Stubber(made)
        stub.activate()
        return stub

    def __call__(self, service: str, **kwargs: Any) -> Any:
        self.calls.append((service, kwargs))
        return self.made[(service, kwargs["region"])]


def test_lookup_defaults_to_90_days_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = _Clients()
    monkeypatch.setattr(audit, "client", clients)
    monkeypatch.setattr(audit, "lookup_settings", lambda: LookupSettings(sleep=lambda s: None, rng=random.Random(0)))
    trail = clients.stub("cloudtrail", "eu-central-1")
    record = f.kms_event("Decrypt", APP, key=f.key_arn(1, region="eu-central-1"), region="eu-central-1")
    trail.add_response(
        "lookup_events",
        {"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(record)}]},
        {
            "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
            "StartTime": NOW - timedelta(days=90),
            "EndTime": NOW,
            "MaxResults": 50,
        },
    )
    result = invoke(
        "--lookup", "--region", "eu-central-1", "--format", "json", "--role-arn", "arn:aws:iam::1:role/Audit"
    )
    assert result.exit_code == 0, result.output
    assert usage_counts(json.loads(result.stdout)) == {
        (f.key_arn(1, region="eu-central-1"), f.role_arn("App"), "Decrypt"): 1
    }
    assert clients.calls == [("cloudtrail", {"region": "eu-central-1", "role_arn": "arn:aws:iam::1:role/Audit"})]
    trail.assert_no_pending_responses()


def test_lookup_aws_error_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = _Clients()
    monkeypatch.setattr(audit, "client", clients)
    clients.stub("cloudtrail", "eu-west-1").add_client_error(
        "lookup_events", "AccessDeniedException", "not allowed", 400
    )
    result = invoke("--lookup", "--region", "eu-west-1")
    assert result.exit_code == 1
    assert "AccessDeniedException" in result.stderr
    assert "Traceback" not in result.output


def test_list_keys_lists_unused_keys_and_resolves_aliases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clients = _Clients()
    monkeypatch.setattr(audit, "client", clients)
    kms = clients.stub("kms", f.REGION)
    kms.add_response(
        "list_keys",
        {
            "Keys": [{"KeyId": f.key_id(n), "KeyArn": f.key_arn(n)} for n in (1, 4)],
            "Truncated": True,
            "NextMarker": "m",
        },
    )
    kms.add_response("list_keys", {"Keys": [{"KeyId": f.key_id(5), "KeyArn": f.key_arn(5)}], "Truncated": False})
    kms.add_response(
        "list_aliases",
        {
            "Aliases": [
                {"AliasName": "alias/app", "AliasArn": f.alias_arn("alias/app"), "TargetKeyId": f.key_id(1)},
                {"AliasName": "alias/idle", "AliasArn": f.alias_arn("alias/idle"), "TargetKeyId": f.key_id(4)},
                {"AliasName": "alias/aws/ebs", "AliasArn": f.alias_arn("alias/aws/ebs")},
            ],
            "Truncated": False,
        },
    )
    f.write(tmp_path, "l.json.gz", f.log_bytes([f.kms_event("Encrypt", APP, key_param="alias/app", resources=[])]))
    result = invoke("--logs", str(tmp_path), "--list-keys", "--region", f.REGION, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert usage_counts(document) == {(f.key_arn(1), f.role_arn("App"), "Encrypt"): 1}
    assert document["usage"][0]["key_aliases"] == ["alias/app"]
    assert document["unused_keys"] == [
        {"key": f.key_arn(4), "key_aliases": ["alias/idle"]},
        {"key": f.key_arn(5), "key_aliases": []},
    ]
    kms.assert_no_pending_responses()


def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(app, ["usage", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.stdout
    assert "3" in result.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_with_many_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(audit.PROGRESS_MIN_FILES + 5):
        f.write(tmp_path, f"f{n:02d}.json", f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1))], gz=False))
    f.write(tmp_path, "zz.json", b"{}")
    terminal = _Terminal()
    monkeypatch.setattr(audit.sys, "stderr", terminal)
    seen = []
    from kmsflow.audit.usage.sources import LocalLogs

    source = LocalLogs([str(tmp_path)])
    with audit._progress([source]) as on_unit:
        for unit in source.units():
            on_unit(unit)
            seen.append(unit.name)
    assert len(seen) == audit.PROGRESS_MIN_FILES + 6
    output = terminal.getvalue()
    assert "zz.json" in output
    assert "Records" in output
    assert "reading CloudTrail logs" in output


def test_no_progress_bar_off_a_terminal(tmp_path: Path) -> None:
    for n in range(audit.PROGRESS_MIN_FILES + 5):
        f.write(tmp_path, f"f{n:02d}.json", f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1))], gz=False))
    result = invoke("--logs", str(tmp_path))
    assert result.exit_code == 0
    assert result.stderr == ""
