"""``make review-pr``'s script (scripts/review_pr.py) in a throw-away repository: two commits, the second adding one
cross-account principal, and the review against HEAD~1 reports exactly that."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "review_pr.py"
#: What a synth reads: cdk.json runs app.py, which loads kmsflow.yaml with the code under src/ (the Lambda asset
#: too). Tools (.venv, node_modules) stay in this checkout: the script takes them from there.
SYNTH_FILES = ("app.py", "cdk.json", "kmsflow.yaml")
PARTNER_READER = "arn:aws:iam::333333333333:role/PartnerReader"
# Under the data key's policy, right after its service users (the first `services:` line of kmsflow.yaml).
DATA_SERVICES = "        services: [s3, rds, ebs]\n"
CROSS_ACCOUNT = (
    '      cross_account:\n        - account: partner\n          principals: ["partner:role/PartnerReader"]\n'
)


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=kmsflow test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *identity, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def new_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    for name in SYNTH_FILES:
        shutil.copy2(ROOT / name, path / name)
    shutil.copytree(ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "default configuration")
    return path


def run_script(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A repository whose HEAD gives the data key to a partner role, reviewed against HEAD~1 (synthesizes twice)."""
    repo = new_repo(tmp_path_factory.mktemp("review-pr") / "repo")
    config = repo / "kmsflow.yaml"
    text = config.read_text(encoding="utf-8")
    assert DATA_SERVICES in text
    config.write_text(text.replace(DATA_SERVICES, DATA_SERVICES + CROSS_ACCOUNT, 1), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "data key: partner reader")
    return repo, run_script(repo, "--base", "HEAD~1")


@pytest.mark.synth
def test_review_pr_reports_exactly_the_added_principal(reviewed: tuple[Path, Any]) -> None:
    repo, done = reviewed
    assert done.returncode == 0, done.stderr
    out = repo / "cdk.out" / "review-pr"
    assert {f"review.{fmt}" for fmt in ("md", "json", "html", "sarif")} <= {p.name for p in out.iterdir()}
    assert (out / "base.cdk.out" / "manifest.json").is_file()
    report = json.loads((out / "review.json").read_text(encoding="utf-8"))
    data_keys = [k["key"]["id"] for k in report["keys"] if "alias/kmsflow/data" in k["key"]["aliases"]]
    assert len(data_keys) == 1
    diff = report["diff"]
    assert diff["gained"], "the partner role gained nothing"
    assert {(g["fact"]["principal"], g["key"]) for g in diff["gained"]} == {(PARTNER_READER, data_keys[0])}
    assert {"kms:Decrypt", "kms:CreateGrant"} <= {g["fact"]["action"] for g in diff["gained"]}
    for change in ("lost", "conditions", "settings", "keys_added", "keys_removed"):
        assert diff[change] == [], change
    assert "PartnerReader" in (out / "review.md").read_text(encoding="utf-8")
    # The base's worktree is gone: only the repository itself is listed.
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert str(repo / "cdk.out" / "review-pr") in done.stdout


@pytest.mark.parametrize(("base", "says"), [("", "BASE is required"), ("no-such-ref", "BASE='no-such-ref'")])
def test_review_pr_refuses_a_missing_or_unknown_base(tmp_path: Path, base: str, says: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README").write_text("x\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    done = run_script(repo, "--base", base)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr
    assert not (repo / "cdk.out").exists()


def test_review_pr_says_when_the_base_does_not_synthesize(tmp_path: Path) -> None:
    """A base that fails to build: exit 2, named, and its worktree removed. A stub `cdk` (failing where a
    BROKEN file is) stands in for the real one, with this checkout's .venv: no synth is needed to show it."""
    tools = tmp_path / "tools"
    (tools / "node_modules" / ".bin").mkdir(parents=True)
    (tools / ".venv").symlink_to(ROOT / ".venv")
    cdk = tools / "node_modules" / ".bin" / "cdk"
    cdk.write_text(
        '#!/bin/sh\ntest -e BROKEN && exit 1\nmkdir -p "$4"\n', encoding="utf-8"
    )  # cdk synth --quiet --output DIR
    cdk.chmod(0o755)
    repo = tmp_path / "repo"
    (repo / "src" / "kmsflow").mkdir(parents=True)
    (repo / "src" / "kmsflow" / "__init__.py").write_text("", encoding="utf-8")
    (repo / "BROKEN").write_text("", encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "broken")
    git(repo, "rm", "-q", "BROKEN")
    git(repo, "commit", "-q", "-m", "fixed")
    scratch = tmp_path / "tmp"  # the script's temporary folder, to see that it is removed too
    scratch.mkdir()
    done = run_script(repo, "--base", "HEAD~1", "--tools", str(tools), env={"TMPDIR": str(scratch)})
    assert done.returncode == 2, done.stderr
    assert "BASE=HEAD~1" in done.stderr
    assert "does not synthesize" in done.stderr
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert list(scratch.iterdir()) == []
