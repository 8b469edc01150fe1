"""The key-policy rules: KR01 wildcard-principal, KR02 broad-grant, KR07 policy-size."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kmsflow.review.findings import broad_grant, policy_size, wildcard_principal
from kmsflow.review.model import Severity
from tests.review.test_findings_context import (
    ACCOUNT,
    APP,
    KEY,
    OTHER_ROOT,
    ROOT,
    context,
    statement,
    summary,
)

HIGH = Severity.HIGH

# --- KR01 wildcard-principal --------------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_kr01_principal_star_without_a_condition(principal: Any) -> None:
    ctx = context(statements=[statement("Users", {"AWS": APP}), statement("Open", principal)])
    findings = wildcard_principal.check(ctx)
    assert summary(findings) == [("KR01", HIGH, "*", "Open")]
    assert findings[0].message.startswith(
        "statement Open allows Principal '*' (kms:Decrypt) without a condition that names who may call"
    )
    assert "add StringEquals aws:PrincipalOrgID" in findings[0].message


def test_kr01_a_statement_without_sid_is_named_by_its_index() -> None:
    ctx = context(statements=[statement("Root", {"AWS": ROOT}), statement(None, "*")])
    assert summary(wildcard_principal.check(ctx)) == [("KR01", HIGH, "*", "#1")]


def test_kr01_not_principal_allows_everyone_but_those_listed() -> None:
    ctx = context(statements=[{"Sid": "AllBut", "Effect": "Allow", "NotPrincipal": {"AWS": APP}, "Action": "kms:*"}])
    findings = wildcard_principal.check(ctx)
    assert summary(findings) == [("KR01", HIGH, "*", "AllBut")]
    assert "allows everyone but its NotPrincipal (kms:*)" in findings[0].message


@pytest.mark.parametrize(
    "conditions",
    [
        {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-ab12-11111111/*"}},
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}},
        {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},  # condition keys are case-insensitive
        {"ArnEquals": {"aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:111111111111:trail/t"}},
        {"StringEquals": {"aws:PrincipalAccount": [ACCOUNT, "222222222222"]}},
    ],
)
def test_kr01_negative_a_condition_that_names_who_may_call(conditions: dict[str, Any]) -> None:
    ctx = context(statements=[statement("Org", "*", Condition=conditions)])
    assert wildcard_principal.check(ctx) == []


@pytest.mark.parametrize(
    "conditions",
    [
        {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},  # any account may use S3
        {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},  # where from, not who
        {"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}},
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}},
        {"StringLike": {"aws:PrincipalOrgID": "*"}},
        {"StringLike": {"kms:CallerAccount": ["111111111111", "*"]}},
        "not a condition block",
    ],
)
def test_kr01_a_condition_that_does_not_name_who_may_call_still_counts(conditions: Any) -> None:
    ctx = context(statements=[statement("Open", "*", Condition=conditions)])
    assert summary(wildcard_principal.check(ctx)) == [("KR01", HIGH, "*", "Open")]


def test_kr01_negative_named_principals_and_deny_statements() -> None:
    ctx = context(
        statements=[
            statement("Users", {"AWS": [APP, ROOT]}),
            {"Sid": "DenyAll", "Effect": "Deny", "Principal": "*", "Action": "kms:*"},
            statement("Service", {"Service": "logs.eu-west-1.amazonaws.com"}),
        ]
    )
    assert wildcard_principal.check(ctx) == []


# --- KR02 broad-grant ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["kms:*", "*", ["kms:Decrypt", "KMS:*"]])
def test_kr02_every_kms_action_for_a_role(action: Any) -> None:
    ctx = context(statements=[statement("Root", {"AWS": ROOT}, "kms:*"), statement("AppAll", {"AWS": APP}, action)])
    findings = broad_grant.check(ctx)
    assert summary(findings) == [("KR02", HIGH, APP, "AppAll")]
    assert findings[0].message.startswith(f"statement AppAll gives every KMS action to {APP}")


def test_kr02_not_action_and_another_account_root() -> None:
    partner = {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": [OTHER_ROOT, ROOT]}, "NotAction": "kms:Sign"}
    ctx = context(statements=[partner])
    findings = broad_grant.check(ctx)
    assert summary(findings) == [("KR02", HIGH, OTHER_ROOT, "Partner")]
    assert "gives NotAction (every action but those listed)" in findings[0].message


def test_kr02_not_principal_whatever_the_actions() -> None:
    ctx = context(
        statements=[{"Sid": "AllBut", "Effect": "Allow", "NotPrincipal": {"AWS": APP}, "Action": "kms:Decrypt"}]
    )
    findings = broad_grant.check(ctx)
    assert summary(findings) == [("KR02", HIGH, "*", "AllBut")]
    assert "allows with NotPrincipal" in findings[0].message


def test_kr02_a_service_principal_is_named_as_the_review_names_it() -> None:
    ctx = context(statements=[statement("Logs", {"Service": "logs.eu-west-1.amazonaws.com"}, "kms:*")])
    assert summary(broad_grant.check(ctx)) == [("KR02", HIGH, "logs.eu-west-1.amazonaws.com", "Logs")]


@pytest.mark.parametrize("root", [ROOT, ACCOUNT, "arn:aws:iam::${AWS::AccountId}:root"])
def test_kr02_negative_the_own_account_root_may_hold_kms_star(root: str) -> None:
    ctx = context(statements=[statement("Root", {"AWS": root}, "kms:*"), statement("Users", {"AWS": APP})])
    assert broad_grant.check(ctx) == []


def test_kr02_negative_a_deny_with_not_action() -> None:
    deny = {"Sid": "DenyMost", "Effect": "Deny", "Principal": {"AWS": APP}, "NotAction": "kms:Decrypt"}
    assert broad_grant.check(context(statements=[deny])) == []


# --- KR07 policy-size ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "state"), [(29_492, "within 10 % of"), (40_000, "over")])
def test_kr07_a_policy_near_or_over_the_limit(size: int, state: str) -> None:
    findings = policy_size.check(context(key=dataclasses.replace(KEY, policy_size=size)))
    assert summary(findings) == [("KR07", Severity.LOW, None, None)]
    assert findings[0].message.startswith(f"the key policy is {size} characters, {state} the 32768 KMS accepts")


def test_kr07_negative_a_policy_of_at_most_90_percent() -> None:
    assert policy_size.check(context(key=dataclasses.replace(KEY, policy_size=29_491))) == []
