"""``kmsflow review``: formats, output file, exit codes, and a run where aws_cdk cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmsflow.cli import app
from kmsflow.cli.review import FailOn, failing
from kmsflow.review.model import SCHEMA_VERSION, Severity

#: Run the CLI in a fresh interpreter where the CDK cannot be imported (None in sys.modules refuses imports).
_WITHOUT_CDK = """
import sys
for name in ("aws_cdk", "constructs", "jsii", "cdk_nag"):
    sys.modules[name] = None
from kmsflow.cli import app
try:
    app(sys.argv[1:])
finally:
    assert not [m for m in sys.modules if m.startswith(("aws_cdk", "jsii")) and sys.modules[m] is not None]
"""


def run_without_cdk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_CDK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_json_on_the_default_app_runs_without_aws_cdk(default_outdir: Path) -> None:
    result = run_without_cdk("review", str(default_outdir), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema_version"] == SCHEMA_VERSION
    assert len(report["keys"]) == 14
    assert all(key["facts"] for key in report["keys"])


def test_a_folder_that_is_not_a_cloud_assembly_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_without_cdk("review", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"kmsflow: {tmp_path} is not a readable cloud assembly: {tmp_path / 'manifest.json'}: manifest not found "
        "(pass the directory `cdk synth` wrote, usually cdk.out)\n"
    )


@pytest.mark.parametrize("output_format", ["md", "json", "html", "sarif"])
def test_every_format_is_written_whole_to_the_output_file(
    default_outdir: Path, tmp_path: Path, output_format: str
) -> None:
    target = tmp_path / "out" / f"review.{output_format}"
    result = CliRunner().invoke(
        app, ["review", str(default_outdir), "--format", output_format, "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = target.read_text(encoding="utf-8")
    assert text
    assert not list(target.parent.glob(".*.partial"))
    if output_format in ("json", "sarif"):
        json.loads(text)


def test_fail_on_sets_the_exit_code(tmp_path: Path, default_outdir: Path) -> None:
    assert failing([Severity.MEDIUM, Severity.LOW], FailOn.HIGH) == 0
    assert failing([Severity.MEDIUM, Severity.LOW], FailOn.MEDIUM) == 1
    assert failing([Severity.MEDIUM, Severity.LOW, Severity.INFO], FailOn.LOW) == 2
    assert failing([Severity.HIGH], FailOn.NEVER) == 0
    result = CliRunner().invoke(app, ["review", str(default_outdir), "--fail-on", "low", "--format", "json"])
    assert result.exit_code == 0  # the default app has no finding at all


def test_an_unknown_format_is_refused_by_the_option(default_outdir: Path) -> None:
    result = CliRunner().invoke(app, ["review", str(default_outdir), "--format", "pdf"])
    assert result.exit_code == 2


def test_a_missing_baseline_exits_2_naming_it(default_outdir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "base"
    result = CliRunner().invoke(app, ["review", str(default_outdir), "--baseline", str(missing)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"kmsflow: baseline cloud assembly {missing} does not exist: pass the directory `cdk synth` wrote "
        "(cdk.out by default)\n"
    )
