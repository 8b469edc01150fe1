"""A key's `acknowledgments:` accept cdk-nag findings for that key only; without them synth fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsflow.app import new_app, populate
from kmsflow.config import parse_config
from kmsflow.errors import ConfigError

BASE = """
version: 1
accounts: {a: {id: "111111111111"}}
regions: {r: eu-west-1}
keys:
  - name: legacy
    account: a
    region: r
    rotation: false
{acks}
  - name: other
    account: a
    region: r
    rotation: false
"""

ACKS = """    acknowledgments:
      - id: AwsSolutions::AwsSolutions-KMS5
        reason: Legacy integration pins the key version; rotation tracked in SEC-123
      - id: NIST.800.53.R5::NIST.800.53.R5-KMSBackingKeyRotationEnabled
        reason: Legacy integration pins the key version; rotation tracked in SEC-123"""


def synth(text: str, outdir: Path) -> None:
    app = new_app(outdir=str(outdir))
    populate(app, parse_config(text))
    app.synth()


def violations(outdir: Path) -> set[tuple[str, str]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def test_acknowledgments_apply_to_their_key_only(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synth(BASE.replace("{acks}", ACKS), tmp_path)
    assert violations(tmp_path) == {
        ("AwsSolutions-KMS5", "kmsflow-keys-a-r/other/Key/Resource"),
        ("NIST.800.53.R5-KMSBackingKeyRotationEnabled", "kmsflow-keys-a-r/other/Key/Resource"),
    }


def test_acknowledged_key_alone_synthesizes(tmp_path: Path) -> None:
    synth(BASE.replace("{acks}", ACKS).split("  - name: other")[0], tmp_path)
    assert (tmp_path / "kmsflow-keys-a-r.template.json").is_file()


def test_a_short_reason_is_refused() -> None:
    text = BASE.replace(
        "{acks}", ACKS.replace("Legacy integration pins the key version; rotation tracked in SEC-123", "ok", 1)
    )
    with pytest.raises(
        ConfigError,
        match=r"keys\[0\].acknowledgments\[0\].reason: got .ok. \(str\); string should have at least 20 characters",
    ):
        parse_config(text)
