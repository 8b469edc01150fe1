"""What the review cannot resolve offline is listed, never passed silently."""

from __future__ import annotations

from typing import Any

from kmsflow.policy.assembly import Assembly, StackTemplate
from kmsflow.review.unknowns import ORGANIZATION_POLICIES, unknowns

ACCOUNT = "111111111111"


def assembly(resources: dict[str, Any], **sections: Any) -> Assembly:
    template = {"Resources": resources, **sections}
    return Assembly.from_templates([StackTemplate(name="s", account=ACCOUNT, region="eu-west-1", template=template)])


def whats(found: tuple[Any, ...]) -> list[tuple[str, str]]:
    return [(u.what, u.where) for u in found]


def test_organization_policies_are_always_unknown() -> None:
    assert whats(unknowns(assembly({}), [])) == [("organization policies", "AWS Organizations")]
    assert ORGANIZATION_POLICIES.detail.startswith("service control policies and resource control policies")


def test_parameters_but_cdk_bootstrap_version() -> None:
    parameters = {
        "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/v"},
        "AdminArn": {"Type": "String"},
        "Env": {"Type": "String", "Default": "prod"},
    }
    found = [u for u in unknowns(assembly({}, Parameters=parameters), []) if u.what == "parameter"]
    assert [(u.where, u.detail) for u in found] == [
        (
            "s/AdminArn",
            "no default: the deployment passes its value, unknown here (statements naming it match nothing)",
        ),
        ("s/Env", 'read as its default "prod"; a deployment may pass another value'),
    ]


def test_unresolved_imports_custom_resources_and_aws_managed_keys() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::ImportValue": "MissingExport"}},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:eu-west-1:111111111111:alias/aws/s3"},
        ]
    }
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyName": "p", "Roles": [{"Ref": "Role"}], "PolicyDocument": policy},
        },
        "Patch": {"Type": "Custom::KeyPolicyPatch", "Properties": {"ServiceToken": "arn:aws:lambda:x"}},
        "Reader": {"Type": "Custom::CrossRegionExportReader", "Properties": {}},
    }
    found = unknowns(assembly(resources), [f"arn:aws:iam::{ACCOUNT}:role/Elsewhere", "arn:aws:iam::222222222222:root"])
    assert whats(found) == [
        ("aws managed key", "s/Policy"),
        ("custom resource", "s/Patch"),
        ("organization policies", "AWS Organizations"),
        ("outside principal", "arn:aws:iam::111111111111:role/Elsewhere"),
        ("outside principal", "arn:aws:iam::222222222222:root"),
        ("unresolved value", "s/Policy PolicyDocument"),
    ]
    (unresolved,) = [u for u in found if u.what == "unresolved value"]
    assert unresolved.detail.startswith("s/Fn::ImportValue MissingExport cannot be resolved offline")
