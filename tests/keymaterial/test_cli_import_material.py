"""``kmsflow keys import-material`` through typer's CliRunner, with the fake KMS in place of boto3."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kmsflow.cli import keys
from kmsflow.cli.keys import app

from .fake_kms import FakeKms

OPTIONS = [
    "--key-id",
    "--material",
    "--region",
    "--role-arn",
    "--wrapping-algorithm",
    "--wrapping-key-spec",
    "--expires-at",
]


class ClientSpy:
    """Stands in for kmsflow.lambdas.aws_clients.client: records the arguments, returns the fake."""

    def __init__(self, kms: FakeKms) -> None:
        self.kms = kms
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, service: str, **kwargs: Any) -> FakeKms:
        self.calls.append((service, kwargs))
        return self.kms


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms(region="eu-west-1")


@pytest.fixture
def spy(kms: FakeKms, monkeypatch: pytest.MonkeyPatch) -> ClientSpy:
    spy = ClientSpy(kms)
    monkeypatch.setattr(keys, "client", spy)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return spy


@pytest.fixture
def material_file(tmp_path: Path) -> tuple[Path, bytes]:
    material = os.urandom(32)
    path = tmp_path / "material.bin"
    path.write_bytes(material)
    return path, material


def _invoke(*args: str, stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin)


def _assert_no_leak(text: str, material: bytes) -> None:
    assert material.hex() not in text
    assert material.decode("latin-1") not in text


def test_success_prints_one_line_per_fact(spy: ClientSpy, kms: FakeKms, material_file: tuple[Path, bytes]) -> None:
    path, material = material_file
    key = kms.add_key()

    result = _invoke("import-material", "--key-id", key.key_id, "--material", str(path))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"Key ARN: {key.arn}" in lines
    assert "Key spec: SYMMETRIC_DEFAULT" in lines
    assert "Wrapping algorithm: RSAES_OAEP_SHA_256" in lines
    assert "Expiration: never (KEY_MATERIAL_DOES_NOT_EXPIRE)" in lines
    assert result.stderr == ""
    _assert_no_leak(result.output, material)
    assert kms.material_of(key.key_id) == material
    assert spy.calls == [("kms", {"region": "eu-west-1", "role_arn": None})]


def test_every_option_is_passed_through(spy: ClientSpy, kms: FakeKms, material_file: tuple[Path, bytes]) -> None:
    path, material = material_file
    key = kms.add_key(key_spec="SYMMETRIC_DEFAULT")
    expires = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    role = "arn:aws:iam::111122223333:role/KeyImporter"

    result = _invoke(
        "import-material",
        "--key-id",
        key.arn,
        "--material",
        str(path),
        "--region",
        "us-west-2",
        "--role-arn",
        role,
        "--wrapping-algorithm",
        "RSA_AES_KEY_WRAP_SHA_256",
        "--wrapping-key-spec",
        "RSA_2048",
        "--expires-at",
        expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )

    assert result.exit_code == 0, result.output
    assert spy.calls == [("kms", {"region": "us-west-2", "role_arn": role})]
    assert f"Expiration: {expires.isoformat()} (KEY_MATERIAL_EXPIRES)" in result.stdout.splitlines()
    assert "Wrapping algorithm: RSA_AES_KEY_WRAP_SHA_256" in result.stdout
    assert key.valid_to == expires
    assert kms.calls[1][1]["WrappingKeySpec"] == "RSA_2048"
    assert kms.material_of(key.key_id) == material


def test_material_can_come_from_stdin_as_bytes(spy: ClientSpy, kms: FakeKms) -> None:
    key = kms.add_key(key_spec="HMAC_256")
    material = bytes(range(256))[200:] + b"\x00\xff\n\r"  # 60 bytes, with bytes a text read would mangle

    result = _invoke("import-material", "--key-id", key.key_id, "--material", "-", stdin=material)

    assert result.exit_code == 0, result.output
    assert kms.material_of(key.key_id) == material


def test_help_describes_every_option() -> None:
    result = CliRunner().invoke(app, ["import-material", "--help"], terminal_width=200)

    assert result.exit_code == 0
    for option in OPTIONS:
        assert option in result.output
    # typer vendors its own click, so the command is inspected by attribute rather than by class.
    subcommand: Any = getattr(typer.main.get_command(app), "commands", {})["import-material"]
    described = {name: getattr(param, "help", None) for param in subcommand.params for name in param.opts}
    described.pop("--help", None)
    assert sorted(described) == sorted(OPTIONS)
    assert all(described.values()), described


def test_group_without_arguments_shows_its_commands() -> None:
    result = CliRunner().invoke(app, [])
    assert "import-material" in result.output


def test_kms_refusal_exits_1_without_traceback(spy: ClientSpy, kms: FakeKms, material_file: tuple[Path, bytes]) -> None:
    path, material = material_file
    key = kms.add_key(origin="AWS_KMS")

    result = _invoke("import-material", "--key-id", key.key_id, "--material", str(path))

    assert result.exit_code == 1
    assert "origin AWS_KMS" in result.stderr
    assert "origin: EXTERNAL" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    _assert_no_leak(result.output, material)


def test_missing_region_is_an_error(
    spy: ClientSpy, kms: FakeKms, material_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    path, _ = material_file

    result = _invoke("import-material", "--key-id", kms.add_key().key_id, "--material", str(path))

    assert result.exit_code == 1
    assert "no AWS region" in result.stderr
    assert "AWS_REGION" in result.stderr
    assert "--region" in result.stderr
    assert "Traceback" not in result.output
    assert spy.calls == []


def test_region_falls_back_to_aws_default_region(
    spy: ClientSpy, kms: FakeKms, material_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    path, _ = material_file

    result = _invoke("import-material", "--key-id", kms.add_key().key_id, "--material", str(path))

    assert result.exit_code == 0, result.output
    assert spy.calls[0][1]["region"] == "ap-southeast-2"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--wrapping-algorithm", "RSAES_PKCS1_V1_5"], "RSA_AES_KEY_WRAP_SHA_256"),
        (["--wrapping-key-spec", "RSA_1024"], "RSA_4096"),
        (["--expires-at", "next tuesday"], "ISO 8601"),
        (["--expires-at", "2030-01-01T00:00:00"], "no time zone"),
        (["--expires-at", "2020-01-01T00:00:00Z"], "not in the future"),
    ],
)
def test_invalid_options_exit_1_with_the_reason(
    spy: ClientSpy, kms: FakeKms, material_file: tuple[Path, bytes], extra: list[str], expected: str
) -> None:
    path, _ = material_file

    result = _invoke("import-material", "--key-id", kms.add_key().key_id, "--material", str(path), *extra)

    assert result.exit_code == 1
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_unreadable_material_file_is_named(spy: ClientSpy, kms: FakeKms, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.bin"

    result = _invoke("import-material", "--key-id", kms.add_key().key_id, "--material", str(missing))

    assert result.exit_code == 1
    assert str(missing) in result.stderr
    assert "Traceback" not in result.output
    assert spy.calls == []


def test_wrong_length_material_exits_1(spy: ClientSpy, kms: FakeKms, tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    material = os.urandom(16)
    path.write_bytes(material)

    result = _invoke("import-material", "--key-id", kms.add_key().key_id, "--material", str(path))

    assert result.exit_code == 1
    assert "received 16 bytes" in result.stderr
    _assert_no_leak(result.output, material)
