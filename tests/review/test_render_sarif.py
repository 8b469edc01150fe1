"""The SARIF report: valid against the official SARIF 2.1.0 schema (vendored in data/), one result per current
finding with the mapped level, the key's template and resource as locations, stable fingerprints."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kmsflow import __version__
from kmsflow.review.model import Review
from kmsflow.review.render import render
from kmsflow.review.render.sarif import fingerprint, template_uri
from tests.review.fixtures import (
    CROSS_ACCOUNT_FINDING,
    DATA,
    WILDCARD_FINDING,
    large_review,
    review_with_diff,
    review_without_diff,
)

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"
FINGERPRINT = "kmsflowFindingIdentity/v1"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _sarif(review: Review) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(review, "sarif"))
    return data


def test_vendored_schema_is_the_official_one() -> None:
    """The file as published (see data/README.md): byte for byte, and a schema jsonschema accepts."""
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = _schema()
    assert schema["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)


@pytest.mark.parametrize("review", [review_with_diff(), review_without_diff(), large_review(20)])
def test_validates_against_sarif_2_1_0(review: Review) -> None:
    validator = jsonschema.Draft4Validator(_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    validator.validate(_sarif(review))


def test_a_broken_log_does_not_validate() -> None:
    validator = jsonschema.Draft4Validator(_schema())
    log = _sarif(review_with_diff())
    level = copy.deepcopy(log)
    level["runs"][0]["results"][0]["level"] = "critical"
    assert not validator.is_valid(level)
    no_message = copy.deepcopy(log)
    del no_message["runs"][0]["results"][0]["message"]
    assert not validator.is_valid(no_message)
    version = copy.deepcopy(log)
    version["version"] = "2.2.0"
    assert not validator.is_valid(version)


def test_header_and_tool() -> None:
    log = _sarif(review_with_diff())
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "kmsflow-review"
    assert driver["version"] == __version__
    assert [(rule["id"], rule["name"], rule["defaultConfiguration"]["level"]) for rule in driver["rules"]] == [
        ("KR01", "wildcard-principal", "error"),
        ("KR03", "cross-account-unscoped", "warning"),
        ("KR05", "administrator-can-use", "warning"),
        ("KR06", "policy-change-and-use", "error"),
        ("KR09", "short-deletion-window", "note"),
        ("KR99", "replica-policy-note", "note"),
    ]
    descriptions = {rule["id"]: rule["shortDescription"]["text"] for rule in driver["rules"]}
    assert descriptions["KR01"] == "Principal '*' without a condition that names who may call"
    assert descriptions["KR99"] == "Replica policy note"  # a rule the findings package does not define


def test_results_are_the_current_findings() -> None:
    run = _sarif(review_with_diff())["runs"][0]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in run["results"]] == [
        ("KR01", 0, "error"),
        ("KR06", 3, "error"),
        ("KR03", 1, "warning"),
        ("KR05", 2, "warning"),
        ("KR09", 4, "note"),
        ("KR99", 5, "note"),
    ]
    first = run["results"][0]
    assert first["message"] == {"text": WILDCARD_FINDING.message}
    assert first["locations"] == [
        {
            "physicalLocation": {"artifactLocation": {"uri": "cdk.out/AppStack.template.json"}},
            "logicalLocations": [
                {"name": "DataKey1A2B3C4D", "fullyQualifiedName": "AppStack/DataKey1A2B3C4D", "kind": "resource"}
            ],
        }
    ]
    assert first["partialFingerprints"] == {FINGERPRINT: fingerprint(WILDCARD_FINDING)}
    assert first["properties"] == {
        "severity": "high",
        "key": "arn:aws:kms:eu-west-1:111111111111:key/AppStack-DataKey1A2B3C4D",
        "principal": "*",
        "statement": "AppStack/DataKey1A2B3C4D KeyPolicy (NetworkDescribe)",
    }
    replica = run["results"][5]["locations"][0]
    assert replica["physicalLocation"]["artifactLocation"]["uri"] == "cdk.out/AppReplicaStack.template.json"
    assert "principal" not in run["results"][4]["properties"]


def test_fingerprints_follow_the_finding_identity() -> None:
    expected = hashlib.sha256(
        "\x1f".join(("wildcard-principal", WILDCARD_FINDING.key, "*", "NetworkDescribe")).encode()
    ).hexdigest()
    assert fingerprint(WILDCARD_FINDING) == expected
    reworded = dataclasses.replace(WILDCARD_FINDING, message="reworded")
    assert fingerprint(reworded) == expected
    assert fingerprint(CROSS_ACCOUNT_FINDING) != expected
    fingerprints = [r["partialFingerprints"][FINGERPRINT] for r in _sarif(review_with_diff())["runs"][0]["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_run_properties_count_the_diff() -> None:
    properties = _sarif(review_with_diff())["runs"][0]["properties"]
    assert properties == {
        "source": "cdk.out",
        "keys": 3,
        "accessFacts": 17,
        "unknowns": 3,
        "baseline": "baseline/cdk.out",
        "diff": {
            "keysAdded": 1,
            "keysRemoved": 1,
            "accessGained": 2,
            "accessLost": 1,
            "conditionsNarrowed": 2,
            "conditionsWidened": 1,
            "conditionsChanged": 0,
            "settingsChanged": 1,
            "findingsNew": 1,
            "findingsResolved": 1,
        },
    }
    assert "diff" not in _sarif(review_without_diff())["runs"][0]["properties"]


@pytest.mark.parametrize(
    ("source", "uri"),
    [
        ("cdk.out", "cdk.out/AppStack.template.json"),
        ("./infra/cdk.out/", "infra/cdk.out/AppStack.template.json"),
        (".", "AppStack.template.json"),
        ("", "AppStack.template.json"),
        ("/tmp/cdk.out", "AppStack.template.json"),
        ("../other/cdk.out", "AppStack.template.json"),
        ("C:\\work\\cdk.out", "AppStack.template.json"),
    ],
)
def test_template_uri_is_relative(source: str, uri: str) -> None:
    assert template_uri(DATA.key, source) == uri


def test_no_findings_no_results() -> None:
    review = dataclasses.replace(
        review_without_diff(), keys=tuple(dataclasses.replace(k, findings=()) for k in review_without_diff().keys)
    )
    run = _sarif(review)["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []


def test_byte_identical() -> None:
    assert render(review_with_diff(), "sarif").encode() == render(review_with_diff(), "sarif").encode()
