"""The ``kmsflow`` command itself: ``--version``, and the Node.js that jsii runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmsflow import __version__
from kmsflow.cli import app
from kmsflow.node import PINNED_NODE, prefer_pinned_node

REPO = Path(__file__).resolve().parents[2]


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"kmsflow {__version__}\n"


def test_the_pinned_node_goes_first_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = tmp_path / PINNED_NODE / "node"
    node.parent.mkdir(parents=True)
    node.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setenv("PATH", "/usr/bin")
    assert prefer_pinned_node(start=tmp_path) == node.parent
    assert os.environ["PATH"] == f"{node.parent}{os.pathsep}/usr/bin"
    prefer_pinned_node(start=tmp_path)  # idempotent
    assert os.environ["PATH"].count(str(node.parent)) == 1


@pytest.mark.skipif(not (REPO / PINNED_NODE / "node").is_file(), reason="make installs the pinned Node")
def test_config_check_from_an_activated_venv_prints_no_node_banner(tmp_path: Path) -> None:
    """Only .venv/bin on PATH (a user who ran `source .venv/bin/activate`): no end-of-life banner of jsii."""
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kmsflow"), "config", "check", str(REPO / "kmsflow.yaml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr
    assert "b'!!" not in result.stderr
