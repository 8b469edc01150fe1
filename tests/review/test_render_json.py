"""The JSON report: the model as data, ``schema_version`` first, valid against ``review/schema.json`` (and a broken
document is not), the schema in step with the model, byte-identical output."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import pytest

from kmsflow.review import model
from kmsflow.review.render import render
from kmsflow.review.render.json_report import report_data
from tests.review.fixtures import large_review, review_with_diff, review_without_diff


def _schema() -> dict[str, Any]:
    text = resources.files("kmsflow.review").joinpath("schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_schema())


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:kmsflow:review:report:1"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_output_shape() -> None:
    text = render(review_with_diff(), "json")
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data) == ["schema_version", "source", "keys", "principals", "unknowns", "diff"]
    assert data["schema_version"] == model.SCHEMA_VERSION == 1
    assert data == report_data(review_with_diff())
    assert list(data["keys"][0]) == ["key", "facts", "grant_creators", "findings", "cost"]
    assert [key["key"]["logical_id"] for key in data["keys"]] == [
        "DataReplicaE5F6A7B8",
        "DataKey1A2B3C4D",
        "SigningKey9A8B7C6D",
    ]
    fact = data["keys"][1]["facts"][0]
    assert fact == {
        "principal": "*",
        "action": "kms:DescribeKey",
        "conditions": [{"operator": "IpAddress", "key": "aws:SourceIp", "values": ["10.0.0.0/8"]}],
        "via": "key policy",
        "sources": [{"policy": "AppStack/DataKey1A2B3C4D KeyPolicy", "sid": "NetworkDescribe", "via": "key policy"}],
        "unless": [],
    }
    assert data["keys"][1]["findings"][0]["severity"] == "high"
    assert data["diff"]["settings"] == [
        {
            "key": "arn:aws:kms:eu-west-1:111111111111:key/AppStack-DataKey1A2B3C4D",
            "setting": "rotation",
            "before": "False",
            "after": "True",
        }
    ]
    assert json.loads(render(review_without_diff(), "json"))["diff"] is None


def test_two_space_indent_and_unicode_kept() -> None:
    text = render(review_with_diff(), "json")
    assert text.startswith('{\n  "schema_version": 1,\n  "source": "cdk.out",\n  "keys": [\n    {\n')
    assert "\\u" not in text


@pytest.mark.parametrize("review", [review_with_diff(), review_without_diff(), large_review(20)])
def test_output_validates(review: model.Review) -> None:
    _validator().validate(json.loads(render(review, "json")))


def _broken(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    missing = copy.deepcopy(data)
    del missing["schema_version"]
    yield "no schema_version", missing
    extra = copy.deepcopy(data)
    extra["keys"][0]["key"]["colour"] = "blue"
    yield "an unknown key setting", extra
    severity = copy.deepcopy(data)
    severity["keys"][1]["findings"][0]["severity"] = "critical"
    yield "an unknown severity", severity
    via = copy.deepcopy(data)
    via["keys"][1]["facts"][0]["via"] = "grant"
    yield "an unknown via", via
    version = copy.deepcopy(data)
    version["schema_version"] = 2
    yield "another schema version", version
    values = copy.deepcopy(data)
    values["keys"][1]["facts"][0]["conditions"][0]["values"] = "10.0.0.0/8"
    yield "condition values not a list", values
    usd = copy.deepcopy(data)
    usd["keys"][0]["cost"]["monthly_usd"] = "1"
    yield "a cost without cents", usd
    change = copy.deepcopy(data)
    change["diff"]["conditions"][0]["change"] = "broadened"
    yield "an unknown condition change", change
    flat = copy.deepcopy(data)
    flat["diff"]["conditions"][2]["after"] = flat["diff"]["conditions"][2]["after"][0]["conditions"]
    yield "a condition change's side as conditions, not ways", flat
    no_way = copy.deepcopy(data)
    no_way["diff"]["conditions"][0]["before"] = []
    yield "a condition change's side without a way", no_way
    no_fact = copy.deepcopy(data)
    del no_fact["diff"]["gained"][0]["fact"]
    yield "a gained fact without its fact", no_fact


def test_broken_documents_do_not_validate() -> None:
    data = json.loads(render(review_with_diff(), "json"))
    validator = _validator()
    for what, document in _broken(data):
        assert not validator.is_valid(document), what


#: Each model class and the schema's definition of it.
_DEFINITIONS: dict[str, type[Any]] = {
    "condition": model.Condition,
    "source": model.Source,
    "principal": model.PrincipalInfo,
    "access_fact": model.AccessFact,
    "grant_creator": model.GrantCreator,
    "key_info": model.KeyInfo,
    "finding": model.Finding,
    "cost_line": model.CostLine,
    "cost": model.Cost,
    "key_review": model.KeyReview,
    "unknown": model.Unknown,
    "key_fact": model.KeyFact,
    "way": model.Way,
    "condition_change": model.ConditionChange,
    "setting_change": model.SettingChange,
    "diff": model.Diff,
}


@pytest.mark.parametrize(("definition", "cls"), sorted(_DEFINITIONS.items()))
def test_schema_follows_the_model(definition: str, cls: type[Any]) -> None:
    """Every field of every model class is a required property of its definition, and nothing else is."""
    schema = _schema()["$defs"][definition]
    fields = [field.name for field in dataclasses.fields(cls)]
    assert list(schema["properties"]) == fields
    assert schema["required"] == fields
    assert schema["additionalProperties"] is False


def test_review_follows_the_model() -> None:
    schema = _schema()
    fields = {field.name for field in dataclasses.fields(model.Review)}
    assert set(schema["properties"]) == fields
    assert set(schema["required"]) == fields
    assert schema["additionalProperties"] is False
    assert _schema()["$defs"]["severity"]["enum"] == [severity.value for severity in model.Severity]
    assert _schema()["$defs"]["via"]["enum"] == [via.value for via in model.Via]


def _properties(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for name, value in node.get("properties", {}).items():
            yield f"{path}/{name}", value
        for name, value in node.items():
            yield from _properties(value, f"{path}/{name}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{path}/{index}")


def test_every_field_is_described() -> None:
    undescribed = [path for path, prop in _properties(_schema()) if not prop.get("description")]
    assert undescribed == []
    assert all(definition.get("description") for definition in _schema()["$defs"].values())


def test_byte_identical() -> None:
    assert render(review_with_diff(), "json").encode() == render(review_with_diff(), "json").encode()
