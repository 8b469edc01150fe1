"""The ``Kmsflow`` cdk-nag pack: each rule flags its non-compliant key and passes the compliant ones.

Keys are declared as raw ``CfnKey``/``CfnReplicaKey`` here, because ``KmsflowKey`` refuses such policies
before cdk-nag could see them; the pack is what protects keys written by hand elsewhere in an app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from kmsflow.app import new_app
from kmsflow.constructs.keys import KmsflowKey
from kmsflow.constructs.nag import KmsflowChecks
from tests.constructs.support import ACCOUNT, new_stack

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/App"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


ROOT_ONLY = allow({"AWS": ROOT}, "kms:*")

#: construct id -> (policy, rule ids expected to fire)
CASES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "Compliant": (doc(ROOT_ONLY, allow({"AWS": APP_ROLE}, ["kms:Decrypt", "kms:Encrypt"])), set()),
    "WildcardNoCondition": (doc(ROOT_ONLY, allow("*", "kms:Decrypt")), {"Kmsflow-KMS1"}),
    "WildcardWithCondition": (
        doc(ROOT_ONLY, allow("*", "kms:Decrypt", Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}})),
        set(),
    ),
    "KmsStarForRole": (doc(allow({"AWS": APP_ROLE}, "kms:*")), {"Kmsflow-KMS2", "Kmsflow-KMS3"}),
    "UnscopedGrant": (doc(ROOT_ONLY, allow({"AWS": APP_ROLE}, "kms:CreateGrant")), {"Kmsflow-KMS3"}),
    "ScopedGrant": (
        doc(
            ROOT_ONLY,
            allow({"AWS": APP_ROLE}, "kms:CreateGrant", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
        ),
        set(),
    ),
    "TooLarge": (
        doc(ROOT_ONLY, *[allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/R{i:05d}"}, "kms:Decrypt") for i in range(400)]),
        {"Kmsflow-KMS4"},
    ),
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Synthesize once with the pack; return the rule ids reported per construct id."""
    outdir = tmp_path_factory.mktemp("nag")
    app = new_app(outdir=str(outdir))
    stack = new_stack(app, "Nag")
    for name, (policy, _) in CASES.items():
        kms.CfnKey(stack, name, key_policy=policy)
    kms.CfnReplicaKey(
        stack,
        "ReplicaWildcard",
        primary_key_arn=f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/mrk-1",
        key_policy=doc(allow("*", "kms:Decrypt")),
    )
    acknowledged = kms.CfnKey(stack, "Acknowledged", key_policy=doc(ROOT_ONLY, allow("*", "kms:Decrypt")))
    cdk.Validations.of(acknowledged).acknowledge(
        cdk.Acknowledgment(id="Kmsflow::Kmsflow-KMS1", reason="test: the acknowledgment form documented for the pack")
    )
    KmsflowKey(stack, "Owned")  # what kmsflow itself synthesizes passes
    cdk.Validations.of(app).add_plugins(KmsflowChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads(Path(outdir, "validation-report.json").read_text())
    found: dict[str, set[str]] = {}
    for plugin in report["pluginReports"]:
        assert plugin["pluginName"] == "Kmsflow"
        for violation in plugin["violations"]:
            for construct in violation["violatingConstructs"]:
                found.setdefault(construct["constructPath"].split("/")[1], set()).add(violation["ruleName"])
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_fires_exactly_where_expected(findings: dict[str, set[str]], name: str) -> None:
    assert findings.get(name, set()) == CASES[name][1]


def test_replica_keys_are_checked_too(findings: dict[str, set[str]]) -> None:
    assert findings["ReplicaWildcard"] == {"Kmsflow-KMS1"}


def test_an_acknowledged_finding_is_not_reported(findings: dict[str, set[str]]) -> None:
    assert "Acknowledged" not in findings


def test_kmsflow_keys_pass_the_pack(findings: dict[str, set[str]]) -> None:
    assert "Owned" not in findings


def test_pack_is_named_kmsflow() -> None:
    pack = KmsflowChecks()
    assert pack.name == "Kmsflow"
