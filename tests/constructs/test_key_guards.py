"""The key construct refuses bad keys and bad policies at construction, with the exact message."""

from __future__ import annotations

import re

import pytest
from aws_cdk import aws_iam as iam

from kmsflow.constructs.keys import CrossAccountAccess, CustomKeyPolicy, KmsflowKey, ServiceUsers
from kmsflow.errors import KeyConfigurationError, KeyPolicyError
from kmsflow.keyspec import SPECS, KeyUsage
from tests.constructs.support import PARTNER, new_stack, role, template

INVALID = [(spec, usage) for spec, info in SPECS.items() for usage in KeyUsage if usage not in info.usages]


@pytest.mark.parametrize(("spec", "usage"), INVALID, ids=[f"{s}-{u}" for s, u in INVALID])
def test_every_spec_usage_mismatch_raises(spec: str, usage: str) -> None:
    with pytest.raises(KeyConfigurationError) as err:
        KmsflowKey(new_stack(), "k", spec=spec, usage=usage)
    assert err.value.field == "usage"
    assert (
        str(err.value) == f"usage {usage} does not fit key spec {spec}; {spec} allows {' or '.join(SPECS[spec].usages)}"
    )


@pytest.mark.parametrize("spec", [s for s, info in SPECS.items() if not info.rotatable])
def test_rotation_period_on_a_key_that_cannot_rotate_raises(spec: str) -> None:
    with pytest.raises(KeyConfigurationError, match=f"rotation_days: 90 is not allowed: .* not for {spec} keys") as err:
        KmsflowKey(new_stack(), "k", spec=spec, usage=SPECS[spec].usages[0], rotation_days=90)
    assert err.value.field == "rotation_days"


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(KeyConfigurationError) as err:
        KmsflowKey(new_stack(), "k", rotation_days=10, deletion_window_days=60)
    assert "rotation_days is 10" in str(err.value)
    assert "(and 1 more: deletion_window_days is 60" in str(err.value)


def test_alias_under_alias_aws_raises() -> None:
    with pytest.raises(KeyConfigurationError, match="reserves for AWS managed keys") as err:
        KmsflowKey(new_stack(), "k", aliases=["alias/ok", "alias/aws/rds"])
    assert err.value.field == "aliases[1]"


def test_kms_star_for_a_non_root_principal_raises() -> None:
    wide = iam.PolicyStatement(sid="Wide", principals=[role("Ops")], actions=["kms:*"], resources=["*"])
    with pytest.raises(KeyPolicyError) as err:
        KmsflowKey(new_stack(), "k", policy=CustomKeyPolicy(statements=[wide]))
    assert str(err.value).startswith(
        "Test/k: KeyPolicyKmsStarForNonRoot: statement Wide gives every KMS action (kms:*, * or NotAction) to "
        "arn:aws:iam::111111111111:role/Ops; only the key's own account root may hold kms:*; list the actions "
        "needed instead (the roles of a custom policy: administrators, users, service_users, ...); "
    )
    # kms:* includes CreateGrant, so the unscoped-grant rule speaks too.
    assert "KeyPolicyUnscopedCreateGrant: statement Wide allows kms:CreateGrant" in str(err.value)
    assert err.value.field == "policy"


def test_wildcard_principal_without_condition_raises() -> None:
    anyone = iam.PolicyStatement(
        sid="Anyone", principals=[iam.AnyPrincipal()], actions=["kms:Decrypt"], resources=["*"]
    )
    with pytest.raises(KeyPolicyError, match="statement Anyone allows Principal '\\*' without a Condition"):
        KmsflowKey(new_stack(), "k", policy=CustomKeyPolicy(statements=[anyone]))


def test_wildcard_principal_with_condition_is_accepted() -> None:
    scoped = iam.PolicyStatement(
        sid="Org",
        principals=[iam.AnyPrincipal()],
        actions=["kms:Decrypt"],
        resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    )
    KmsflowKey(new_stack(), "k", policy=CustomKeyPolicy(statements=[scoped]))


def test_administrators_who_are_users_raise_unless_a_reason_is_given() -> None:
    same = role("Platform")
    with pytest.raises(KeyPolicyError) as err:
        KmsflowKey(new_stack(), "k", policy=CustomKeyPolicy(administrators=[same], users=[same]))
    assert str(err.value) == (
        "Test/k: administrators and users must be different principals (separation of duties): "
        "arn:aws:iam::111111111111:role/Platform is in administrators and users; remove the principal from one "
        "list, or give policy.separation_reason saying why this key accepts it"
    )
    assert err.value.field == "policy.administrators"
    KmsflowKey(
        new_stack(),
        "k",
        policy=CustomKeyPolicy(administrators=[same], users=[same], separation_reason="single-person sandbox"),
    )


def test_a_principal_made_in_the_app_is_named_by_its_construct_path_not_a_token() -> None:
    stack = new_stack()
    platform = iam.Role(stack, "Platform", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(KeyPolicyError, match=r"^Test/k: .*: Test/Platform is in administrators and users;"):
        KmsflowKey(stack, "k", policy=CustomKeyPolicy(administrators=[platform], users=[platform]))


def test_service_users_overlapping_administrators_also_count() -> None:
    same = role("Platform")
    with pytest.raises(KeyPolicyError, match="is in administrators and service_users"):
        KmsflowKey(
            new_stack(),
            "k",
            policy=CustomKeyPolicy(
                administrators=[same], service_users=ServiceUsers(principals=[same], services=["s3"])
            ),
        )


@pytest.mark.parametrize(
    ("spec", "usage", "policy", "message"),
    [
        (
            "SYMMETRIC_DEFAULT",
            None,
            CustomKeyPolicy(signers=[role("S")]),
            "role signers needs a key with usage SIGN_VERIFY; this key is SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT",
        ),
        (
            "RSA_2048",
            "ENCRYPT_DECRYPT",
            CustomKeyPolicy(mac_users=[role("M")]),
            "role mac_users needs a key with usage GENERATE_VERIFY_MAC; this key is RSA_2048 for ENCRYPT_DECRYPT",
        ),
        (
            "RSA_2048",
            "ENCRYPT_DECRYPT",
            CustomKeyPolicy(service_users=ServiceUsers(principals=[role("A")], services=["s3"])),
            "role service_users needs a SYMMETRIC_DEFAULT key (AWS services integrate only with symmetric "
            "encryption keys); this key is RSA_2048",
        ),
        (
            "ECC_NIST_P256",
            "SIGN_VERIFY",
            CustomKeyPolicy(public_key_encrypters=[role("P")]),
            "role public_key_encrypters needs a key with usage ENCRYPT_DECRYPT; "
            "this key is ECC_NIST_P256 for SIGN_VERIFY",
        ),
    ],
    ids=["signers-on-symmetric", "mac-on-rsa", "service-on-rsa", "encrypters-on-ecc"],
)
def test_roles_must_fit_the_key(spec: str, usage: str | None, policy: CustomKeyPolicy, message: str) -> None:
    with pytest.raises(KeyPolicyError) as err:
        KmsflowKey(new_stack(), "k", spec=spec, usage=usage, policy=policy)
    assert str(err.value).startswith(message)


def test_unknown_service_name_raises() -> None:
    with pytest.raises(KeyPolicyError, match="unknown service name\\(s\\) dynamo; allowed: s3, rds"):
        KmsflowKey(
            new_stack(),
            "k",
            policy=CustomKeyPolicy(service_users=ServiceUsers(principals=[role("A")], services=["dynamo"])),
        )


def test_a_policy_over_32_kb_raises_with_its_size() -> None:
    many = [role(f"application-role-with-a-long-name-{i:04d}") for i in range(600)]
    with pytest.raises(KeyPolicyError) as err:
        KmsflowKey(new_stack(), "k", policy=CustomKeyPolicy(users=many))
    match = re.search(r"the key policy is (\d+) bytes; KMS allows at most 32768", str(err.value))
    assert match is not None
    assert int(match.group(1)) > 32768


def test_a_statement_added_after_construction_is_checked_at_synth() -> None:
    """Grants and other constructs may mutate the policy later: the guard runs again when synthesizing."""
    stack = new_stack()
    key = KmsflowKey(stack, "k")
    key.policy_document.add_statements(
        iam.PolicyStatement(sid="Late", principals=[iam.AnyPrincipal()], actions=["kms:Decrypt"], resources=["*"])
    )
    with pytest.raises(RuntimeError, match="Test/k: KeyPolicyWildcardPrincipal: statement Late allows Principal"):
        template(stack)


@pytest.mark.parametrize("role_name", ["users", "administrators", "signers"])
def test_a_principal_of_another_account_in_a_role_list_is_refused_as_in_the_configuration(role_name: str) -> None:
    """The configuration refuses it with the same sentence (config_checks); in Python it goes under cross_account."""
    spec = {"signers": ("RSA_2048", "SIGN_VERIFY")}.get(role_name, ("SYMMETRIC_DEFAULT", None))
    outsider = role("Copier", PARTNER)
    with pytest.raises(KeyPolicyError) as err:
        KmsflowKey(new_stack(), "k", spec=spec[0], usage=spec[1], policy=CustomKeyPolicy(**{role_name: [outsider]}))
    assert str(err.value) == (
        f"'arn:aws:iam::{PARTNER}:role/Copier' is in account '{PARTNER}', not in this key's account "
        "'111111111111'; principals of other accounts go under policy.cross_account (CrossAccountAccess in Python)"
    )
    assert err.value.field == f"policy.{role_name}[0]"
    # The same principal under cross_account is accepted, bound to its account.
    KmsflowKey(
        new_stack(),
        "ok",
        policy=CustomKeyPolicy(
            cross_account=[CrossAccountAccess(name="partner", account=PARTNER, principals=[outsider])]
        ),
    )
