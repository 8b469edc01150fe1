"""The job document: input validation (``validate``), deterministic ids, lineage tags, the failed-step reading.

Validation needs no AWS: regions are checked against botocore's own endpoint data.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kmsflow import __version__
from kmsflow.lambdas.errors import InvalidInput
from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.job import (
    compute_job_id,
    copy_snapshot_id,
    copy_tags,
    failed_step,
    lineage_tags,
    source_snapshot_id,
)
from tests.lambdas.snapshot_copy.helpers import ACCOUNT, DESTINATION_REGION, SOURCE_REGION, execution

KEY = f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS = f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:alias/kmsflow-dest"


def valid(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "source": {"kind": "rds-instance", "id": "orders-db", "region": SOURCE_REGION},
        "destination": {"region": DESTINATION_REGION, "kms_key_id": KEY},
    }
    for path, value in changes.items():
        section, _, field = path.partition("__")
        if field:
            doc.setdefault(section, {})[field] = value
        else:
            doc[section] = value
    return doc


def validate(doc: Any, run: Any = None) -> Any:
    return handlers.validate({"input": doc, "execution": run if run is not None else execution()}, None)


def test_a_valid_input_becomes_the_job() -> None:
    job = validate(valid())
    assert job == {
        "source": {"kind": "rds-instance", "family": "rds", "id": "orders-db", "region": SOURCE_REGION},
        "destination": {"region": DESTINATION_REGION, "kms_key_id": KEY},
        "options": {"tags": {}, "delete_source_snapshot": False, "option_group_name": None},
        "execution": {"id": execution()["Id"], "name": "run-1"},
        "job_id": compute_job_id("rds-instance", "orders-db", SOURCE_REGION, DESTINATION_REGION, KEY),
        "wait": {"seconds": 30, "waited": 0, "progress": None},
        "last_step": "validate",
    }
    assert len(job["job_id"]) == 16
    assert int(job["job_id"], 16) >= 0


def test_options_are_kept() -> None:
    options = {
        "tags": {"team": "db", "cost center": "a-1"},
        "delete_source_snapshot": True,
        "option_group_name": "og-1",
    }
    assert validate(valid(options=options))["options"] == options


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("rds-instance", f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:db:Orders-DB", "orders-db"),
        ("aurora-cluster", f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:cluster:c1", "c1"),
        (
            "rds-snapshot",
            f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:snapshot:rds:db1-2025-01-01-00-10",
            "rds:db1-2025-01-01-00-10",
        ),
        ("aurora-cluster-snapshot", f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:cluster-snapshot:cs1", "cs1"),
        ("ebs-volume", f"arn:aws:ec2:{SOURCE_REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0", "vol-0123456789abcdef0"),
        ("ebs-snapshot", f"arn:aws:ec2:{SOURCE_REGION}::snapshot/snap-0123456789abcdef0", "snap-0123456789abcdef0"),
    ],
)
def test_an_arn_source_is_reduced_to_its_id(kind: str, raw: str, expected: str) -> None:
    job = validate(valid(source__kind=kind, source__id=raw))
    assert job["source"]["id"] == expected
    assert job["source"]["family"] == {"rds": "rds", "aurora": "aurora", "ebs": "ebs"}[kind.split("-")[0]]


def test_the_job_id_depends_on_source_and_destination_only() -> None:
    """Same input in another execution, by ARN or id, with other options: same job; other key or region: another."""
    base = validate(valid())["job_id"]
    assert validate(valid(), execution("run-2"))["job_id"] == base
    assert validate(valid(source__id=f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:db:orders-db"))["job_id"] == base
    assert validate(valid(options={"tags": {"a": "b"}, "delete_source_snapshot": True}))["job_id"] == base
    others = {
        validate(valid(destination__kms_key_id=ALIAS))["job_id"],
        validate(
            valid(destination__region="eu-west-3", destination__kms_key_id=KEY.replace(DESTINATION_REGION, "eu-west-3"))
        )["job_id"],
        validate(valid(source__kind="rds-snapshot"))["job_id"],
        validate(valid(source__id="other-db"))["job_id"],
    }
    assert base not in others
    assert len(others) == 4


def test_deterministic_ids_fit_rds_identifier_rules() -> None:
    job = validate(valid())
    for identifier in (source_snapshot_id(job), copy_snapshot_id(job)):
        assert identifier.startswith("kmsflow-")
        assert identifier[0].isalpha()
        assert len(identifier) <= 63
        assert "--" not in identifier
        assert not identifier.endswith("-")
        assert all(char.isalnum() or char == "-" for char in identifier)


def test_lineage_tags_name_job_source_key_execution_and_version() -> None:
    job = validate(valid(options={"tags": {"team": "db", "kmsflow-note": "x"}}))
    job["source"]["snapshot_arn"] = "arn:aws:rds:eu-west-1:123456789012:snapshot:s1"
    job["source"]["kms_key_id"] = None
    assert lineage_tags(job) == {
        "kmsflow:job-id": job["job_id"],
        "kmsflow:source-arn": "arn:aws:rds:eu-west-1:123456789012:snapshot:s1",
        "kmsflow:source-key": "none",
        "kmsflow:execution": execution()["Id"],
        "kmsflow:version": __version__,
    }
    assert copy_tags(job)["team"] == "db"


INVALID = [
    pytest.param(["not", "an", "object"], "input", id="input-not-an-object"),
    pytest.param(valid(source="rds-instance"), "source:", id="source-not-an-object"),
    pytest.param(valid(source__kind="rds-cluster"), "source.kind: 'rds-cluster' received", id="unknown-kind"),
    pytest.param(valid(source__kind=None), "source.kind: None received", id="kind-null"),
    pytest.param({"destination": valid()["destination"]}, "source: missing", id="missing-source"),
    pytest.param({"source": valid()["source"]}, "destination: missing", id="missing-destination"),
    pytest.param(
        valid(source={"kind": "rds-instance", "region": SOURCE_REGION}), "source.id: missing", id="missing-id"
    ),
    pytest.param(valid(source={"kind": "rds-instance", "id": "db"}), "source.region: missing", id="missing-region"),
    pytest.param(
        valid(destination={"region": DESTINATION_REGION}), "destination.kms_key_id: missing", id="missing-key"
    ),
    pytest.param(valid(source__region="eu-moon-1"), "source.region: 'eu-moon-1' received", id="unknown-source-region"),
    pytest.param(
        valid(destination__region="mars-1"), "destination.region: 'mars-1' received", id="unknown-dest-region"
    ),
    pytest.param(
        valid(
            destination__region=SOURCE_REGION, destination__kms_key_id=KEY.replace(DESTINATION_REGION, SOURCE_REGION)
        ),
        "a region other than source.region",
        id="same-region",
    ),
    pytest.param(
        valid(
            destination__region="cn-north-1",
            destination__kms_key_id=KEY.replace(f"aws:kms:{DESTINATION_REGION}", "aws-cn:kms:cn-north-1"),
        ),
        "same partition",
        id="other-partition",
    ),
    pytest.param(
        valid(destination__kms_key_id="1234abcd-12ab-34cd-56ef-1234567890ab"),
        "destination.kms_key_id",
        id="bare-key-id",
    ),
    pytest.param(valid(destination__kms_key_id="alias/kmsflow-dest"), "destination.kms_key_id", id="bare-alias"),
    pytest.param(
        valid(destination__kms_key_id=KEY.replace(DESTINATION_REGION, SOURCE_REGION)),
        "a key or alias ARN of destination.region",
        id="key-of-other-region",
    ),
    pytest.param(valid(destination__kms_key_id="arn:aws:s3:::bucket"), "destination.kms_key_id", id="not-a-kms-arn"),
    pytest.param(valid(source__id="1db"), "source.id: '1db' received", id="bad-rds-name"),
    pytest.param(
        valid(source__kind="ebs-volume", source__id="snap-0123456789abcdef0"), "source.id", id="snapshot-id-as-volume"
    ),
    pytest.param(
        valid(source__id=f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:cluster:c1"), "source.id", id="arn-of-other-kind"
    ),
    pytest.param(
        valid(source__id=f"arn:aws:rds:eu-west-3:{ACCOUNT}:db:db1"), "an ARN in source.region", id="arn-of-other-region"
    ),
    pytest.param(valid(options=["tags"]), "options: ['tags'] received", id="options-not-an-object"),
    pytest.param(valid(options={"delete_source": True}), "options.delete_source: True received", id="unknown-option"),
    pytest.param(
        valid(options={"delete_source_snapshot": "yes"}), "options.delete_source_snapshot", id="delete-not-bool"
    ),
    pytest.param(valid(options={"tags": ["a"]}), "options.tags", id="tags-not-an-object"),
    pytest.param(valid(options={"tags": {"aws:x": "y"}}), "options.tags key: 'aws:x'", id="reserved-tag-key"),
    pytest.param(
        valid(options={"tags": {"kmsflow:job-id": "y"}}), "options.tags key: 'kmsflow:job-id'", id="lineage-tag-key"
    ),
    pytest.param(valid(options={"tags": {"a": 1}}), "options.tags['a']: 1 received", id="tag-value-not-text"),
    pytest.param(valid(options={"tags": {f"k{i}": "v" for i in range(46)}}), "at most 45 tags", id="too-many-tags"),
    pytest.param(valid(options={"option_group_name": "og 1"}), "options.option_group_name", id="bad-option-group"),
    pytest.param(
        valid(source__kind="aurora-cluster", options={"option_group_name": "og-1"}),
        "only RDS DB snapshot copies take an option group",
        id="option-group-for-aurora",
    ),
    pytest.param(valid(extra=1), "extra: 1 received", id="unknown-top-level-field"),
    pytest.param(valid(source__account="1"), "source.account", id="unknown-source-field"),
]


@pytest.mark.parametrize(("doc", "expected"), INVALID)
def test_invalid_inputs_are_refused_with_the_field_the_value_and_what_is_allowed(doc: Any, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(doc)
    message = str(caught.value)
    assert expected in message
    assert "allowed" in message
    assert message.endswith("correct the execution input and start a new execution.")


def test_every_problem_of_an_input_is_listed_at_once() -> None:
    doc = valid(source__kind="rds-cluster", destination__region="mars-1", options={"colour": "red"})
    with pytest.raises(InvalidInput) as caught:
        validate(doc)
    for field in ("source.kind", "destination.region", "options.colour"):
        assert field in str(caught.value)


def test_the_execution_context_is_required() -> None:
    with pytest.raises(InvalidInput, match=r"\$\$\.Execution"):
        handlers.validate({"input": valid()}, None)


def test_validate_does_not_change_its_input() -> None:
    doc = valid(options={"tags": {"a": "b"}})
    before = copy.deepcopy(doc)
    validate(doc)
    assert doc == before


AVAILABLE_SOURCE = {"snapshot_arn": "a", "status": "available"}


@pytest.mark.parametrize(
    ("state", "step"),
    [
        ({"source": {"kind": "rds-instance"}}, "validate"),
        ({"job_id": "x", "last_step": "validate"}, "prepare_source"),
        # prepare_source may already see an available snapshot: the failed task is still check_source.
        ({"job_id": "x", "last_step": "prepare_source", "source": AVAILABLE_SOURCE}, "check_source"),
        (
            {"job_id": "x", "last_step": "check_source", "source": {"snapshot_arn": "a", "status": "pending"}},
            "check_source",
        ),
        ({"job_id": "x", "last_step": "check_source", "source": AVAILABLE_SOURCE}, "check_destination_key"),
        ({"job_id": "x", "last_step": "check_destination_key"}, "start_copy"),
        ({"job_id": "x", "last_step": "start_copy", "destination": {"status": "available"}}, "check_copy"),
        ({"job_id": "x", "last_step": "check_copy", "destination": {"status": "pending"}}, "check_copy"),
        ({"job_id": "x", "last_step": "check_copy", "destination": {"status": "available"}}, "finish"),
    ],
)
def test_the_failed_step_follows_the_last_completed_one(state: dict[str, Any], step: str) -> None:
    assert failed_step(state) == step


@pytest.mark.parametrize(
    ("changes", "step"),
    [
        ({}, "validate"),
        ({"job_id": "x"}, "prepare_source"),
        ({"job_id": "x", "source": {"snapshot_arn": "a", "status": "pending"}}, "check_source"),
        ({"job_id": "x", "source": AVAILABLE_SOURCE}, "check_destination_key"),
        ({"job_id": "x", "source": AVAILABLE_SOURCE, "destination": {"kms_key_arn": "k"}}, "start_copy"),
        (
            {
                "job_id": "x",
                "source": AVAILABLE_SOURCE,
                "destination": {"kms_key_arn": "k", "snapshot_id": "s", "status": "pending"},
            },
            "check_copy",
        ),
        (
            {
                "job_id": "x",
                "source": AVAILABLE_SOURCE,
                "destination": {"kms_key_arn": "k", "snapshot_id": "s", "status": "available"},
            },
            "finish",
        ),
    ],
)
def test_without_last_step_the_failed_step_is_read_from_how_far_the_job_got(changes: dict[str, Any], step: str) -> None:
    assert failed_step(changes) == step
