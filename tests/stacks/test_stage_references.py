"""Keys used across CDK Pipelines stages (kmsflow.constructs.keys.stage_reference): the producer publishes the key's
ARN in SSM, the consumer of a later Stage reads it at deploy time (same region: an SSM parameter type; other region:
an SDK-call custom resource), and grants still land in the producer's key policy and the consumer's roles.

One app of three Stages, synthesized once with every cdk-nag pack: a multi-region key in ``first``; its replica in
``second`` (another region); a role of ``second`` in the key's region granted on the key and on a key of ``first``'s
other region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from kmsflow.app import new_app
from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey, KmsflowReplicaKey
from kmsflow.constructs.keys.stage_reference import StageKeyReference, key_arn_parameter, stage_reference
from kmsflow.constructs.nag import KmsflowChecks
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.errors import KeyConfigurationError
from tests.constructs.support import ACCOUNT, OTHER, REGION, REGION_2, role

ROLE_NAME = "kmsflow-test-copier"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"


def env(region: str, account: str = ACCOUNT) -> cdk.Environment:
    return cdk.Environment(account=account, region=region)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    first, second = cdk.Stage(app, "first"), cdk.Stage(app, "second")
    keys = cdk.Stack(first, "Keys", stack_name="keys-primary", env=env(REGION))
    dr_keys = cdk.Stack(first, "DrKeys", stack_name="keys-secondary", env=env(REGION_2))
    policy = CustomKeyPolicy(administrators=[role("Admin")])
    data = KmsflowKey(keys, "data", multi_region=True, policy=policy)
    dr = KmsflowKey(dr_keys, "dr", policy=policy)
    replicas = cdk.Stack(second, "Replicas", stack_name="keys-replicas", env=env(REGION_2))
    replica = KmsflowReplicaKey(replicas, "data", primary=stage_reference(data, consumer=replicas), policy=policy)
    users = cdk.Stack(second, "Users", stack_name="users", env=env(REGION))
    copier = iam.Role(users, "Copier", role_name=ROLE_NAME, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    # The test's own role: its grants are what is tested, its inline policy is not.
    acknowledge(
        copier, {"NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "a test role standing for a workflow role"}
    )
    data_ref = stage_reference(data, consumer=users)
    data_ref.grant_describe(copier)
    dr_ref = stage_reference(dr, consumer=users)
    dr_ref.grant_use_through_services(copier, services=["rds"])
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app), KmsflowChecks(app))
    app.synth()  # raises on any cdk-nag finding
    templates = {
        path.name.split(".")[0]: json.loads(path.read_text())
        for path in Path(outdir).glob("assembly-*/*.template.json")
    }
    by_name = {
        name: next(t for k, t in templates.items() if k.startswith(prefix))
        for name, prefix in (
            ("keys", "firstKeys"),
            ("dr_keys", "firstDrKeys"),
            ("replicas", "secondReplicas"),
            ("users", "secondUsers"),
        )
    }
    return {
        **by_name,
        "objects": {"data": data, "data_ref": data_ref, "dr_ref": dr_ref, "users": users, "replica": replica},
    }


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def test_the_producer_publishes_its_key_arn_in_ssm(built: dict[str, Any]) -> None:
    ((key_id, _),) = of_type(built["keys"], "AWS::KMS::Key").items()
    ((_, parameter),) = of_type(built["keys"], "AWS::SSM::Parameter").items()
    assert parameter["Properties"]["Name"] == "/kmsflow/keys/data/arn" == key_arn_parameter("data")
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert parameter["Properties"]["Type"] == "String"


def test_a_replica_of_another_region_reads_its_primary_arn_with_an_sdk_call(built: dict[str, Any]) -> None:
    template = built["replicas"]
    ((reader_id, reader),) = of_type(template, "Custom::AWS").items()
    ((_, replica),) = of_type(template, "AWS::KMS::ReplicaKey").items()
    assert replica["Properties"]["PrimaryKeyArn"] == {"Fn::GetAtt": [reader_id, "Parameter.Value"]}
    for phase in ("Create", "Update"):
        call = json.loads(reader["Properties"][phase])
        assert (call["service"], call["action"], call["region"]) == ("SSM", "getParameter", REGION)
        assert call["parameters"] == {"Name": "/kmsflow/keys/data/arn"}
    assert reader["Properties"]["InstallLatestAwsSdk"] is False
    (policy,) = of_type(template, "AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == (
        "ssm:GetParameter",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/kmsflow/keys/data/arn",
    )


def test_no_template_refers_to_another_stage(built: dict[str, Any]) -> None:
    for name in ("replicas", "users"):
        text = json.dumps(built[name])
        assert "Fn::ImportValue" not in text
        assert "ExportsReader" not in text
        assert "CrossRegionExportReader" not in text


def test_a_consumer_of_the_same_region_reads_the_arn_as_an_ssm_parameter_type(built: dict[str, Any]) -> None:
    template = built["users"]
    ssm = {name: p for name, p in template["Parameters"].items() if p["Default"] == "/kmsflow/keys/data/arn"}
    ((name, parameter),) = ssm.items()
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    (policy,) = [p for lid, p in of_type(template, "AWS::IAM::Policy").items() if lid.startswith("Copier")]
    statements = {st["Sid"]: st for st in policy["Properties"]["PolicyDocument"]["Statement"]}
    # The role's statements name each key by the ARN read in this stack: same region from the parameter type,
    # the other region's from the SDK call.
    assert statements["DescribeKmsflowTestCopier"]["Resource"] == {"Ref": name}
    (reader_id,) = of_type(template, "Custom::AWS")
    assert statements["ServiceUseKmsflowTestCopier"]["Resource"] == {"Fn::GetAtt": [reader_id, "Parameter.Value"]}


def test_grants_add_the_statements_to_the_producer_key_policy_naming_the_role_by_arn(built: dict[str, Any]) -> None:
    (key,) = of_type(built["dr_keys"], "AWS::KMS::Key").values()
    statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    use = statements["ServiceUseKmsflowTestCopier"]
    assert use["Condition"]["ArnEquals"] == {"aws:PrincipalArn": ROLE_ARN}
    # The key's own region names the service endpoint, not the consumer's.
    assert use["Condition"]["StringEquals"] == {"kms:ViaService": [f"rds.{REGION_2}.amazonaws.com"]}
    (data,) = of_type(built["keys"], "AWS::KMS::Key").values()
    describe = {s.get("Sid"): s for s in data["Properties"]["KeyPolicy"]["Statement"]}["DescribeKmsflowTestCopier"]
    assert describe["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ROLE_ARN}}


def test_a_reference_is_the_producer_key_with_the_consumer_s_arn(built: dict[str, Any]) -> None:
    objects = built["objects"]
    data, ref, users = objects["data"], objects["data_ref"], objects["users"]
    assert isinstance(ref, StageKeyReference)
    assert stage_reference(data, consumer=users) is ref  # one per key and consumer
    assert ref.stack is data.stack
    assert ref.node.scope is data
    assert (ref.settings, ref.policy_document, ref.delegates_to_iam) == (
        data.settings,
        data.policy_document,
        data.delegates_to_iam,
    )
    with pytest.raises(KeyConfigurationError, match="in its own stack"):
        ref.add_alias("alias/elsewhere")


def test_a_key_of_another_account_cannot_be_read_across_stages() -> None:
    app = new_app()
    key = KmsflowKey(cdk.Stack(cdk.Stage(app, "a"), "K", env=env(REGION)), "k")
    other = cdk.Stack(cdk.Stage(app, "b"), "C", env=env(REGION, OTHER))
    with pytest.raises(KeyConfigurationError, match="cannot be read across accounts"):
        stage_reference(key, consumer=other)
