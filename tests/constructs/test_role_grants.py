"""Grants on a key to a role of another stack (kmsflow.constructs.keys.role_grants), on synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from kmsflow.app import new_app
from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey
from kmsflow.errors import KeyPolicyError
from tests.constructs.support import (
    ACCOUNT,
    REGION,
    REGION_2,
    iam_statements,
    new_stack,
    resource,
    role,
    statements,
    template,
)

ROLE_NAME = "copier-role"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"


def lambda_role(scope: Any, name: str | None = ROLE_NAME) -> iam.Role:
    return iam.Role(scope, "Role", role_name=name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))


@pytest.fixture(scope="module")
def granted() -> dict[str, Any]:
    """A custom-policy key in REGION_2 granted to a fixed-name role of a stack in REGION."""
    app = new_app()
    keys = new_stack(app, "Keys", region=REGION_2)
    key = KmsflowKey(keys, "Dr", policy=CustomKeyPolicy(administrators=[role("Admin")]))
    users = new_stack(app, "Users", region=REGION, cross_region_references=True)
    copier = lambda_role(users)
    key.grant_use_through_services(copier, services=["rds", "ebs"])
    key.grant_describe(copier)
    key_tpl = template(keys)
    return {
        "key": statements(resource(key_tpl, keys, key.cfn_key)),
        "iam": iam_statements(template(users)),
    }


def test_the_key_policy_names_the_role_s_account_and_arn_only_as_a_condition(granted: dict[str, Any]) -> None:
    use = granted["key"]["ServiceUseCopierRole"]
    assert use["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert use["Condition"] == {
        "StringEquals": {"kms:ViaService": ["rds.eu-central-1.amazonaws.com", "ec2.eu-central-1.amazonaws.com"]},
        "ArnEquals": {"aws:PrincipalArn": ROLE_ARN},
    }
    assert "kms:Decrypt" in use["Action"]
    assert "kms:CreateGrant" not in use["Action"]
    grants = granted["key"]["ServiceGrantsCopierRole"]
    assert grants["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"},
        "StringEquals": use["Condition"]["StringEquals"],  # grants through the same services as use
        "ArnEquals": {"aws:PrincipalArn": ROLE_ARN},
    }
    describe = granted["key"]["DescribeCopierRole"]
    assert describe["Action"] == "kms:DescribeKey"


def test_the_role_s_policy_names_the_key_arn_never_a_wildcard(granted: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in granted["iam"] if "Sid" in s}
    for sid in ("ServiceUseCopierRole", "ServiceGrantsCopierRole", "DescribeCopierRole"):
        resource_ = by_sid[sid]["Resource"]
        assert resource_ != "*"
        assert "Fn::GetAtt" in resource_  # the key's ARN, read across regions by CDK's export reader
        assert "ArnEquals" not in by_sid[sid].get("Condition", {})
    assert by_sid["ServiceUseCopierRole"]["Condition"]["StringEquals"]["kms:ViaService"][0].endswith(
        "eu-central-1.amazonaws.com"
    )


def test_a_role_without_a_fixed_name_is_refused() -> None:
    app = new_app()
    key = KmsflowKey(new_stack(app, "Keys"), "K")
    with pytest.raises(
        KeyPolicyError, match=r"a role granted on a key of another stack \(Keys\) needs a fixed role_name"
    ):
        key.grant_describe(lambda_role(new_stack(app, "Users"), name=None))


def test_a_role_without_a_fixed_name_in_the_key_s_own_stack_is_named_by_its_arn() -> None:
    stack = new_stack()
    key = KmsflowKey(stack, "K", policy=CustomKeyPolicy(administrators=[role("Admin")]))
    anonymous = lambda_role(stack, name=None)
    key.grant_describe(anonymous)
    describe = statements(resource(template(stack), stack, key.cfn_key))["DescribeRole"]
    role_id = stack.resolve(stack.get_logical_id(anonymous.node.default_child))  # type: ignore[arg-type]
    assert describe["Condition"] == {"ArnEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [role_id, "Arn"]}}}


def test_a_key_that_cannot_encrypt_is_refused_for_service_use() -> None:
    app = new_app()
    key = KmsflowKey(new_stack(app, "Keys"), "K", spec="ECC_NIST_P256", usage="SIGN_VERIFY")
    with pytest.raises(KeyPolicyError, match="needs a key with usage ENCRYPT_DECRYPT"):
        key.grant_use_through_services(lambda_role(new_stack(app, "Users")), services=["rds"])


def imported_service_use(key_arn: str, region: str) -> dict[str, Any]:
    """The role-side statement of ``grant_use_through_services`` on the key ``key_arn`` imported in ``region``."""
    app = new_app()
    users = new_stack(app, "Users", region=region)
    imported = KmsflowKey.from_key_arn(users, "Imported", key_arn=key_arn)
    imported.grant_use_through_services(lambda_role(users), services=["rds"])
    (use,) = [s for s in iam_statements(template(users)) if s["Sid"] == "ServiceUseCopierRole"]
    return use


def test_an_imported_key_gets_only_the_iam_side_with_its_own_region() -> None:
    key_arn = f"arn:aws:kms:{REGION_2}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    use = imported_service_use(key_arn, REGION)
    assert use["Resource"].startswith(f"arn:aws:kms:{REGION_2}:")
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == ["rds.eu-central-1.amazonaws.com"]


def test_an_imported_key_of_another_partition_gets_that_partition_s_service_hosts() -> None:
    key_arn = f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    use = imported_service_use(key_arn, "cn-north-1")
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == ["rds.cn-north-1.amazonaws.com.cn"]
