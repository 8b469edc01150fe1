"""actionlint (pinned in requirements-dev.txt) on the committed workflows and on those another configuration
implies, with shellcheck checking every `run:` script; a planted mistake proves the linter really runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kmsflow.config import parse_config
from kmsflow.delivery.github_workflows import write_workflows

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
#: The venv's bin folder, by absolute path: actionlint ignores a shellcheck found through a relative PATH entry.
BIN = Path(sys.executable).absolute().parent


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    if tool is None:
        pytest.fail("actionlint is not installed: `make setup` installs it (requirements-dev.txt)")
    env = {**os.environ, "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}
    return subprocess.run(
        [tool, "-verbose", "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        cwd=files[0].parent,
        check=False,
        timeout=120,
    )


def test_the_committed_workflows_pass_with_shellcheck_on() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["deploy.yml", "pull-request.yml"]
    done = actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr
    # Proof that the `run:` scripts were checked, not skipped for want of shellcheck.
    assert 'Rule "shellcheck" was disabled' not in done.stderr, done.stderr
    assert "Found 0 errors in 2 files" in done.stderr


def test_another_configurations_workflows_pass(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "kmsflow.yaml").read_text(encoding="utf-8"))
    data["pipeline"]["github"] = {"account": "workloads", "repository": "acme/keys", "branch": "release/2026"}
    data["pipeline"]["stages"] = [
        {
            "name": "all-at-once",
            "approval": True,
            "deploys": [f"{a}:{r}" for a in data["accounts"] for r in data["regions"]],
        }
    ]
    config = parse_config(yaml.safe_dump(data, sort_keys=False), "other.yaml")
    files = write_workflows(config, tmp_path / ".github" / "workflows")
    done = actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_planted_mistake_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "deploy.yml"
    broken.parent.mkdir(parents=True)
    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    # A job that needs one that does not exist, and an unquoted variable in a script (shellcheck SC2086).
    text = text.replace("needs: [test, review]", "needs: [test, reviews]", 1)
    text = text.replace('--expect "$DIGEST"', "--expect $DIGEST", 1)
    broken.write_text(text, encoding="utf-8")
    done = actionlint(broken)
    assert done.returncode == 1
    assert 'job "stage-1-security" needs job "reviews" which does not exist' in done.stdout
    assert "SC2086" in done.stdout
