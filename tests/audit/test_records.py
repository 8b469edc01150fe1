"""One record -> its key(s) and group, following the documented KMS log entries."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.audit.usage.records import MALFORMED, NO_KEY, OTHER_SERVICE, alias_assignment, read_record

from . import factory as f

ALICE = f.iam_user("Alice")


def keys(record: dict[str, Any]) -> tuple[str, ...]:
    event = read_record(record)
    assert not isinstance(event, str), event
    return event[1]


def test_decrypt_groups_by_key_principal_operation_account_region_service_error() -> None:
    record = f.kms_event("Decrypt", f.assumed_role("App", "s1", invoked_by="s3.amazonaws.com"), key=f.key_arn(1))
    event = read_record(record)
    assert event == (
        "2025-05-20T20:45:00Z",
        (f.key_arn(1),),
        (f.role_arn("App"), "role", f.ACCOUNT, "Decrypt", f.ACCOUNT, f.REGION, "s3.amazonaws.com", ""),
    )


def test_resources_win_over_the_key_id_the_caller_passed() -> None:
    # GenerateDataKey example: keyId is a bare key ID, resources[] has the key ARN (possibly another region).
    record = f.kms_event("GenerateDataKey", ALICE, key=f.key_arn(2, region="us-west-2"), key_param=f.key_id(2))
    assert keys(record) == (f.key_arn(2, region="us-west-2"),)


@pytest.mark.parametrize(
    ("key_param", "expected"),
    [
        (f.key_id(3), f.key_arn(3)),  # key ID: in the event's account and region
        (f.key_arn(3, account=f.PARTNER), f.key_arn(3, account=f.PARTNER)),  # key ARN as given
        ("alias/app", f.alias_arn("alias/app")),  # alias name: an alias ARN, resolved later
        (f.alias_arn("alias/app", account=f.PARTNER), f.alias_arn("alias/app", account=f.PARTNER)),
    ],
)
def test_key_id_forms_without_resources(key_param: str, expected: str) -> None:
    record = f.kms_event("Encrypt", ALICE, key_param=key_param, resources=[])
    assert keys(record) == (expected,)


def test_create_alias_resources_name_the_key_not_the_alias() -> None:
    record = f.create_alias("alias/ExampleAlias", f.key_id(4), ALICE)
    assert keys(record) == (f.key_arn(4),)
    assert alias_assignment(record, f.REGION, f.ACCOUNT) == (f.alias_arn("alias/ExampleAlias"), f.key_arn(4))


def test_failed_create_alias_teaches_nothing() -> None:
    record = f.create_alias("alias/x", f.key_id(4), ALICE, error_code="AccessDenied")
    assert alias_assignment(record, f.REGION, f.ACCOUNT) is None


def test_reencrypt_counts_for_source_and_destination() -> None:
    record = f.kms_event("ReEncrypt", ALICE, resources=[f.key_arn(5), f.key_arn(6)])
    assert keys(record) == (f.key_arn(5), f.key_arn(6))


def test_create_key_uses_the_response_key_metadata() -> None:
    assert keys(f.create_key(f.key_arn(7), ALICE)) == (f.key_arn(7),)


@pytest.mark.parametrize("operation", ["ListKeys", "ListAliases"])
def test_events_without_a_key_group_under_dash(operation: str) -> None:
    assert keys(f.kms_event(operation, ALICE)) == (NO_KEY,)


def test_error_code_and_other_service() -> None:
    event = read_record(f.kms_event("Decrypt", ALICE, key=f.key_arn(1), error_code="AccessDenied"))
    assert not isinstance(event, str)
    assert event[2][-1] == "AccessDenied"
    assert read_record(f.other_service()) == OTHER_SERVICE


def _broken(**changes: Any) -> dict[str, Any]:
    record = f.kms_event("Decrypt", ALICE, key=f.key_arn(1))
    for field, value in changes.items():
        if value is ...:
            del record[field]
        else:
            record[field] = value
    return record


@pytest.mark.parametrize(
    "record",
    [
        "not an object",
        None,
        _broken(eventSource=...),
        _broken(eventSource=7),
        _broken(eventName=...),
        _broken(eventName=["Decrypt"]),
        _broken(eventTime=...),
        _broken(eventTime=1716238000),
        _broken(eventTime="yesterday"),
        _broken(userIdentity="alice"),
        _broken(resources={"ARN": "x"}),
        _broken(requestParameters="keyId", resources=[]),
        _broken(awsRegion=12),
        _broken(recipientAccountId=111122223333),
        _broken(errorCode={"code": "x"}),
    ],
)
def test_malformed_records(record: Any) -> None:
    assert read_record(record) == MALFORMED


def test_null_optional_fields_are_not_malformed() -> None:
    record = _broken(errorCode=None, awsRegion=None, requestParameters=None)
    assert not isinstance(read_record(record), str)
