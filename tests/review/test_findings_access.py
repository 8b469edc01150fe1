"""The access rules, over facts and grant creators: KR03 cross-account-unscoped, KR04 create-grant-unscoped,
KR05 administrator-can-use, KR06 policy-change-and-use, KR10 unusable-key."""

from __future__ import annotations

import dataclasses

import pytest

from kmsflow.review.findings import (
    administrator_can_use,
    create_grant_unscoped,
    cross_account_unscoped,
    policy_change_and_use,
    unusable_key,
)
from kmsflow.review.model import AccessFact, Condition, GrantCreator, Severity
from tests.review.test_findings_context import (
    ADMIN,
    APP,
    KEY,
    OTHER_ACCOUNT,
    OTHER_ROOT,
    PARTNER,
    ROOT,
    condition,
    context,
    fact,
    grant_creator,
    summary,
)

MEDIUM, HIGH, LOW = Severity.MEDIUM, Severity.HIGH, Severity.LOW
VIA_RDS = condition("StringEquals", "kms:ViaService", "rds.eu-west-1.amazonaws.com")

# --- KR03 cross-account-unscoped ----------------------------------------------------------------------------------


def test_kr03_a_role_of_another_account_decrypts_without_scoping() -> None:
    ctx = context(
        facts=[
            fact(PARTNER, "kms:Decrypt", "CrossAccount"),
            fact(PARTNER, "kms:Encrypt", "CrossAccount"),
            fact(PARTNER, "kms:DescribeKey", "CrossAccount"),  # not cryptographic
        ]
    )
    findings = cross_account_unscoped.check(ctx)
    assert summary(findings) == [("KR03", MEDIUM, PARTNER, "CrossAccount")]
    assert findings[0].message.startswith(
        f"{PARTNER} of account {OTHER_ACCOUNT} may kms:Decrypt, kms:Encrypt on a key of account 111111111111 with "
        "no kms:CallerAccount or kms:ViaService condition; add kms:ViaService"
    )


def test_kr03_another_account_root_through_its_iam_names_the_key_policy_statement() -> None:
    ctx = context(facts=[fact(OTHER_ROOT, "kms:Decrypt", "PartnerAccount", iam_sid="PartnerIam")])
    assert summary(cross_account_unscoped.check(ctx)) == [("KR03", MEDIUM, OTHER_ROOT, "PartnerAccount")]


def test_kr03_one_finding_per_statement() -> None:
    ctx = context(facts=[fact(PARTNER, "kms:Decrypt", "A"), fact(PARTNER, "kms:Decrypt", "B")])
    assert summary(cross_account_unscoped.check(ctx)) == [
        ("KR03", MEDIUM, PARTNER, "A"),
        ("KR03", MEDIUM, PARTNER, "B"),
    ]


def test_kr03_a_negated_or_wildcard_scoping_condition_does_not_count() -> None:
    ctx = context(
        facts=[
            fact(PARTNER, "kms:Decrypt", "Negated", condition("StringNotEquals", "kms:CallerAccount", "444444444444")),
            fact(PARTNER, "kms:Decrypt", "Star", condition("StringLike", "kms:ViaService", "*")),
        ]
    )
    assert [f.source.sid for f in cross_account_unscoped.check(ctx) if f.source] == ["Negated", "Star"]


@pytest.mark.parametrize(
    "scoping",
    [VIA_RDS, condition("StringEquals", "kms:CallerAccount", OTHER_ACCOUNT)],
    ids=["via-service", "caller-account"],
)
def test_kr03_negative_scoped_use(scoping: Condition) -> None:
    assert cross_account_unscoped.check(context(facts=[fact(PARTNER, "kms:Decrypt", "Scoped", scoping)])) == []


def test_kr03_negative_own_account_services_and_anyone() -> None:
    ctx = context(
        facts=[
            fact(APP, "kms:Decrypt"),
            fact(ROOT, "kms:Decrypt", "Root"),
            fact("logs.eu-west-1.amazonaws.com", "kms:Encrypt", "Logs"),
            fact("*", "kms:Decrypt", "Open"),  # KR01's business
        ]
    )
    assert cross_account_unscoped.check(ctx) == []


# --- KR04 create-grant-unscoped -----------------------------------------------------------------------------------


def test_kr04_create_grant_for_any_grantee() -> None:
    ctx = context(grant_creators=[grant_creator(APP, "AppGrants")])
    findings = create_grant_unscoped.check(ctx)
    assert summary(findings) == [("KR04", MEDIUM, APP, "AppGrants")]
    assert findings[0].message.startswith(f"{APP} may create grants on the key for any grantee (every operation)")


def test_kr04_a_grantee_pattern_of_star_is_no_restriction() -> None:
    ctx = context(grant_creators=[grant_creator(PARTNER, "Star", grantees=("*",))])
    assert summary(create_grant_unscoped.check(ctx)) == [("KR04", MEDIUM, PARTNER, "Star")]


def test_kr04_negative_grants_for_aws_resources_named_grantees_or_the_root() -> None:
    ctx = context(
        grant_creators=[
            grant_creator(APP, "Services", for_aws_resource=True),
            grant_creator(ADMIN, "Named", grantees=(PARTNER,)),
            grant_creator(ROOT, "Root"),
        ]
    )
    assert create_grant_unscoped.check(ctx) == []


# --- KR05 administrator-can-use -----------------------------------------------------------------------------------


def test_kr05_a_key_administrator_that_can_decrypt() -> None:
    ctx = context(
        facts=[
            fact(ADMIN, "kms:PutKeyPolicy", "KeyAdministrators"),
            fact(ADMIN, "kms:Decrypt", "Users"),
            fact(ADMIN, "kms:GenerateDataKey", "Users"),
        ]
    )
    findings = administrator_can_use.check(ctx)
    assert summary(findings) == [("KR05", MEDIUM, ADMIN, "Users")]
    assert findings[0].message.startswith(
        f"{ADMIN} is a key administrator and may also kms:Decrypt, kms:GenerateDataKey; keep administration"
    )


def test_kr05_use_through_iam_names_the_identity_policy_statement() -> None:
    ctx = context(
        facts=[
            fact(ADMIN, "kms:PutKeyPolicy", "KeyAdministrators"),
            fact(ADMIN, "kms:Decrypt", "EnableIam", iam_sid="AdminDecrypt"),
        ]
    )
    assert summary(administrator_can_use.check(ctx)) == [("KR05", MEDIUM, ADMIN, "AdminDecrypt")]


def test_kr05_negative_an_administrator_of_another_key_is_a_user_of_this_one() -> None:
    """The label "key administrator" is the principal's across keys; this key's policy does not name it so."""
    ctx = context(facts=[fact(ADMIN, "kms:Decrypt", "KeyUsers")], labels={ADMIN: "key administrator; key user"})
    assert administrator_can_use.check(ctx) == []


def test_kr05_negative_administrators_that_only_administer_and_users_that_are_not_administrators() -> None:
    ctx = context(
        facts=[fact(ADMIN, "kms:PutKeyPolicy", "KeyAdministrators"), fact(APP, "kms:Decrypt")],
        labels={ROOT: "account root (administers the key)"},
    )
    assert administrator_can_use.check(ctx) == []
    root_admin = context(facts=[fact(ROOT, "kms:Decrypt", "Root")], labels={ROOT: "key administrator"})
    assert administrator_can_use.check(root_admin) == []


# --- KR06 policy-change-and-use -----------------------------------------------------------------------------------


def test_kr06_a_role_that_can_change_the_policy_and_decrypt() -> None:
    ctx = context(facts=[fact(APP, "kms:Decrypt", "Users"), fact(APP, "kms:PutKeyPolicy", "AppAdmin")])
    findings = policy_change_and_use.check(ctx)
    assert summary(findings) == [("KR06", HIGH, APP, "AppAdmin")]
    assert findings[0].message.startswith(
        f"{APP} may change the key policy (kms:PutKeyPolicy) and use the key (kms:Decrypt), so it can grant"
    )


def test_kr06_a_pattern_action_covers_both() -> None:
    ctx = context(facts=[fact(PARTNER, "kms:*", "Everything")])
    assert summary(policy_change_and_use.check(ctx)) == [("KR06", HIGH, PARTNER, "Everything")]


def test_kr06_negative_the_own_root_and_a_principal_with_one_of_the_two() -> None:
    ctx = context(
        facts=[
            fact(ROOT, "kms:PutKeyPolicy", "Root"),
            fact(ROOT, "kms:Decrypt", "Root"),
            fact(ADMIN, "kms:PutKeyPolicy", "KeyAdministrators"),
            fact(APP, "kms:Decrypt"),
        ]
    )
    assert policy_change_and_use.check(ctx) == []


# --- KR10 unusable-key ----------------------------------------------------------------------------------------------


def test_kr10_a_key_only_administered() -> None:
    ctx = context(facts=[fact(ADMIN, "kms:PutKeyPolicy", "KeyAdministrators"), fact(APP, "kms:DescribeKey")])
    findings = unusable_key.check(ctx)
    assert summary(findings) == [("KR10", LOW, None, None)]
    assert findings[0].message.startswith("no principal may use this ENCRYPT_DECRYPT key (kms:Encrypt, kms:Decrypt")


def test_kr10_use_that_does_not_fit_the_usage_does_not_count() -> None:
    signing = dataclasses.replace(KEY, spec="RSA_3072", usage="SIGN_VERIFY", rotation=None)
    ctx = context(key=signing, facts=[fact(APP, "kms:Decrypt")])
    findings = unusable_key.check(ctx)
    assert summary(findings) == [("KR10", LOW, None, None)]
    assert "this SIGN_VERIFY key (kms:Sign, kms:Verify)" in findings[0].message


@pytest.mark.parametrize(
    ("facts", "creators"),
    [
        ([fact(APP, "kms:Decrypt")], []),
        ([fact(ROOT, "kms:Encrypt", "Root")], []),  # the root delegates: usable through IAM
        ([fact("*", "kms:GenerateDataKey", "Open")], []),
        ([], [grant_creator(APP, "Services", for_aws_resource=True)]),  # usable through grants
    ],
    ids=["user", "root", "anyone", "grant-creator"],
)
def test_kr10_negative_someone_may_use_the_key(facts: list[AccessFact], creators: list[GrantCreator]) -> None:
    assert unusable_key.check(context(facts=facts, grant_creators=creators)) == []
