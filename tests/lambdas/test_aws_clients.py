"""The client factory: region, assumed role (another account) and retry configuration, against moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from kmsflow.lambdas.aws_clients import MAX_ATTEMPTS, client

SOURCE_ACCOUNT = "123456789012"  # moto's default account
TARGET_ROLE = "arn:aws:iam::222222222222:role/kmsflow-copy"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1"])
def test_clients_are_made_for_the_region_asked(region: str) -> None:
    kms = client("kms", region=region)
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith(f"arn:aws:kms:{region}:{SOURCE_ACCOUNT}:key/")
    assert kms.meta.region_name == region


@pytest.mark.usefixtures("aws")
def test_role_arn_gives_a_client_in_the_other_account() -> None:
    sts = client("sts", region="eu-west-1", role_arn=TARGET_ROLE, session_name="kmsflow-test")
    identity = sts.get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/kmsflow-copy/kmsflow-test"
    kms = client("kms", region="eu-central-1", role_arn=TARGET_ROLE)
    assert ":222222222222:key/" in kms.create_key()["KeyMetadata"]["Arn"]
    # The source account does not see the target's keys.
    assert client("kms", region="eu-central-1").list_keys()["Keys"] == []


@pytest.mark.usefixtures("aws")
def test_retries_are_explicit() -> None:
    kms = client("kms", region="eu-west-1")
    assert kms.meta.config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
