"""Grants by intent, imported keys, and multi-region replicas, on synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from kmsflow.app import new_app
from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey, KmsflowReplicaKey, ServiceUsers
from kmsflow.errors import KeyConfigurationError, KeyPolicyError
from kmsflow.policy.intents import Intent
from tests.constructs.support import (
    ACCOUNT,
    PARTNER,
    REGION_2,
    as_list,
    iam_statements,
    new_stack,
    resource,
    role,
    role_arn,
    statements,
    template,
)


@pytest.fixture(scope="module")
def granted() -> dict[str, Any]:
    stack = new_stack()
    data = KmsflowKey(stack, "data")
    signing = KmsflowKey(stack, "signing", spec="ECC_NIST_P256", usage="SIGN_VERIFY")
    mac = KmsflowKey(stack, "mac", spec="HMAC_256")
    app_role = iam.Role(stack, "AppRole", assumed_by=iam.AccountRootPrincipal())
    signer = iam.Role(stack, "Signer", assumed_by=iam.AccountRootPrincipal())
    data.grant_encrypt_decrypt(app_role)
    signing.grant_sign(signer)
    mac.grant_generate_mac(signer)
    partner = iam.Role.from_role_arn(stack, "PartnerCopier", role_arn("Copier", PARTNER), mutable=False)
    data.grant_decrypt(partner)
    elsewhere = KmsflowKey.from_key_arn(
        stack, "Elsewhere", key_arn=f"arn:aws:kms:eu-west-1:{PARTNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    elsewhere.grant_decrypt(app_role)
    tpl = template(stack)
    return {
        "tpl": tpl,
        "data": resource(tpl, stack, data.cfn_key),
        "data_id": stack.resolve(stack.get_logical_id(data.cfn_key)),
        "signing_id": stack.resolve(stack.get_logical_id(signing.cfn_key)),
    }


def test_same_account_grant_names_the_key_arn(granted: dict[str, Any]) -> None:
    stmts = iam_statements(granted["tpl"])
    data_grants = [s for s in stmts if s["Resource"] == {"Fn::GetAtt": [granted["data_id"], "Arn"]}]
    assert len(data_grants) == 1
    assert set(as_list(data_grants[0]["Action"])) == {
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    }


def test_sign_grant_gives_sign_and_public_key(granted: dict[str, Any]) -> None:
    stmts = iam_statements(granted["tpl"])
    sign = [s for s in stmts if s["Resource"] == {"Fn::GetAtt": [granted["signing_id"], "Arn"]}]
    assert set(as_list(sign[0]["Action"])) == {"kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"}


def test_no_iam_statement_is_on_every_resource(granted: dict[str, Any]) -> None:
    for stmt in iam_statements(granted["tpl"]):
        assert stmt["Resource"] != "*"
        assert "*" not in as_list(stmt["Resource"])


def test_imported_key_grant_is_scoped_to_its_arn(granted: dict[str, Any]) -> None:
    arns = [s["Resource"] for s in iam_statements(granted["tpl"])]
    assert f"arn:aws:kms:eu-west-1:{PARTNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab" in arns


def test_cross_account_grant_adds_only_that_principal_to_the_key_policy(granted: dict[str, Any]) -> None:
    cross = [
        s
        for s in granted["data"]["Properties"]["KeyPolicy"]["Statement"]
        if as_list(s["Principal"].get("AWS")) == [role_arn("Copier", PARTNER)]
    ]
    assert len(cross) == 1
    assert set(as_list(cross[0]["Action"])) == {"kms:Decrypt", "kms:DescribeKey"}


@pytest.mark.parametrize(
    ("intent", "spec", "usage"),
    [
        (Intent.SIGN, "SYMMETRIC_DEFAULT", None),
        (Intent.ENCRYPT, "ECC_NIST_P256", "SIGN_VERIFY"),
        (Intent.GENERATE_MAC, "RSA_2048", "SIGN_VERIFY"),
        (Intent.VERIFY_MAC, "SYMMETRIC_DEFAULT", None),
    ],
)
def test_a_grant_that_does_not_fit_the_key_raises(intent: Intent, spec: str, usage: str | None) -> None:
    stack = new_stack()
    key = KmsflowKey(stack, "k", spec=spec, usage=usage)
    grantee = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(KeyPolicyError, match=f"grant_{intent} needs a key with usage [A-Z_]+; this key is {spec}"):
        key.grant_intent(grantee, intent)


@pytest.fixture(scope="module")
def replicated() -> dict[str, Any]:
    app = new_app()
    primary_stack = new_stack(app, "Primary", cross_region_references=True)
    replica_stack = new_stack(app, "Replica", region=REGION_2, cross_region_references=True)
    policy = CustomKeyPolicy(
        administrators=[role("KeyAdmin")],
        service_users=ServiceUsers(principals=[role("App")], services=["rds"]),
    )
    primary = KmsflowKey(primary_stack, "global", multi_region=True, aliases=["alias/global"], policy=policy)
    replica = KmsflowReplicaKey(
        replica_stack,
        "global",
        primary=primary,
        aliases=["alias/global"],
        policy=policy,
    )
    assembly = app.synth()
    tpl = assembly.get_stack_by_name("Replica").template
    return {"tpl": tpl, "replica": resource(tpl, replica_stack, replica.cfn_replica)}


def test_replica_is_a_replica_key_retained_with_the_primary_arn(replicated: dict[str, Any]) -> None:
    replica = replicated["replica"]
    assert replica["Type"] == "AWS::KMS::ReplicaKey"
    assert replica["DeletionPolicy"] == "Retain"
    assert replica["UpdateReplacePolicy"] == "Retain"
    assert replica["Properties"]["PendingWindowInDays"] == 30
    # The primary's ARN crosses regions through CDK's SSM-backed export reader.
    assert "Fn::GetAtt" in replica["Properties"]["PrimaryKeyArn"]


def test_replica_policy_names_its_own_region(replicated: dict[str, Any]) -> None:
    svc = statements(replicated["replica"])["ServiceUsersViaService"]
    assert svc["Condition"] == {"StringEquals": {"kms:ViaService": [f"rds.{REGION_2}.amazonaws.com"]}}
    assert as_list(statements(replicated["replica"])["RootAccountAdministration"]["Principal"]["AWS"]) == [
        f"arn:aws:iam::{ACCOUNT}:root"
    ]


def test_replica_gets_its_aliases(replicated: dict[str, Any]) -> None:
    aliases = [r for r in replicated["tpl"]["Resources"].values() if r["Type"] == "AWS::KMS::Alias"]
    assert [a["Properties"]["AliasName"] for a in aliases] == ["alias/global"]


def test_replica_of_a_single_region_key_raises() -> None:
    stack = new_stack(region=REGION_2)
    single = KmsflowKey(new_stack(), "single")
    with pytest.raises(KeyConfigurationError, match="a replica needs a multi-region primary key; set multi_region"):
        KmsflowReplicaKey(stack, "r", primary=single)
