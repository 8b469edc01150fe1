"""Named errors: throttling codes become classes of exactly their names; messages say problem and remedy.

The throttling tests answer through botocore's Stubber, whose error responses skip botocore's retries, so one
stubbed error reaches the translation exactly as the last of botocore's attempts would.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from kmsflow.lambdas import aws_clients, errors
from kmsflow.lambdas.errors import (
    AwsCallFailed,
    CopyQuotaExceeded,
    SnapshotQuotaExceeded,
    WorkflowError,
    aws_errors,
    named,
    remedy_for,
)
from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.adapters import SnapshotRecord, adapter_for
from tests.lambdas.snapshot_copy.helpers import ACCOUNT, DESTINATION_REGION, SOURCE_REGION

THROTTLING = ("ThrottlingException", "RequestLimitExceeded", "Throttling", "ThrottledException")


def client_error(code: str, message: str = "slow down") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "AnyOperation")


@pytest.mark.parametrize("code", THROTTLING)
def test_each_throttling_code_becomes_the_class_of_that_name(code: str) -> None:
    with (
        pytest.raises(WorkflowError) as caught,
        aws_errors(action="describe_key", resource="KMS key k", region="eu-west-1"),
    ):
        raise client_error(code)
    assert type(caught.value).__name__ == code
    assert type(caught.value) is getattr(errors, code)
    assert "KMS key k" in str(caught.value)
    assert "eu-west-1" in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientError)


def test_known_codes_become_the_callers_errors_and_others_aws_call_failed() -> None:
    codes = {"Boom": named(CopyQuotaExceeded, "too many copies to eu-central-1")}
    context = {"action": "copy", "resource": "snapshot s", "region": "eu-central-1", "codes": codes}
    quota = r"too many copies to eu-central-1 \(AWS said Boom: slow down\); "
    with pytest.raises(CopyQuotaExceeded, match=quota), aws_errors(**context):
        raise client_error("Boom")
    other = r"copy of snapshot s in eu-central-1 failed \(AccessDenied: no\); check"
    with pytest.raises(AwsCallFailed, match=other), aws_errors(**context):
        raise client_error("AccessDenied", "no")


def test_messages_end_with_the_remedy_and_remedies_are_found_by_name() -> None:
    error = SnapshotQuotaExceeded("the manual snapshot quota of eu-west-1 is full.")
    assert str(error) == f"the manual snapshot quota of eu-west-1 is full; {SnapshotQuotaExceeded.remedy}."
    assert remedy_for("SnapshotQuotaExceeded") == SnapshotQuotaExceeded.remedy
    assert remedy_for("States.Timeout") is None
    assert remedy_for("ClientError") is None


def test_every_error_class_is_a_workflow_error_with_a_remedy() -> None:
    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)]
    assert len(classes) >= 20
    for cls in classes:
        if cls is ClientError:
            continue
        assert issubclass(cls, WorkflowError), cls
        assert cls.remedy, cls


def stub(monkeypatch: pytest.MonkeyPatch, service: str, region: str) -> Stubber:
    """A Stubber on the client that every ``aws_clients.client`` call returns from now on."""
    real = boto3.client(service, region_name=region)
    stubber = Stubber(real)
    stubber.activate()
    monkeypatch.setattr(aws_clients, "client", lambda *_args, **_kwargs: real)
    return stubber


def job(family: str = "rds") -> dict[str, Any]:
    return {
        "source": {"kind": "rds-snapshot", "family": family, "id": "s1", "region": SOURCE_REGION, "snapshot_id": "s1"},
        "destination": {
            "region": DESTINATION_REGION,
            "kms_key_id": f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:key/k",
        },
        "options": {"tags": {}, "delete_source_snapshot": False, "option_group_name": None},
        "execution": {"id": "e", "name": "n"},
        "job_id": "0123456789abcdef",
        "wait": {"seconds": 30, "waited": 0, "progress": None},
    }


@pytest.mark.parametrize(
    ("service", "operation", "code", "handler", "family"),
    [
        ("kms", "describe_key", "ThrottlingException", handlers.check_destination_key, "rds"),
        ("ec2", "describe_snapshots", "RequestLimitExceeded", handlers.check_source, "ebs"),
        ("rds", "describe_db_snapshots", "Throttling", handlers.check_source, "rds"),
        ("rds", "describe_db_cluster_snapshots", "ThrottledException", handlers.check_source, "aurora"),
    ],
)
def test_handlers_raise_throttling_as_the_named_class(
    monkeypatch: pytest.MonkeyPatch, service: str, operation: str, code: str, handler: Any, family: str
) -> None:
    """A throttled AWS call inside a handler leaves it as the class whose name Retry matches."""
    stubber = stub(monkeypatch, service, SOURCE_REGION)
    stubber.add_client_error(operation, service_error_code=code, service_message="Rate exceeded", http_status_code=400)
    with pytest.raises(getattr(errors, code), match="throttled after retries"):
        handler(job(family), None)
    stubber.assert_no_pending_responses()


def source_record(family: str) -> SnapshotRecord:
    arn = {
        "rds": f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:snapshot:s1",
        "aurora": f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:cluster-snapshot:s1",
        "ebs": f"arn:aws:ec2:{SOURCE_REGION}::snapshot/snap-0123456789abcdef0",
    }[family]
    snapshot_id = "snap-0123456789abcdef0" if family == "ebs" else "s1"
    return SnapshotRecord(
        region=SOURCE_REGION, snapshot_id=snapshot_id, arn=arn, status="available", encrypted=True, kms_key_id="k"
    )


@pytest.mark.parametrize(
    ("family", "operation", "code", "message", "expected"),
    [
        # RDS answers its concurrent cross-region copy limit (20; Aurora 5) with SnapshotQuotaExceeded and a
        # "Cannot copy more than N snapshots across regions" message (github.com/pbudzon/aws-maintenance/issues/19) ...
        (
            "rds",
            "copy_db_snapshot",
            "SnapshotQuotaExceeded",
            "Cannot copy more than 20 snapshots across regions",
            CopyQuotaExceeded,
        ),
        (
            "aurora",
            "copy_db_cluster_snapshot",
            "SnapshotQuotaExceeded",
            "Cannot copy more than 5 snapshots across regions",
            CopyQuotaExceeded,
        ),
        # ... and its manual-snapshot count with the same code (github.com/pbudzon/aws-maintenance/issues/12).
        (
            "aurora",
            "copy_db_cluster_snapshot",
            "SnapshotQuotaExceeded",
            "Cannot create more than 100 manual snapshots",
            SnapshotQuotaExceeded,
        ),
        (
            "rds",
            "copy_db_snapshot",
            "SnapshotQuotaExceeded",
            "would exceed the maximum number of snapshots",
            SnapshotQuotaExceeded,
        ),
        # EC2: "Too many snapshot copies in progress. The limit is 5 for this destination region."
        # (github.com/aws-samples/copy-encrypted-ami/issues/3; today's default limit is 20).
        ("ebs", "copy_snapshot", "ResourceLimitExceeded", "Too many snapshot copies in progress.", CopyQuotaExceeded),
    ],
)
def test_copy_quota_errors_are_named(
    monkeypatch: pytest.MonkeyPatch, family: str, operation: str, code: str, message: str, expected: type[WorkflowError]
) -> None:
    stubber = stub(monkeypatch, "ec2" if family == "ebs" else "rds", DESTINATION_REGION)
    stubber.add_client_error(operation, service_error_code=code, service_message=message, http_status_code=400)
    adapter = adapter_for(family, source_region=SOURCE_REGION, destination_region=DESTINATION_REGION)
    with pytest.raises(expected) as caught:
        adapter.copy(
            source_record(family),
            target_id="kmsflow-0123456789abcdef",
            kms_key_arn=f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:key/k",
            tags={"kmsflow:job-id": "0123456789abcdef"},
            option_group_name=None,
        )
    assert type(caught.value) is expected
    assert DESTINATION_REGION in str(caught.value)
    assert message in str(caught.value)
