"""Key policies on synthesized templates: each role's statement, its actions and its conditions.

One stack holds a key per interesting case and is synthesized once for the module.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_iam as iam

from kmsflow.constructs.keys import (
    CrossAccountAccess,
    CustomKeyPolicy,
    KmsflowKey,
    OrganizationAccess,
    RootAccess,
    ServiceUsers,
)
from tests.constructs.support import (
    ACCOUNT,
    PARTNER,
    as_list,
    new_stack,
    resource,
    role,
    role_arn,
    statements,
    template,
)

ADMIN, USER, SVC = role("KeyAdmin"), role("App"), role("AppRuntime")

ADMIN_ACTIONS_SYMMETRIC = {
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
}
SYMMETRIC_USE = {
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
}
CRYPTO = {"kms:Encrypt", "kms:Decrypt", "kms:Sign", "kms:GenerateMac", "kms:CreateGrant", "kms:GenerateDataKey"}


@pytest.fixture(scope="module")
def keys() -> dict[str, dict[str, Any]]:
    """Every key of the showcase stack, by name: its template resource."""
    stack = new_stack()
    made = {
        "symmetric": KmsflowKey(
            stack,
            "symmetric",
            aliases=["alias/test/symmetric", "alias/test/second"],
            rotation_days=180,
            policy=CustomKeyPolicy(
                administrators=[ADMIN],
                users=[USER],
                service_users=ServiceUsers(principals=[SVC], services=["s3", "rds", "ebs"]),
                cross_account=[
                    CrossAccountAccess(name="partner-dr", account=PARTNER, via_services=["rds", "ebs"]),
                    CrossAccountAccess(name="copier", account=PARTNER, principals=[role("Copier", PARTNER)]),
                ],
                organizations=[OrganizationAccess(org_id="o-abcdefghij", via_services=["s3"])],
                statements=[
                    iam.PolicyStatement(
                        sid="DenyOutsideTls",
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:*"],
                        resources=["*"],
                        conditions={"Bool": {"aws:SecureTransport": "false"}},
                    )
                ],
            ),
        ),
        "rsa-sign": KmsflowKey(
            stack,
            "rsa-sign",
            spec="RSA_3072",
            usage="SIGN_VERIFY",
            policy=CustomKeyPolicy(administrators=[ADMIN], signers=[role("Signer")], verifiers=[role("Verifier")]),
        ),
        "rsa-encrypt": KmsflowKey(
            stack,
            "rsa-encrypt",
            spec="RSA_4096",
            usage="ENCRYPT_DECRYPT",
            policy=CustomKeyPolicy(users=[USER], public_key_encrypters=[role("Partner")]),
        ),
        "hmac": KmsflowKey(stack, "hmac", spec="HMAC_512", policy=CustomKeyPolicy(mac_users=[role("Tokens")])),
        "ecdh": KmsflowKey(
            stack, "ecdh", spec="ECC_NIST_P384", usage="KEY_AGREEMENT", policy=CustomKeyPolicy(users=[USER])
        ),
        "default": KmsflowKey(stack, "default", deletion_window_days=7),
        "root-full": KmsflowKey(stack, "root-full", policy=CustomKeyPolicy(root_access=RootAccess.FULL, users=[USER])),
        "external": KmsflowKey(stack, "external", origin="EXTERNAL", policy=CustomKeyPolicy(administrators=[ADMIN])),
        "multi": KmsflowKey(stack, "multi", multi_region=True, policy=CustomKeyPolicy(administrators=[ADMIN])),
    }
    tpl = template(stack)
    found = {name: resource(tpl, stack, key.cfn_key) for name, key in made.items()}
    found["_template"] = tpl
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


def principal(statement: dict[str, Any]) -> list[str]:
    return as_list(statement["Principal"]["AWS"])


class TestSymmetricCustomPolicy:
    def test_root_gets_administration_only(self, keys: dict[str, Any]) -> None:
        root = statements(keys["symmetric"])["RootAccountAdministration"]
        assert principal(root) == [f"arn:aws:iam::{ACCOUNT}:root"]
        assert actions(root) == ADMIN_ACTIONS_SYMMETRIC
        assert "Condition" not in root

    def test_administrators_manage_but_never_use(self, keys: dict[str, Any]) -> None:
        admin = statements(keys["symmetric"])["KeyAdministrators"]
        assert principal(admin) == [role_arn("KeyAdmin")]
        assert actions(admin) == ADMIN_ACTIONS_SYMMETRIC
        assert not actions(admin) & CRYPTO

    def test_users_encrypt_decrypt_and_make_data_keys(self, keys: dict[str, Any]) -> None:
        users = statements(keys["symmetric"])["KeyUsers"]
        assert principal(users) == [role_arn("App")]
        assert actions(users) == SYMMETRIC_USE
        assert not actions(users) & {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CreateGrant"}

    def test_service_users_only_through_named_services_of_the_region(self, keys: dict[str, Any]) -> None:
        svc = statements(keys["symmetric"])["ServiceUsersViaService"]
        assert actions(svc) == SYMMETRIC_USE
        assert svc["Condition"] == {
            "StringEquals": {
                "kms:ViaService": [
                    "s3.eu-west-1.amazonaws.com",
                    "rds.eu-west-1.amazonaws.com",
                    "ec2.eu-west-1.amazonaws.com",
                ]
            }
        }

    def test_service_users_create_grants_only_for_aws_resources(self, keys: dict[str, Any]) -> None:
        grants = statements(keys["symmetric"])["ServiceUsersGrantsForAwsResources"]
        assert principal(grants) == [role_arn("AppRuntime")]
        assert actions(grants) == {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}
        # Grants through the same services as the use statement, no wider.
        assert grants["Condition"] == {
            "Bool": {"kms:GrantIsForAWSResource": "true"},
            "StringEquals": statements(keys["symmetric"])["ServiceUsersViaService"]["Condition"]["StringEquals"],
        }
        assert grants["Condition"]["StringEquals"]["kms:ViaService"]

    def test_cross_account_use_is_scoped_by_caller_account_and_services(self, keys: dict[str, Any]) -> None:
        use = statements(keys["symmetric"])["CrossAccountPartnerDrUse"]
        assert principal(use) == [f"arn:aws:iam::{PARTNER}:root"]
        assert actions(use) == SYMMETRIC_USE
        assert use["Condition"] == {
            "StringEquals": {
                "kms:CallerAccount": PARTNER,
                "kms:ViaService": ["rds.eu-west-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com"],
            }
        }
        grants = statements(keys["symmetric"])["CrossAccountPartnerDrGrantsForAwsResources"]
        assert grants["Condition"] == {
            "Bool": {"kms:GrantIsForAWSResource": "true"},
            "StringEquals": {
                "kms:CallerAccount": PARTNER,
                "kms:ViaService": ["rds.eu-west-1.amazonaws.com", "ec2.eu-west-1.amazonaws.com"],
            },
        }

    def test_cross_account_with_named_principals(self, keys: dict[str, Any]) -> None:
        use = statements(keys["symmetric"])["CrossAccountCopierUse"]
        assert principal(use) == [role_arn("Copier", PARTNER)]
        assert use["Condition"] == {"StringEquals": {"kms:CallerAccount": PARTNER}}

    def test_organization_access_is_any_principal_with_org_condition(self, keys: dict[str, Any]) -> None:
        org = statements(keys["symmetric"])["OrganizationOAbcdefghijUse"]
        assert org["Principal"] == {"AWS": "*"}
        assert org["Condition"] == {
            "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij", "kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}
        }

    def test_free_statements_are_appended_as_given(self, keys: dict[str, Any]) -> None:
        deny = statements(keys["symmetric"])["DenyOutsideTls"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    def test_no_statement_gives_kms_star_and_every_resource_is_the_key_itself(self, keys: dict[str, Any]) -> None:
        for sid, stmt in statements(keys["symmetric"]).items():
            assert stmt["Resource"] == "*", sid
            if stmt["Effect"] == "Allow":
                assert "kms:*" not in actions(stmt), sid

    def test_rotation_period_aliases_and_retention(self, keys: dict[str, Any]) -> None:
        key = keys["symmetric"]
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["Properties"]["RotationPeriodInDays"] == 180
        assert key["Properties"]["PendingWindowInDays"] == 30
        assert key["DeletionPolicy"] == "Retain"
        assert key["UpdateReplacePolicy"] == "Retain"
        aliases = [r for r in keys["_template"]["Resources"].values() if r["Type"] == "AWS::KMS::Alias"]
        names = sorted(a["Properties"]["AliasName"] for a in aliases)
        assert names == ["alias/test/second", "alias/test/symmetric"]


class TestAsymmetricAndMacKeys:
    def test_signers_sign_and_verifiers_verify(self, keys: dict[str, Any]) -> None:
        st = statements(keys["rsa-sign"])
        assert actions(st["Signers"]) == {"kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"}
        assert actions(st["Verifiers"]) == {"kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"}
        assert keys["rsa-sign"]["Properties"]["KeySpec"] == "RSA_3072"
        assert keys["rsa-sign"]["Properties"]["KeyUsage"] == "SIGN_VERIFY"

    def test_asymmetric_keys_never_rotate_and_admins_may_read_the_public_key(self, keys: dict[str, Any]) -> None:
        for name in ("rsa-sign", "rsa-encrypt", "hmac", "ecdh"):
            props = keys[name]["Properties"]
            assert props.get("EnableKeyRotation") in (False, None), name
            assert "RotationPeriodInDays" not in props, name
        admin = actions(statements(keys["rsa-sign"])["KeyAdministrators"])
        assert "kms:GetPublicKey" in admin
        assert not admin & {"kms:EnableKeyRotation", "kms:RotateKeyOnDemand"}

    def test_rsa_users_get_no_data_keys(self, keys: dict[str, Any]) -> None:
        users = actions(statements(keys["rsa-encrypt"])["KeyUsers"])
        assert users == {
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GetPublicKey",
            "kms:DescribeKey",
        }
        assert actions(statements(keys["rsa-encrypt"])["PublicKeyEncrypters"]) == {
            "kms:Encrypt",
            "kms:GetPublicKey",
            "kms:DescribeKey",
        }

    def test_mac_users_generate_and_verify_macs(self, keys: dict[str, Any]) -> None:
        assert actions(statements(keys["hmac"])["MacUsers"]) == {"kms:GenerateMac", "kms:VerifyMac", "kms:DescribeKey"}
        assert keys["hmac"]["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC"

    def test_key_agreement_users_derive_shared_secrets(self, keys: dict[str, Any]) -> None:
        assert actions(statements(keys["ecdh"])["KeyUsers"]) == {
            "kms:DeriveSharedSecret",
            "kms:GetPublicKey",
            "kms:DescribeKey",
        }


class TestPolicyModesAndOrigins:
    def test_default_policy_is_the_kms_default(self, keys: dict[str, Any]) -> None:
        props = keys["default"]["Properties"]
        assert props["KeyPolicy"]["Statement"] == [
            {
                "Action": "kms:*",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Resource": "*",
                "Sid": "EnableIamPolicies",
            }
        ]
        assert props["EnableKeyRotation"] is True
        assert props["PendingWindowInDays"] == 7
        assert keys["default"]["DeletionPolicy"] == "Retain"

    def test_root_full_gives_root_kms_star(self, keys: dict[str, Any]) -> None:
        st = statements(keys["root-full"])
        assert actions(st["EnableIamPolicies"]) == {"kms:*"}
        assert "RootAccountAdministration" not in st

    def test_external_origin_has_no_rotation_and_import_admin_actions(self, keys: dict[str, Any]) -> None:
        props = keys["external"]["Properties"]
        assert props["Origin"] == "EXTERNAL"
        assert props["EnableKeyRotation"] is False
        assert "RotationPeriodInDays" not in props
        admin = actions(statements(keys["external"])["KeyAdministrators"])
        assert {"kms:ImportKeyMaterial", "kms:GetParametersForImport", "kms:DeleteImportedKeyMaterial"} <= admin
        assert "kms:EnableKeyRotation" not in admin

    def test_multi_region_key_admins_can_replicate(self, keys: dict[str, Any]) -> None:
        assert keys["multi"]["Properties"]["MultiRegion"] is True
        admin = actions(statements(keys["multi"])["KeyAdministrators"])
        assert {"kms:ReplicateKey", "kms:UpdatePrimaryRegion"} <= admin
        assert "kms:ReplicateKey" not in actions(statements(keys["symmetric"])["KeyAdministrators"])
