"""Access facts of one key from hand-written templates: which principals, which actions, under which
conditions, through which statements — as KMS evaluates key policies and the IAM policies they delegate to."""

from __future__ import annotations

from typing import Any

from kmsflow.policy.assembly import Assembly, StackTemplate
from kmsflow.review.access import IdentityIndex, KeyAccess, key_access
from kmsflow.review.actions import KEY_ACTIONS, applicable_actions
from kmsflow.review.model import Condition, Source, Via

OWN = "111111111111"
OTHER = "222222222222"
KEY_STACK = "keys"
KEY_ARN = f"arn:aws:kms:eu-west-1:{OWN}:key/keys-Key"
ROOT = f"arn:aws:iam::{OWN}:root"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
ADMIN = f"arn:aws:iam::{OWN}:role/Admin"
APP = f"arn:aws:iam::{OWN}:role/app"
OTHER_APP = f"arn:aws:iam::{OTHER}:role/other-app"
SYMMETRIC = applicable_actions(spec="SYMMETRIC_DEFAULT", usage="ENCRYPT_DECRYPT", origin="AWS_KMS", multi_region=False)


def stmt(sid: str, principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": extra.pop("Effect", "Allow"),
        "Principal": principal,
        "Action": action,
        "Resource": "*",
        **extra,
    }


def key_template(*statements: dict[str, Any]) -> dict[str, Any]:
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy}}}}


def role_template(name: str, *statements: dict[str, Any]) -> dict[str, Any]:
    """A role and an AWS::IAM::Policy attached to it; ``{"Fn::ImportValue": "KeyArn"}`` names the key."""
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": {}}},
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyName": "p", "Roles": [{"Ref": "Role"}], "PolicyDocument": document},
            },
        }
    }


def exported_key(template: dict[str, Any]) -> dict[str, Any]:
    template["Outputs"] = {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "KeyArn"}}}
    return template


def access(key: dict[str, Any], *others: tuple[str, str, dict[str, Any]]) -> KeyAccess:
    stacks = [StackTemplate(name=KEY_STACK, account=OWN, region="eu-west-1", template=exported_key(key))]
    stacks += [StackTemplate(name=name, account=account, region="eu-west-1", template=t) for name, account, t in others]
    assembly = Assembly.from_templates(stacks)
    assert assembly.arn(KEY_STACK, "Key") == KEY_ARN
    policy = assembly.resource_policy(KEY_ARN)
    assert policy is not None
    return key_access(assembly, IdentityIndex(assembly), KEY_ARN, policy[0], account=OWN, actions=SYMMETRIC)


def facts_of(result: KeyAccess, principal: str) -> dict[str, tuple[tuple[Condition, ...], tuple[str, ...]]]:
    """action -> (conditions, source sids) for one principal (one fact per action expected)."""
    found = {}
    for fact in result.facts:
        if fact.principal == principal:
            assert fact.action not in found, f"two facts for {fact.action}"
            found[fact.action] = (fact.conditions, tuple(s.sid for s in fact.sources))
    return found


def test_a_named_principal_gets_exactly_its_statement_actions_with_conditions_in_full() -> None:
    via = {"StringEquals": {"kms:ViaService": ["rds.eu-west-1.amazonaws.com"], "kms:CallerAccount": OWN}}
    result = access(key_template(stmt("Use", {"AWS": APP}, ["kms:Decrypt", "kms:Encrypt"], Condition=via)))
    conditions = (
        Condition(operator="StringEquals", key="kms:CallerAccount", values=(OWN,)),
        Condition(operator="StringEquals", key="kms:ViaService", values=("rds.eu-west-1.amazonaws.com",)),
    )
    assert facts_of(result, APP) == {"kms:Encrypt": (conditions, ("Use",)), "kms:Decrypt": (conditions, ("Use",))}
    assert [fact.via for fact in result.facts] == [Via.KEY_POLICY, Via.KEY_POLICY]
    assert result.outside == (APP,)  # not defined in the assembly: its own IAM policies are unknown


def test_iam_policies_count_only_where_the_key_policy_delegates_to_the_account() -> None:
    grant = {"Sid": "ReadKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::ImportValue": "KeyArn"}}
    app = ("apps", OWN, role_template("app", grant))
    without = access(key_template(stmt("Admin", {"AWS": ADMIN}, "kms:PutKeyPolicy")), app)
    assert facts_of(without, APP) == {}
    delegating = access(key_template(stmt("Root", {"AWS": ROOT}, "kms:*")), app)
    assert facts_of(delegating, APP) == {"kms:Decrypt": ((), ("Root", "ReadKey"))}
    fact = next(f for f in delegating.facts if f.principal == APP)
    assert fact.via is Via.IAM
    assert fact.sources == (
        Source(policy="keys/Key KeyPolicy", sid="Root", via=Via.KEY_POLICY),
        Source(policy="apps/Policy PolicyDocument", sid="ReadKey", via=Via.IAM),
    )


def test_a_delegation_with_conditions_adds_them_to_the_iam_fact() -> None:
    grant = {
        "Sid": "Any",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringLike": {"kms:EncryptionContext:app": "orders-*"}},
    }
    root = stmt(
        "Root",
        {"AWS": ROOT},
        "kms:Decrypt",
        Condition={"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    )
    result = access(key_template(root), ("apps", OWN, role_template("app", grant)))
    assert facts_of(result, APP) == {
        "kms:Decrypt": (
            (
                Condition(operator="StringEquals", key="kms:ViaService", values=("s3.eu-west-1.amazonaws.com",)),
                Condition(operator="StringLike", key="kms:EncryptionContext:app", values=("orders-*",)),
            ),
            ("Root", "Any"),
        )
    }


def test_another_account_needs_the_key_policy_to_name_it_and_its_own_iam_policy() -> None:
    grant = {"Sid": "UseShared", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"}
    other = ("partner", OTHER, role_template("other-app", grant))
    assert facts_of(access(key_template(stmt("Root", {"AWS": ROOT}, "kms:*")), other), OTHER_APP) == {}
    shared = access(
        key_template(stmt("Root", {"AWS": ROOT}, "kms:*"), stmt("Partner", {"AWS": OTHER_ROOT}, "kms:Decrypt")), other
    )
    assert facts_of(shared, OTHER_APP) == {"kms:Decrypt": ((), ("Partner", "UseShared"))}
    assert facts_of(shared, OTHER_ROOT) == {"kms:Decrypt": ((), ("Partner",))}


def test_an_unconditional_deny_removes_a_fact_and_a_conditional_one_is_listed_as_unless() -> None:
    allow = stmt("Use", {"AWS": APP}, ["kms:Decrypt", "kms:Encrypt"])
    deny = stmt("NoEncrypt", {"AWS": "*"}, "kms:Encrypt", Effect="Deny")
    maybe = stmt(
        "OnlyTls", {"AWS": "*"}, "kms:Decrypt", Effect="Deny", Condition={"Bool": {"aws:SecureTransport": "false"}}
    )
    result = access(key_template(allow, deny, maybe))
    assert sorted(facts_of(result, APP)) == ["kms:Decrypt"]
    (fact,) = [f for f in result.facts if f.principal == APP]
    assert fact.unless == (Source(policy="keys/Key KeyPolicy", sid="OnlyTls", via=Via.KEY_POLICY),)


def test_star_and_not_principal_are_anyone_with_their_conditions() -> None:
    org = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    result = access(
        key_template(
            stmt("Org", "*", "kms:Decrypt", Condition=org),
            {
                "Sid": "AllBut",
                "Effect": "Allow",
                "NotPrincipal": {"AWS": ADMIN},
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
        )
    )
    assert facts_of(result, "*") == {
        "kms:Decrypt": (
            (Condition(operator="StringEquals", key="aws:PrincipalOrgID", values=("o-abcdefghij",)),),
            ("Org",),
        ),
        "kms:DescribeKey": ((), ("AllBut",)),
    }


def test_not_action_is_read_as_every_key_action_it_does_not_exclude() -> None:
    result = access(
        key_template(
            {
                "Sid": "Most",
                "Effect": "Allow",
                "Principal": {"AWS": APP},
                "NotAction": ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"],
                "Resource": "*",
            }
        )
    )
    assert sorted(facts_of(result, APP)) == sorted(SYMMETRIC - {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"})


def test_actions_that_do_not_apply_to_the_key_are_not_reported() -> None:
    signing = applicable_actions(spec="RSA_3072", usage="SIGN_VERIFY", origin="AWS_KMS", multi_region=False)
    assert {"kms:Sign", "kms:Verify", "kms:GetPublicKey"} <= signing
    assert not signing & {"kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateMac", "kms:EnableKeyRotation"}
    assert "kms:ImportKeyMaterial" not in SYMMETRIC
    assert "kms:ReplicateKey" not in SYMMETRIC
    assert applicable_actions(spec="unknown", usage="unknown", origin="AWS_KMS", multi_region=False) == frozenset(
        KEY_ACTIONS
    )


def test_grant_creators_name_grantees_operations_and_the_service_condition() -> None:
    conditions = {
        "StringEquals": {"kms:GranteePrincipal": [OTHER_APP]},
        "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "DescribeKey"]},
        "Bool": {"kms:GrantIsForAWSResource": True},
    }
    result = access(key_template(stmt("Grants", {"AWS": APP}, "kms:CreateGrant", Condition=conditions)))
    (creator,) = result.grant_creators
    assert (creator.principal, creator.grantees, creator.operations, creator.for_aws_resource) == (
        APP,
        (OTHER_APP,),
        ("Decrypt", "DescribeKey"),
        True,
    )


def test_an_iam_statement_on_another_key_or_without_kms_actions_does_not_reach_the_key() -> None:
    other_key = {
        "Sid": "Other",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": f"arn:aws:kms:eu-west-1:{OWN}:key/other",
    }
    s3_only = {"Sid": "S3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    wildcard = {"Sid": "AllKeys", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": f"arn:aws:kms:*:{OWN}:key/*"}
    result = access(
        key_template(stmt("Root", {"AWS": ROOT}, "kms:*")),
        ("apps", OWN, role_template("app", other_key, s3_only, wildcard)),
    )
    assert facts_of(result, APP) == {"kms:Encrypt": ((), ("Root", "AllKeys"))}


def test_inline_and_customer_managed_policies_count_like_attached_ones() -> None:
    decrypt = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Inline", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::ImportValue": "KeyArn"}}
        ],
    }
    encrypt = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Managed", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}],
    }
    template = {
        "Resources": {
            "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": encrypt}},
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "app",
                    "AssumeRolePolicyDocument": {},
                    "Policies": [{"PolicyName": "inline", "PolicyDocument": decrypt}],
                    "ManagedPolicyArns": [{"Ref": "Managed"}],
                },
            },
        }
    }
    result = access(key_template(stmt("Root", {"AWS": ROOT}, "kms:*")), ("apps", OWN, template))
    assert facts_of(result, APP) == {
        "kms:Decrypt": ((), ("Root", "Inline")),
        "kms:Encrypt": ((), ("Root", "Managed")),
    }
