"""kmsflow's key-policy rules as pure functions: each compliant and non-compliant, on template-shaped JSON."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.policy.document import flatten, principal_values, size
from kmsflow.policy.rules import (
    all_rules,
    kms_star_non_root,
    policy_size,
    unscoped_create_grant,
    violations,
    wildcard_principal,
)

ACCOUNT = "111111111111"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
# What CDK writes for an env-agnostic stack's root principal.
ROOT_JOIN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


def test_rules_have_unique_ids_and_names() -> None:
    rules = all_rules()
    assert [r.suffix for r in rules] == ["KMS1", "KMS2", "KMS3", "KMS4"]
    assert len({r.name for r in rules}) == 4


class TestWildcardPrincipal:
    @pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::111111111111:role/A", "*"]}])
    def test_wildcard_without_condition_is_flagged(self, principal: Any) -> None:
        found = wildcard_principal.check(policy(allow(principal, "kms:Decrypt", Sid="Open")), ACCOUNT)
        assert found == [
            "statement Open allows Principal '*' without a Condition, i.e. any AWS account; add a condition that "
            "names who may call (aws:PrincipalOrgID, kms:CallerAccount, kms:ViaService) or name the principals"
        ]

    def test_wildcard_with_condition_passes(self) -> None:
        stmt = allow("*", "kms:Decrypt", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}})
        assert wildcard_principal.check(policy(stmt), ACCOUNT) == []

    def test_deny_with_wildcard_passes(self) -> None:
        stmt = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
        assert wildcard_principal.check(policy(stmt), ACCOUNT) == []


class TestKmsStarNonRoot:
    @pytest.mark.parametrize("root", [ROOT, ACCOUNT, ROOT_JOIN])
    def test_own_root_may_hold_kms_star(self, root: Any) -> None:
        assert kms_star_non_root.check(policy(allow({"AWS": root}, "kms:*")), ACCOUNT) == []

    @pytest.mark.parametrize(
        ("principal", "action", "who"),
        [
            ({"AWS": "arn:aws:iam::111111111111:role/Admin"}, "kms:*", "arn:aws:iam::111111111111:role/Admin"),
            ({"AWS": "arn:aws:iam::222222222222:root"}, "kms:*", "arn:aws:iam::222222222222:root"),
            ({"AWS": "arn:aws:iam::111111111111:role/Admin"}, "*", "arn:aws:iam::111111111111:role/Admin"),
            ({"Service": "logs.amazonaws.com"}, ["kms:Decrypt", "KMS:*"], "Service:logs.amazonaws.com"),
            ("*", "kms:*", "*"),
        ],
    )
    def test_anyone_else_is_flagged(self, principal: Any, action: Any, who: str) -> None:
        found = kms_star_non_root.check(policy(allow(principal, action, Sid="Wide")), ACCOUNT)
        assert len(found) == 1
        assert found[0].startswith(f"statement Wide gives every KMS action (kms:*, * or NotAction) to {who};")

    def test_not_action_counts_as_everything(self) -> None:
        stmt = {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:role/A"},
            "NotAction": "kms:ScheduleKeyDeletion",
            "Resource": "*",
        }
        assert len(kms_star_non_root.check(policy(stmt), ACCOUNT)) == 1

    def test_another_accounts_root_is_not_own_root(self) -> None:
        assert kms_star_non_root.check(policy(allow({"AWS": ROOT}, "kms:*")), "999999999999") != []


class TestUnscopedCreateGrant:
    ROLE = {"AWS": "arn:aws:iam::111111111111:role/App"}

    @pytest.mark.parametrize("action", ["kms:CreateGrant", "kms:Create*", ["kms:Decrypt", "kms:createGRANT"]])
    def test_unscoped_create_grant_is_flagged(self, action: Any) -> None:
        found = unscoped_create_grant.check(policy(allow(self.ROLE, action)), ACCOUNT)
        assert len(found) == 1
        assert "allows kms:CreateGrant to arn:aws:iam::111111111111:role/App without" in found[0]

    @pytest.mark.parametrize(
        "condition",
        [
            {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            {"StringEquals": {"kms:GranteePrincipal": "arn:aws:iam::111111111111:role/B"}},
            {"Bool": {"KMS:grantisforawsresource": True}},
        ],
    )
    def test_scoped_create_grant_passes(self, condition: dict[str, Any]) -> None:
        assert (
            unscoped_create_grant.check(policy(allow(self.ROLE, "kms:CreateGrant", Condition=condition)), ACCOUNT) == []
        )

    def test_root_may_create_grants(self) -> None:
        assert unscoped_create_grant.check(policy(allow({"AWS": ROOT}, "kms:CreateGrant")), ACCOUNT) == []

    def test_other_actions_pass(self) -> None:
        assert unscoped_create_grant.check(policy(allow(self.ROLE, ["kms:Decrypt", "kms:ListGrants"])), ACCOUNT) == []


class TestPolicySize:
    def test_at_the_limit_passes_and_one_over_fails(self) -> None:
        base = policy(allow({"AWS": ROOT}, "kms:*", Sid="X"))
        pad = policy_size.MAX_POLICY_BYTES - size(base)
        at_limit = policy(allow({"AWS": ROOT}, "kms:*", Sid="X" + "a" * pad))
        assert size(at_limit) == policy_size.MAX_POLICY_BYTES
        assert policy_size.check(at_limit, ACCOUNT) == []
        over = policy(allow({"AWS": ROOT}, "kms:*", Sid="X" + "a" * (pad + 1)))
        assert policy_size.check(over, ACCOUNT) == [
            f"the key policy is {policy_size.MAX_POLICY_BYTES + 1} bytes; KMS allows at most 32768; merge statements, "
            "use IAM roles in fewer statements, or move principals to IAM policies (policy mode default)"
        ]


def test_violations_prefixes_rule_names() -> None:
    found = violations(policy(allow("*", "kms:*")), ACCOUNT)
    assert [f.split(":")[0] for f in found] == [
        "KeyPolicyWildcardPrincipal",
        "KeyPolicyKmsStarForNonRoot",
        "KeyPolicyUnscopedCreateGrant",
    ]


def test_flatten_reads_cdk_intrinsics() -> None:
    assert flatten(ROOT_JOIN) == "arn:aws:iam::${AWS::AccountId}:root"
    assert flatten({"Fn::GetAtt": ["Role1ABC", "Arn"]}) == "${Role1ABC.Arn}"
    assert principal_values({"Principal": {"AWS": [ROOT], "Service": "s3.amazonaws.com"}}) == [
        ROOT,
        "Service:s3.amazonaws.com",
    ]
