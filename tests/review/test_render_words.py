"""Conditions in words: every operator family, quantifiers, IfExists, IgnoreCase, and operators the module does
not know (kept in the policy's own words, never dropped); the ways of a condition change."""

from __future__ import annotations

import pytest

from kmsflow.review.model import Condition, Source, Via, Way
from kmsflow.review.render.words import condition_words, conditions_words, ways_words


def _c(operator: str, key: str, *values: str) -> Condition:
    return Condition(operator=operator, key=key, values=values)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            _c("StringEquals", "kms:ViaService", "rds.eu-west-1.amazonaws.com"),
            "kms:ViaService = rds.eu-west-1.amazonaws.com",
        ),
        (
            _c("StringEquals", "kms:ViaService", "ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"),
            "kms:ViaService ∈ {ec2.eu-west-1.amazonaws.com, rds.eu-west-1.amazonaws.com}",
        ),
        (_c("StringEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5"), "aws:PrincipalOrgID = o-a1b2c3d4e5"),
        (
            _c("StringEquals", "kms:EncryptionContext:aws:rds:db-id", "db-ABC"),
            "kms:EncryptionContext:aws:rds:db-id = db-ABC",
        ),
        (_c("StringLike", "kms:ViaService", "rds.*.amazonaws.com"), "kms:ViaService like rds.*.amazonaws.com"),
        (
            _c("StringLike", "kms:ViaService", "ec2.*.amazonaws.com", "rds.*.amazonaws.com"),
            "kms:ViaService like any of {ec2.*.amazonaws.com, rds.*.amazonaws.com}",
        ),
        (_c("StringNotEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5"), "aws:PrincipalOrgID ≠ o-a1b2c3d4e5"),
        (
            _c("StringNotEquals", "kms:CallerAccount", "111111111111", "222222222222"),
            "kms:CallerAccount ∉ {111111111111, 222222222222}",
        ),
        (
            _c("StringNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/Admin*"),
            "aws:PrincipalArn not like arn:aws:iam::*:role/Admin*",
        ),
        (
            _c("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "Data"),
            "aws:PrincipalTag/team = Data (ignoring case)",
        ),
        (
            _c("StringEqualsIfExists", "kms:CallerAccount", "444444444444"),
            "kms:CallerAccount = 444444444444 (if present)",
        ),
        (
            _c("StringNotEqualsIgnoreCaseIfExists", "aws:PrincipalTag/team", "a", "b"),
            "aws:PrincipalTag/team ∉ {a, b} (ignoring case) (if present)",
        ),
        (
            _c("ForAllValues:StringEquals", "kms:GrantOperations", "Decrypt", "Encrypt"),
            "every kms:GrantOperations ∈ {Decrypt, Encrypt}",
        ),
        (
            _c("ForAllValues:StringEquals", "kms:GrantOperations", "Decrypt"),
            "every kms:GrantOperations ∈ {Decrypt}",
        ),
        (
            _c("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", "app"),
            "some kms:EncryptionContextKeys ∈ {app}",
        ),
        (_c("ForAnyValue:StringLike", "aws:TagKeys", "team-*"), "some aws:TagKeys like team-*"),
        (
            _c("ForAllValues:StringNotEquals", "aws:TagKeys", "owner", "team"),
            "every aws:TagKeys ∉ {owner, team}",
        ),
        (_c("Bool", "kms:GrantIsForAWSResource", "true"), "kms:GrantIsForAWSResource is true"),
        (_c("Bool", "aws:SecureTransport", "false"), "aws:SecureTransport is false"),
        (_c("BoolIfExists", "aws:MultiFactorAuthPresent", "true"), "aws:MultiFactorAuthPresent is true (if present)"),
        (_c("Null", "aws:PrincipalOrgID", "true"), "aws:PrincipalOrgID is absent"),
        (_c("Null", "kms:EncryptionContext:app", "false"), "kms:EncryptionContext:app is present"),
        (
            _c("ArnLike", "aws:SourceArn", "arn:aws:cloudtrail:*:111111111111:trail/*"),
            "aws:SourceArn like arn:aws:cloudtrail:*:111111111111:trail/*",
        ),
        (
            _c("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::111111111111:role/Admin"),
            "aws:PrincipalArn = arn:aws:iam::111111111111:role/Admin",
        ),
        (_c("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::logs-*"), "aws:SourceArn not like arn:aws:s3:::logs-*"),
        (_c("ArnNotEquals", "aws:SourceArn", "arn:aws:s3:::a"), "aws:SourceArn ≠ arn:aws:s3:::a"),
        (_c("IpAddress", "aws:SourceIp", "10.0.0.0/8"), "aws:SourceIp in 10.0.0.0/8"),
        (
            _c("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", "192.168.0.0/16"),
            "aws:SourceIp not in any of {10.0.0.0/8, 192.168.0.0/16}",
        ),
        (_c("NumericLessThan", "aws:MultiFactorAuthAge", "3600"), "aws:MultiFactorAuthAge < 3600"),
        (_c("NumericLessThanEquals", "s3:max-keys", "10"), "s3:max-keys ≤ 10"),
        (_c("NumericGreaterThan", "aws:EpochTime", "0"), "aws:EpochTime > 0"),
        (_c("NumericGreaterThanEquals", "aws:EpochTime", "1"), "aws:EpochTime ≥ 1"),
        (_c("NumericEquals", "kms:RecipientAttestation:PCR0", "7"), "kms:RecipientAttestation:PCR0 = 7"),
        (_c("NumericNotEquals", "aws:EpochTime", "1"), "aws:EpochTime ≠ 1"),
        (
            _c("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"),
            "aws:CurrentTime before 2030-01-01T00:00:00Z",
        ),
        (_c("DateLessThanEquals", "aws:CurrentTime", "2030-01-01"), "aws:CurrentTime at or before 2030-01-01"),
        (_c("DateGreaterThan", "aws:CurrentTime", "2024-01-01"), "aws:CurrentTime after 2024-01-01"),
        (_c("DateGreaterThanEquals", "aws:CurrentTime", "2024-01-01"), "aws:CurrentTime at or after 2024-01-01"),
        (_c("DateEquals", "aws:CurrentTime", "2024-01-01"), "aws:CurrentTime = 2024-01-01"),
        (
            _c("BinaryEquals", "kms:RecipientAttestation:ImageSha384", "qg=="),
            "kms:RecipientAttestation:ImageSha384 = qg==",
        ),
        (_c("SomeFutureOperator", "kms:NewKey", "a", "b"), "kms:NewKey SomeFutureOperator a, b"),
        (_c("ForAllValues:SomeFutureOperator", "kms:NewKey", "a"), "kms:NewKey ForAllValues:SomeFutureOperator a"),
        (_c("StringEquals", "kms:ViaService"), "kms:ViaService ∈ {}"),
    ],
)
def test_condition_in_words(condition: Condition, expected: str) -> None:
    assert condition_words(condition) == expected


def test_conditions_hold_together() -> None:
    conditions = (
        _c("Bool", "kms:GrantIsForAWSResource", "true"),
        _c("StringEquals", "kms:ViaService", "rds.eu-west-1.amazonaws.com"),
    )
    assert (
        conditions_words(conditions)
        == "kms:GrantIsForAWSResource is true and kms:ViaService = rds.eu-west-1.amazonaws.com"
    )


def test_no_condition_reads_as_given() -> None:
    assert conditions_words(()) == ""
    assert conditions_words((), none="none") == "none"


KEY_POLICY = "AppStack/DataKey KeyPolicy"
DENY_ORG = Source(policy=KEY_POLICY, sid="DenyOutsideOrg", via=Via.KEY_POLICY)
DENY_IAM = Source(policy="AppStack/AppRole/DefaultPolicy", sid="DenyNetwork", via=Via.IAM)
VIA_RDS = _c("StringEquals", "kms:ViaService", "rds.eu-west-1.amazonaws.com")


def test_one_way_reads_as_its_conditions_then_its_deny_statements() -> None:
    assert ways_words((Way(conditions=()),), own_policy=KEY_POLICY, none="none") == "none"
    assert ways_words((Way(conditions=(VIA_RDS,)),), own_policy=KEY_POLICY) == (
        "kms:ViaService = rds.eu-west-1.amazonaws.com"
    )
    denied = Way(conditions=(), unless=(DENY_IAM, DENY_ORG))
    assert ways_words((denied,), own_policy=KEY_POLICY, none="none") == (
        "always unless AppStack/AppRole/DefaultPolicy (DenyNetwork) or key policy (DenyOutsideOrg)"
    )


def test_several_ways_read_each_in_parentheses_joined_by_or() -> None:
    ways = (Way(conditions=()), Way(conditions=(VIA_RDS,), unless=(DENY_ORG,)))
    assert ways_words(ways, own_policy=KEY_POLICY, none="none") == (
        "(none) or (kms:ViaService = rds.eu-west-1.amazonaws.com unless key policy (DenyOutsideOrg))"
    )
    assert ways_words(ways, none="none") == (  # a reader who does not know the key: the policy in full
        "(none) or (kms:ViaService = rds.eu-west-1.amazonaws.com unless AppStack/DataKey KeyPolicy (DenyOutsideOrg))"
    )
