"""IAM condition operators, one family at a time, against the rules of the IAM User Guide ("IAM JSON policy
elements: Condition operators", "Conditions with multiple context keys or values", "Single-valued vs.
multivalued context keys")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kmsflow.policy.conditions import (
    OPERATORS,
    ConditionError,
    conditions_hold,
    normalise_context,
    parse_operator,
    wildcard_match,
)
from kmsflow.policy.model import ContextValue


def holds(condition: dict[str, Any], context: Mapping[str, ContextValue] | None = None) -> bool:
    return conditions_hold(condition, normalise_context(context or {}))


NEGATED = [name for name, op in OPERATORS.items() if op.negated]


def test_the_negated_operators_are_exactly_the_documented_ones() -> None:
    assert sorted(NEGATED) == sorted(
        [
            "StringNotEquals",
            "StringNotEqualsIgnoreCase",
            "StringNotLike",
            "NumericNotEquals",
            "DateNotEquals",
            "ArnNotEquals",
            "ArnNotLike",
            "NotIpAddress",
        ]
    )


def test_no_condition_holds() -> None:
    assert holds({}) is True
    assert conditions_hold(None, {}) is True


class TestStrings:
    def test_string_equals_is_case_sensitive(self) -> None:
        condition = {"StringEquals": {"aws:username": "john"}}
        assert holds(condition, {"aws:username": "john"}) is True
        assert holds(condition, {"aws:username": "John"}) is False

    def test_several_policy_values_are_ored(self) -> None:
        condition = {"StringEquals": {"aws:PrincipalTag/role": ["audit", "security"]}}
        assert holds(condition, {"aws:PrincipalTag/role": "security"}) is True
        assert holds(condition, {"aws:PrincipalTag/role": "payroll"}) is False

    def test_string_not_equals_with_several_values_is_a_nor(self) -> None:
        # "Conditions with multiple context keys or values": negated operators evaluate their values as NOR.
        condition = {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}}
        assert holds(condition, {"aws:PrincipalTag/role": "audit"}) is False
        assert holds(condition, {"aws:PrincipalTag/role": "security"}) is False
        assert holds(condition, {"aws:PrincipalTag/role": "payroll"}) is True

    def test_ignore_case_variants(self) -> None:
        assert holds({"StringEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "JOHN"}) is True
        assert holds({"StringNotEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "JOHN"}) is False
        assert holds({"StringNotEqualsIgnoreCase": {"aws:username": "john"}}, {"aws:username": "mary"}) is True

    @pytest.mark.parametrize(
        ("pattern", "value", "expected"),
        [
            ("home/*", "home/a/b", True),
            ("home/?", "home/a", True),
            ("home/?", "home/ab", False),
            ("Home/*", "home/a", False),
            ("logs[1]", "logs[1]", True),  # brackets are literal, not a character class
            ("logs[1]", "logs1", False),
        ],
    )
    def test_string_like_wildcards(self, pattern: str, value: str, expected: bool) -> None:
        assert holds({"StringLike": {"s3:prefix": pattern}}, {"s3:prefix": value}) is expected
        assert holds({"StringNotLike": {"s3:prefix": pattern}}, {"s3:prefix": value}) is (not expected)

    def test_context_key_names_are_case_insensitive(self) -> None:
        assert holds({"StringEquals": {"AWS:SourceVpc": "vpc-1"}}, {"aws:sourcevpc": "vpc-1"}) is True
        assert holds({"StringEquals": {"aws:sourcevpc": "vpc-1"}}, {"AWS:SourceVPC": "vpc-1"}) is True

    def test_policy_variables_are_not_substituted(self) -> None:
        condition = {"StringEquals": {"s3:prefix": "${aws:username}"}}
        assert holds(condition, {"s3:prefix": "john", "aws:username": "john"}) is False
        assert holds(condition, {"s3:prefix": "${aws:username}"}) is True


class TestNumbers:
    @pytest.mark.parametrize(
        ("operator", "policy", "request_value", "expected"),
        [
            ("NumericEquals", "10", "10.0", True),
            ("NumericEquals", "10", "11", False),
            ("NumericNotEquals", "10", "11", True),
            ("NumericNotEquals", "10", "10", False),
            ("NumericLessThan", "10", "9", True),
            ("NumericLessThan", "10", "10", False),
            ("NumericLessThanEquals", "10", "10", True),
            ("NumericGreaterThan", "10", "10", False),
            ("NumericGreaterThan", "10", "10.5", True),
            ("NumericGreaterThanEquals", "10", "10", True),
            ("NumericLessThan", "10", "not-a-number", False),
        ],
    )
    def test_numeric(self, operator: str, policy: str, request_value: str, expected: bool) -> None:
        assert holds({operator: {"s3:max-keys": policy}}, {"s3:max-keys": request_value}) is expected

    def test_json_numbers_in_the_policy(self) -> None:
        assert holds({"NumericLessThanEquals": {"aws:MultiFactorAuthAge": 3600}}, {"aws:MultiFactorAuthAge": "60"})

    def test_a_policy_value_that_is_no_number_is_an_error(self) -> None:
        with pytest.raises(ConditionError, match=r"Numeric value 'ten' is not a numeric"):
            holds({"NumericLessThan": {"s3:max-keys": "ten"}}, {"s3:max-keys": "1"})


class TestDates:
    @pytest.mark.parametrize(
        ("operator", "policy", "request_value", "expected"),
        [
            ("DateLessThan", "2026-05-01T12:00:00Z", "2026-04-30T23:59:59Z", True),
            ("DateLessThan", "2026-05-01T12:00:00Z", "2026-05-01T12:00:00Z", False),
            ("DateLessThanEquals", "2026-05-01T12:00:00Z", "2026-05-01T12:00:00Z", True),
            ("DateGreaterThan", "2026-05-01T12:00:00Z", "2026-05-01T12:00:01Z", True),
            ("DateGreaterThanEquals", "2026-05-01T12:00:00Z", "2026-05-01T11:59:59Z", False),
            ("DateEquals", "2026-05-01T12:00:00Z", "2026-05-01T14:00:00+02:00", True),  # same instant
            ("DateNotEquals", "2026-05-01T12:00:00Z", "2026-05-01T14:00:00+02:00", False),
            ("DateEquals", "1777636800", "2026-05-01T12:00:00Z", True),  # epoch seconds
            ("DateGreaterThan", "2026-05-01", "2026-05-01T00:00:01Z", True),  # a date alone is midnight UTC
            ("DateLessThan", "2026-05-01T12:00:00Z", "yesterday", False),
        ],
    )
    def test_dates(self, operator: str, policy: str, request_value: str, expected: bool) -> None:
        assert holds({operator: {"aws:CurrentTime": policy}}, {"aws:CurrentTime": request_value}) is expected

    def test_a_policy_value_that_is_no_date_is_an_error(self) -> None:
        with pytest.raises(ConditionError, match=r"Date value 'soon' is not a date"):
            holds({"DateLessThan": {"aws:CurrentTime": "soon"}}, {"aws:CurrentTime": "2026-05-01T12:00:00Z"})


class TestBoolAndBinary:
    @pytest.mark.parametrize(("policy", "request_value"), [("true", "true"), ("True", "TRUE"), (True, "true")])
    def test_bool_is_case_insensitive(self, policy: Any, request_value: str) -> None:
        assert holds({"Bool": {"aws:SecureTransport": policy}}, {"aws:SecureTransport": request_value}) is True

    def test_bool_mismatch(self) -> None:
        assert holds({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}) is False

    def test_bool_value_must_be_true_or_false(self) -> None:
        with pytest.raises(ConditionError, match="Bool value 'yes'"):
            holds({"Bool": {"aws:SecureTransport": "yes"}}, {"aws:SecureTransport": "true"})

    def test_binary_equals_compares_decoded_bytes(self) -> None:
        assert holds({"BinaryEquals": {"key": "QmluYXJ5VmFsdWU="}}, {"key": "QmluYXJ5VmFsdWU="}) is True
        assert holds({"BinaryEquals": {"key": "QmluYXJ5VmFsdWU="}}, {"key": "T3RoZXI="}) is False
        assert holds({"BinaryEquals": {"key": "QmluYXJ5VmFsdWU="}}, {"key": "%%%"}) is False

    def test_binary_value_must_be_base64(self) -> None:
        with pytest.raises(ConditionError, match="BinaryEquals value '%%%' is not base64"):
            holds({"BinaryEquals": {"key": "%%%"}}, {"key": "QQ=="})


class TestIpAddresses:
    @pytest.mark.parametrize(
        ("policy", "address", "expected"),
        [
            ("203.0.113.0/24", "203.0.113.7", True),
            ("203.0.113.0/24", "198.51.100.7", False),
            ("203.0.113.7", "203.0.113.7", True),  # no mask: one address
            ("2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
            ("2001:DB8:1234:5678::/64", "203.0.113.7", False),
            ("203.0.113.0/24", "not-an-address", False),
        ],
    )
    def test_ip_address(self, policy: str, address: str, expected: bool) -> None:
        assert holds({"IpAddress": {"aws:SourceIp": policy}}, {"aws:SourceIp": address}) is expected

    def test_not_ip_address_matches_none_of_the_ranges(self) -> None:
        condition = {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]}}
        assert holds(condition, {"aws:SourceIp": "198.51.100.9"}) is False
        assert holds(condition, {"aws:SourceIp": "192.0.2.1"}) is True

    def test_a_policy_value_that_is_no_network_is_an_error(self) -> None:
        with pytest.raises(ConditionError, match="'office' is not an IP address or CIDR block"):
            holds({"IpAddress": {"aws:SourceIp": "office"}}, {"aws:SourceIp": "192.0.2.1"})


class TestArns:
    ROLE = "arn:aws:iam::111122223333:role/AdminRole"

    @pytest.mark.parametrize("operator", ["ArnLike", "ArnEquals"])
    def test_wildcards_in_any_part(self, operator: str) -> None:
        assert holds({operator: {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin*"}}, {"aws:PrincipalArn": self.ROLE})
        assert holds({operator: {"aws:PrincipalArn": "arn:*:iam::111122223333:*"}}, {"aws:PrincipalArn": self.ROLE})
        assert not holds({operator: {"aws:PrincipalArn": "arn:aws:iam::*:role/User*"}}, {"aws:PrincipalArn": self.ROLE})

    def test_parts_are_compared_one_by_one(self) -> None:
        # StringLike lets "*" swallow colons; ArnLike compares the six parts, so a four-part pattern matches no ARN.
        request = {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:topic"}
        assert holds({"StringLike": {"aws:SourceArn": "arn:aws:*:topic"}}, request) is True
        assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:*:topic"}}, request) is False
        assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:*:*:111122223333:topic"}}, request) is True

    def test_the_resource_part_keeps_its_colons(self) -> None:
        request = {"aws:SourceArn": "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/app:*"}
        assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:logs:*:111122223333:log-group:*"}}, request) is True

    def test_parts_are_case_sensitive(self) -> None:
        assert not holds({"ArnEquals": {"aws:PrincipalArn": self.ROLE.lower()}}, {"aws:PrincipalArn": self.ROLE})

    def test_text_that_is_no_arn_matches_nothing(self) -> None:
        assert holds({"ArnLike": {"aws:SourceArn": "*"}}, {"aws:SourceArn": "not-an-arn"}) is False

    @pytest.mark.parametrize("operator", ["ArnNotLike", "ArnNotEquals"])
    def test_negated_arn_operators(self, operator: str) -> None:
        condition = {operator: {"aws:PrincipalArn": ["arn:aws:iam::*:role/Admin*", "arn:aws:iam::*:role/Ops"]}}
        assert holds(condition, {"aws:PrincipalArn": self.ROLE}) is False
        assert holds(condition, {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/App"}) is True


class TestAbsentKeys:
    @pytest.mark.parametrize(
        ("operator", "value"),
        [
            ("StringEquals", "x"),
            ("StringLike", "*"),
            ("StringEqualsIgnoreCase", "x"),
            ("NumericLessThan", "1"),
            ("DateGreaterThan", "2026-01-01T00:00:00Z"),
            ("Bool", "false"),
            ("BinaryEquals", "QQ=="),
            ("IpAddress", "0.0.0.0/0"),
            ("ArnLike", "arn:*:*:*:*:*"),
        ],
    )
    def test_positive_operators_fail(self, operator: str, value: str) -> None:
        assert holds({operator: {"aws:missing": value}}) is False

    @pytest.mark.parametrize("operator", NEGATED)
    def test_negated_operators_hold(self, operator: str) -> None:
        value = {"NotIpAddress": "0.0.0.0/0", "ArnNotLike": "arn:*:*:*:*:*", "ArnNotEquals": "arn:*:*:*:*:*"}.get(
            operator, "1"
        )
        assert holds({operator: {"aws:missing": value}}) is True

    def test_an_empty_value_list_counts_as_absent(self) -> None:
        assert holds({"StringEquals": {"aws:TagKeys": "x"}}, {"aws:TagKeys": []}) is False
        assert holds({"StringNotEquals": {"aws:TagKeys": "x"}}, {"aws:TagKeys": []}) is True


class TestIfExists:
    def test_absent_key_holds(self) -> None:
        assert holds({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}) is True
        assert holds({"NumericLessThanIfExists": {"s3:max-keys": "10"}}) is True
        assert holds({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::b"}}) is True

    def test_present_key_is_compared(self) -> None:
        assert holds({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, {"aws:SourceVpc": "vpc-2"}) is False
        assert holds({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, {"aws:SourceVpc": "vpc-1"}) is True
        assert holds({"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, {"aws:SourceVpc": "vpc-1"}) is False

    def test_documented_example_ip_or_vpc(self) -> None:
        # "AWS global condition context keys": IpAddressIfExists with StringEqualsIfExists: true if a key is absent.
        condition = {
            "IpAddressIfExists": {"aws:SourceIp": ["203.0.113.0/24"]},
            "StringEqualsIfExists": {"aws:SourceVpc": ["vpc-1"]},
        }
        assert holds(condition, {}) is True
        assert holds(condition, {"aws:SourceIp": "203.0.113.1"}) is True
        assert holds(condition, {"aws:SourceIp": "198.51.100.1"}) is False
        assert holds(condition, {"aws:SourceVpc": "vpc-2"}) is False


class TestNull:
    def test_null_true_means_absent(self) -> None:
        assert holds({"Null": {"aws:TokenIssueTime": "true"}}) is True
        assert holds({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}) is False

    def test_null_false_means_present(self) -> None:
        assert holds({"Null": {"aws:TagKeys": "false"}}, {"aws:TagKeys": ["env"]}) is True
        assert holds({"Null": {"aws:TagKeys": False}}) is False
        assert holds({"Null": {"aws:TagKeys": "false"}}, {"aws:TagKeys": []}) is False

    def test_null_value_must_be_true_or_false(self) -> None:
        with pytest.raises(ConditionError, match="Null value 'maybe'"):
            holds({"Null": {"aws:TagKeys": "maybe"}})


class TestSetOperators:
    def test_for_any_value(self) -> None:
        condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        assert holds(condition, {"aws:TagKeys": ["environment", "dept"]}) is True
        assert holds(condition, {"aws:TagKeys": ["dept"]}) is False

    def test_for_any_value_fails_for_absent_or_empty_keys(self) -> None:
        condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": "environment"}}
        assert holds(condition) is False
        assert holds(condition, {"aws:TagKeys": []}) is False

    def test_for_any_value_with_a_negated_operator_negates_per_value(self) -> None:
        condition = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["DataClass", "Owner"]}}
        assert holds(condition, {"aws:TagKeys": ["Dept", "DataClass"]}) is True  # Dept is neither
        assert holds(condition, {"aws:TagKeys": ["DataClass", "Owner"]}) is False
        assert holds(condition) is False

    def test_for_all_values(self) -> None:
        condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        assert holds(condition, {"aws:TagKeys": ["environment"]}) is True
        assert holds(condition, {"aws:TagKeys": ["environment", "cost-center"]}) is True
        assert holds(condition, {"aws:TagKeys": ["environment", "dept"]}) is False

    def test_for_all_values_holds_for_absent_or_empty_keys(self) -> None:
        # "Single-valued vs. multivalued context keys": ForAllValues "also returns true if there are no context
        # keys in the request".
        condition = {"ForAllValues:StringEquals": {"aws:TagKeys": "environment"}}
        assert holds(condition) is True
        assert holds(condition, {"aws:TagKeys": []}) is True

    def test_for_all_values_with_a_negated_operator(self) -> None:
        condition = {"ForAllValues:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}}
        assert holds(condition, {"aws:TagKeys": ["key3:legal", "key4:x"]}) is True
        assert holds(condition, {"aws:TagKeys": ["key3:legal", "key1:hr"]}) is False

    def test_set_operators_with_if_exists(self) -> None:
        assert holds({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "env"}}) is True
        assert holds({"ForAllValues:StringEqualsIfExists": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["x"]}) is False

    def test_a_multi_valued_request_under_a_plain_operator_reads_as_for_any_value(self) -> None:
        assert holds({"StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["other", "env"]}) is True
        assert holds({"StringEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["other", "more"]}) is False
        assert holds({"StringNotEquals": {"aws:TagKeys": "env"}}, {"aws:TagKeys": ["env", "other"]}) is True


class TestCombination:
    CONDITION = {
        "StringEquals": {"aws:PrincipalTag/department": ["finance", "hr"], "aws:PrincipalTag/role": "audit"},
        "Bool": {"aws:SecureTransport": "true"},
    }

    def test_every_block_and_every_key_must_hold(self) -> None:
        context: dict[str, ContextValue] = {
            "aws:PrincipalTag/department": "hr",
            "aws:PrincipalTag/role": "audit",
            "aws:SecureTransport": "true",
        }
        assert holds(self.CONDITION, context) is True
        assert holds(self.CONDITION, {**context, "aws:SecureTransport": "false"}) is False
        assert holds(self.CONDITION, {**context, "aws:PrincipalTag/role": "payroll"}) is False


class TestOperatorNames:
    @pytest.mark.parametrize(
        "name", ["StringEqualz", "ForSomeValues:StringEquals", "NullIfExists", "ForAnyValue:Null", "IfExists", "Like"]
    )
    def test_unknown_operator_is_an_error_that_lists_the_supported_ones(self, name: str) -> None:
        with pytest.raises(ConditionError) as info:
            holds({name: {"aws:username": "x"}}, {"aws:username": "x"})
        message = str(info.value)
        assert message.startswith(f"unknown condition operator {name!r}; supported: StringEquals, StringNotEquals")
        assert "ArnNotLike, Null; each but Null may take a 'ForAnyValue:' or 'ForAllValues:' prefix" in message

    def test_operator_names_are_parsed(self) -> None:
        parsed = parse_operator("ForAllValues:StringLikeIfExists")
        assert (parsed.quantifier, parsed.base, parsed.if_exists) == ("ForAllValues", OPERATORS["StringLike"], True)
        assert parse_operator("Null") == ("", None, False)

    def test_a_block_must_be_a_mapping(self) -> None:
        with pytest.raises(ConditionError, match="'StringEquals' must map context keys to values"):
            holds({"StringEquals": ["aws:username", "x"]})


def test_wildcard_match_spans_separators() -> None:
    assert wildcard_match("arn:aws:s3:::bucket/a/b:c", "arn:aws:s3:::bucket/*") is True
    assert wildcard_match("KMS:Decrypt", "kms:*", ignore_case=True) is True
    assert wildcard_match("KMS:Decrypt", "kms:*") is False
