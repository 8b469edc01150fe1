"""The share job's input rules: every bad field at once, declared targets only, keys of the target only."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.lambdas.errors import InvalidInput, TargetNotDeclared
from kmsflow.lambdas.snapshot_share.job import DeclaredTarget, compute_job_id, parse_input
from tests.lambdas.snapshot_copy.helpers import DESTINATION_REGION, SOURCE_REGION, execution
from tests.lambdas.snapshot_share.conftest import EXTERNAL_ID, TARGET_ACCOUNT, TARGET_ROLES

TARGETS: dict[str, DeclaredTarget] = {
    TARGET_ACCOUNT: DeclaredTarget(regions=list(TARGET_ROLES), roles=dict(TARGET_ROLES), external_id=EXTERNAL_ID)
}
KEY = f"arn:aws:kms:{DESTINATION_REGION}:{TARGET_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": {"kind": "rds-snapshot", "id": "orders-2030-01-01", "region": SOURCE_REGION},
        "target": {"account": TARGET_ACCOUNT, "region": DESTINATION_REGION, "kms_key_id": KEY},
    }
    for section, values in changes.items():
        base[section] = values if not isinstance(values, dict) else {**base.get(section, {}), **values}
    return base


def test_a_valid_input_names_the_declared_role_and_external_id() -> None:
    job = parse_input(doc(options={"tags": {"team": "orders"}}), execution(), TARGETS)
    assert job["target"]["role_arn"] == TARGET_ROLES[DESTINATION_REGION]
    assert job["target"]["external_id"] == EXTERNAL_ID
    assert job["options"] == {"tags": {"team": "orders"}, "delete_source_snapshot": False}
    assert job["job_id"] == compute_job_id(
        "rds-snapshot", "orders-2030-01-01", SOURCE_REGION, TARGET_ACCOUNT, DESTINATION_REGION, KEY
    )


def test_the_job_id_depends_on_the_target_not_on_the_execution() -> None:
    first = parse_input(doc(), execution("a"), TARGETS)["job_id"]
    assert parse_input(doc(), execution("b"), TARGETS)["job_id"] == first
    other_key = KEY.replace("1234abcd", "9999abcd")
    assert parse_input(doc(target={"kms_key_id": other_key}), execution(), TARGETS)["job_id"] != first


def test_every_bad_field_is_named_at_once() -> None:
    bad = doc(
        source={"kind": "rds-proxy"},
        target={"account": "33333333333", "kms_key_id": "alias/partner"},
        options={"option_group_name": "og"},
    )
    with pytest.raises(InvalidInput) as caught:
        parse_input(bad, execution(), TARGETS)
    message = str(caught.value)
    assert "source.kind: 'rds-proxy' received" in message
    assert "target.account: '33333333333' received, allowed: a 12-digit account id" in message
    assert "target.kms_key_id: 'alias/partner' received" in message
    assert "options.option_group_name" in message


def test_a_key_of_another_account_or_region_is_refused() -> None:
    for wrong in (KEY.replace(TARGET_ACCOUNT, "444444444444"), KEY.replace(DESTINATION_REGION, SOURCE_REGION)):
        with pytest.raises(InvalidInput, match=r"target\.kms_key_id: .* allowed: a key or alias ARN of account"):
            parse_input(doc(target={"kms_key_id": wrong}), execution(), TARGETS)


def test_an_undeclared_account_or_region_is_refused_with_the_declared_ones() -> None:
    other = "444444444444"
    with pytest.raises(TargetNotDeclared, match=rf"target.account {other} is not a declared target .*{TARGET_ACCOUNT}"):
        parse_input(
            doc(target={"account": other, "kms_key_id": KEY.replace(TARGET_ACCOUNT, other)}), execution(), TARGETS
        )
    west = "us-west-2"
    with pytest.raises(TargetNotDeclared, match=rf"target.region {west} is not declared for account {TARGET_ACCOUNT}"):
        parse_input(
            doc(target={"region": west, "kms_key_id": KEY.replace(DESTINATION_REGION, west)}), execution(), TARGETS
        )
    # TargetNotDeclared is an InvalidInput: a Catch on invalid input also catches it.
    assert issubclass(TargetNotDeclared, InvalidInput)
