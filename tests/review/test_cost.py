"""key_cost: the KMS price model applied to one key (storage only), on keys built by hand."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from kmsflow.review.cost import (
    BILLED_ROTATIONS,
    KEY_MONTHLY_USD,
    ROTATED_MATERIAL_MONTHLY_USD,
    key_cost,
)
from kmsflow.review.model import CostLine, KeyInfo
from tests.review.fixtures import key_info

KEY = key_info(
    "arn:aws:kms:eu-west-1:111111111111:key/s-Key",
    "s",
    "Key",
    rotation=False,
    rotation_period_days=None,
    policy_size=200,
)
ROTATING = dataclasses.replace(KEY, rotation=True, rotation_period_days=180)
REPLICA = dataclasses.replace(
    KEY,
    id="arn:aws:kms:eu-central-1:111111111111:key/s2-Replica",
    resource_type="AWS::KMS::ReplicaKey",
    primary=KEY.id,
    multi_region=True,
)


def test_the_2024_list_prices() -> None:
    prices = {"key": KEY_MONTHLY_USD, "rotated material": ROTATED_MATERIAL_MONTHLY_USD, "rotations": BILLED_ROTATIONS}
    assert prices == {"key": Decimal("1.00"), "rotated material": Decimal("1.00"), "rotations": 2}


def test_a_key_without_rotation_costs_one_dollar_now_and_later() -> None:
    cost = key_cost(KEY)
    assert cost.lines == (CostLine(item="key", quantity=1, monthly_usd="1.00"),)
    assert (cost.monthly_usd, cost.steady_state_monthly_usd, cost.estimate) == ("1.00", "1.00", True)


def test_a_rotating_key_costs_one_dollar_now_and_three_once_rotation_reaches_its_cap() -> None:
    cost = key_cost(ROTATING)
    assert cost.lines == (
        CostLine(item="key", quantity=1, monthly_usd="1.00"),
        CostLine(item="rotated key material", quantity=2, monthly_usd="2.00"),
    )
    assert (cost.monthly_usd, cost.steady_state_monthly_usd) == ("1.00", "3.00")
    assert "rotates every 180 days: its first and second rotation each add 1.00 USD a month" in cost.note


def test_a_replica_is_billed_as_a_key_of_its_own() -> None:
    cost = key_cost(REPLICA)
    assert cost.lines == (CostLine(item="replica", quantity=1, monthly_usd="1.00"),)
    assert (cost.monthly_usd, cost.steady_state_monthly_usd) == ("1.00", "1.00")
    assert "A multi-Region replica is billed as a key of its own" in cost.note


def test_a_replica_of_a_rotating_primary_pays_for_its_rotated_material_too() -> None:
    cost = key_cost(dataclasses.replace(REPLICA, rotation=True, rotation_period_days=365))
    assert [line.item for line in cost.lines] == ["replica", "rotated key material"]
    assert cost.steady_state_monthly_usd == "3.00"


@pytest.mark.parametrize(
    "key",
    [
        dataclasses.replace(KEY, spec="RSA_3072", usage="SIGN_VERIFY", rotation=None),
        dataclasses.replace(KEY, spec="HMAC_256", usage="GENERATE_VERIFY_MAC", rotation=None),
        dataclasses.replace(KEY, origin="EXTERNAL", rotation=None),
        dataclasses.replace(KEY, enabled=False),  # a disabled key is billed until it is scheduled for deletion
    ],
    ids=["asymmetric", "hmac", "imported", "disabled"],
)
def test_every_other_key_costs_the_same_dollar(key: KeyInfo) -> None:
    cost = key_cost(key)
    assert (cost.monthly_usd, cost.steady_state_monthly_usd, len(cost.lines)) == ("1.00", "1.00", 1)


def test_the_note_gives_the_price_date_the_region_caveat_and_that_requests_are_not_estimated() -> None:
    note = key_cost(KEY).note
    assert note.startswith("Estimate from the AWS KMS list prices of 2024 (USD; prices can differ by region")
    assert "requests are not estimated" in note
    assert "rotates" not in note
