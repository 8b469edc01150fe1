"""Fault injection at moto's HTTP boundary: protocol-correct errors, botocore's own retries in virtual time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from kmsflow.lambdas.aws_clients import MAX_ATTEMPTS, client
from tests.support.sfn_harness import Faults, handler_scope
from tests.support.virtual_clock import VirtualClock

REGION = "eu-west-1"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def faults() -> Iterator[Faults]:
    with mock_aws(), Faults(VirtualClock(dt.datetime(2030, 1, 1, tzinfo=dt.UTC)), seed=3).install() as faults:
        yield faults


def error_code(call: object) -> str:
    with pytest.raises(ClientError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["Error"]["Code"])


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("rds", lambda c: c.describe_db_snapshots(), "Throttling"),  # query protocol
        ("ec2", lambda c: c.describe_volumes(), "RequestLimitExceeded"),  # ec2 protocol
        ("kms", lambda c: c.list_keys(), "ThrottlingException"),  # json protocol
        ("lambda", lambda c: c.list_functions(), "ThrottlingException"),  # rest-json protocol
        ("s3", lambda c: c.list_buckets(), "ThrottlingException"),  # rest-xml protocol
    ],
)
def test_each_protocol_gets_an_error_botocore_parses(faults: Faults, service: str, call: object, code: str) -> None:
    faults.throttle(1.0, scope="all")
    aws = boto3.client(service, region_name=REGION, config=NO_RETRIES)
    assert error_code(lambda: call(aws)) == code  # type: ignore[operator]


def test_a_faulted_request_never_reaches_moto(faults: Faults) -> None:
    faults.add("LimitExceededException", service="kms", operation="CreateKey", times=1, scope="all")
    kms = boto3.client("kms", region_name=REGION, config=NO_RETRIES)
    assert error_code(kms.create_key) == "LimitExceededException"
    assert kms.list_keys()["Keys"] == []
    kms.create_key()
    assert len(kms.list_keys()["Keys"]) == 1
    assert faults.injected == {"kms.CreateKey:LimitExceededException": 1}


def test_handler_scoped_faults_spare_the_test_s_own_calls(faults: Faults) -> None:
    faults.throttle(1.0)
    kms = boto3.client("kms", region_name=REGION, config=NO_RETRIES)
    kms.list_keys()
    with handler_scope():
        assert error_code(kms.list_keys) == "ThrottlingException"


def test_botocore_retries_ride_out_throttling_in_virtual_time(faults: Faults) -> None:
    faults.throttle(1.0, service="kms", times=MAX_ATTEMPTS - 1, scope="all")
    assert client("kms", region=REGION).list_keys()["Keys"] == []  # the product's client factory, 10 attempts
    assert faults.injected == {"kms.ListKeys:ThrottlingException": MAX_ATTEMPTS - 1}
    assert 0 < faults.clock.elapsed <= sum(min(2**i, 20) for i in range(MAX_ATTEMPTS - 1))


def test_a_named_error_stops_after_its_virtual_duration(faults: Faults) -> None:
    faults.add("SnapshotQuotaExceeded", service="rds", operation="CopyDBSnapshot", for_seconds=300, scope="all")
    rds = boto3.client("rds", region_name=REGION)

    def copy() -> object:
        return rds.copy_db_snapshot(SourceDBSnapshotIdentifier="missing", TargetDBSnapshotIdentifier="copy")

    assert error_code(copy) == "SnapshotQuotaExceeded"  # not retried by botocore: one attempt
    faults.clock.advance(299)
    assert error_code(copy) == "SnapshotQuotaExceeded"
    faults.clock.advance(1)
    assert error_code(copy) == "DBSnapshotNotFound"  # moto answers again
    assert faults.injected == {"rds.CopyDBSnapshot:SnapshotQuotaExceeded": 2}


def test_a_rule_for_one_handler_spares_the_others(faults: Faults) -> None:
    faults.add("InternalFailure", service="kms", handler="check_copy", status=500)
    kms = boto3.client("kms", region_name=REGION, config=NO_RETRIES)
    with handler_scope("kmsflow.lambdas.snapshot_copy.handlers.start_copy"):
        kms.list_keys()
    with handler_scope("kmsflow.lambdas.snapshot_copy.handlers.check_copy"):
        assert error_code(kms.list_keys) == "InternalFailure"
    kms.list_keys()  # outside any handler
    assert faults.injected == {"kms.ListKeys:InternalFailure": 1}


def test_draws_are_deterministic_for_a_seed() -> None:
    def injected(seed: int) -> list[bool]:
        with mock_aws(), Faults(VirtualClock(), seed=seed).install() as faults:
            faults.throttle(0.5, scope="all")
            kms = boto3.client("kms", region_name=REGION, config=NO_RETRIES)
            outcomes = []
            for _ in range(40):
                try:
                    kms.list_keys()
                    outcomes.append(False)
                except ClientError:
                    outcomes.append(True)
            return outcomes

    first = injected(seed=11)
    assert 5 < sum(first) < 35
    assert injected(seed=11) == first
    assert injected(seed=12) != first


def test_share_and_scope_are_checked() -> None:
    faults = Faults(VirtualClock())
    with pytest.raises(ValueError, match="share"):
        faults.add("X", share=1.5)
    with pytest.raises(ValueError, match="scope"):
        faults.add("X", scope="everywhere")
