"""The `run:` scripts of the generated workflows, run in bash as a runner runs them (`bash -e`), with `make` and
`kmsflow` replaced by fakes: what each exit of `make review-pr` publishes, and what the digest steps write."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def step(workflow: str, job: str, predicate: Any) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
    (found,) = [s for s in data["jobs"][job]["steps"] if predicate(s)]
    return found  # type: ignore[no-any-return]


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run(script: str, cwd: Path, env: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """``script`` as GitHub runs a `run:` step (bash --noprofile --norc -eo pipefail); its exit code, what it wrote
    to $GITHUB_OUTPUT, and its stdout."""
    output = cwd / "github-output"
    output.write_text("", encoding="utf-8")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env, "GITHUB_OUTPUT": str(output), "PATH": f"{cwd / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    pairs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if "=" in line)
    return done.returncode, pairs, done.stdout


@pytest.mark.parametrize(
    ("make_exit", "writes_report", "step_exit", "published"),
    [
        (0, True, 0, "0"),  # no high finding
        (1, True, 0, "1"),  # high findings: published, the last step fails the job
        (1, False, 2, None),  # the working tree does not synthesize: nothing to publish
        (2, False, 2, None),  # no base, or the base does not synthesize
    ],
    ids=["clean", "high findings", "tree does not synthesize", "base unusable"],
)
def test_the_review_step_publishes_only_a_review(
    tmp_path: Path, make_exit: int, writes_report: bool, step_exit: int, published: str | None
) -> None:
    review = step("pull-request.yml", "review", lambda s: s.get("id") == "review")
    (tmp_path / "bin").mkdir()
    writes = "mkdir -p cdk.out/review-pr && echo '# kmsflow review' > cdk.out/review-pr/review.md"
    report = writes if writes_report else ""
    # The fake records its arguments, so the test also sees BASE and FULL_REPORT as make receives them.
    fake(tmp_path / "bin", "make", f'printf "%s\\n" "$@" > make-args\n{report}\nexit {make_exit}')
    env = {"BASE": "0123abcd", "RUN_URL": "https://github.com/o/r/actions/runs/7"}
    code, outputs, _ = run(review["run"], tmp_path, env)
    assert code == step_exit
    assert outputs.get("exit-code") == published
    assert (tmp_path / "make-args").read_text(encoding="utf-8").splitlines() == [
        "review-pr",
        "BASE=0123abcd",
        "FULL_REPORT=review.html of the review-pr artifact of https://github.com/o/r/actions/runs/7",
    ]


def test_the_gate_fails_the_job_after_publishing(tmp_path: Path) -> None:
    gate = step("pull-request.yml", "review", lambda s: s.get("name") == "Fail on high findings")
    code, _, out = run(gate["run"], tmp_path, {})
    assert code == 1
    assert out.startswith("::error::kmsflow review: high findings")


def test_the_review_job_publishes_the_digest_it_computed(tmp_path: Path) -> None:
    digest = step("deploy.yml", "review", lambda s: s.get("id") == "digest")
    (tmp_path / "bin").mkdir()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    value = "sha256:" + "ab" * 32
    fake(tmp_path / ".venv" / "bin", "kmsflow", f'[ "$*" = "delivery digest cdk.out" ] && echo {value}')
    summary = tmp_path / "summary.md"
    code, outputs, _ = run(digest["run"], tmp_path, {"GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 0
    assert outputs == {"digest": value}
    assert summary.read_text(encoding="utf-8") == f"Reviewed assembly: `{value}`\n"


def test_a_stage_job_stops_before_credentials_when_the_digest_differs(tmp_path: Path) -> None:
    check = step("deploy.yml", "stage-1-security", lambda s: "--expect" in s.get("run", ""))
    (tmp_path / "bin").mkdir()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake(tmp_path / ".venv" / "bin", "kmsflow", '[ "$5" = "sha256:reviewed" ] || exit 1')
    assert run(check["run"], tmp_path, {"DIGEST": "sha256:reviewed"})[0] == 0
    assert run(check["run"], tmp_path, {"DIGEST": "sha256:other"})[0] == 1
