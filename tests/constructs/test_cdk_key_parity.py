"""A kmsflow key is a key to aws-cdk: owned keys (custom and default policy), replicas and imported keys are
accepted wherever aws-cdk takes an ``aws_kms.IKey``; the key's ARN reaches each service's template, each
resource's own grant helpers work, and what they add to a managed key policy passes kmsflow's guards.

"Works" is proven on the synthesized templates by the policy evaluator (kmsflow.policy.evaluate): the role a
resource's grant helper was given may really decrypt with the key, as KMS would decide, which for a key whose
policy does not delegate to IAM (root_access: admin) needs a key-policy statement that aws-cdk alone never adds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from kmsflow.app import new_app
from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey, KmsflowReplicaKey
from kmsflow.constructs.keys.key import KeyGrants
from kmsflow.errors import KeyConfigurationError, KeyPolicyError
from kmsflow.policy.assembly import Assembly, authorize
from kmsflow.policy.model import Principal, Request
from tests.constructs.support import ACCOUNT, REGION, REGION_2, new_stack, role

IMPORTED_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KINDS = ("owned-custom", "owned-default", "replica", "imported")


def make_key(app: cdk.App, kind: str) -> tuple[cdk.Stack, KeyGrants]:
    """The key of ``kind`` and the stack its consumers go into."""
    custom = CustomKeyPolicy(administrators=[role("KeyAdmin")])
    if kind == "replica":
        primary_stack = new_stack(app, "Primary", cross_region_references=True)
        primary = KmsflowKey(primary_stack, "Global", multi_region=True, policy=custom)
        stack = new_stack(app, "Consumers", region=REGION_2, cross_region_references=True)
        return stack, KmsflowReplicaKey(stack, "Replica", primary=primary, policy=custom)
    stack = new_stack(app, "Consumers")
    if kind == "imported":
        return stack, KmsflowKey.from_key_arn(stack, "Imported", key_arn=IMPORTED_ARN)
    return stack, KmsflowKey(stack, "Key", policy=custom if kind == "owned-custom" else None)


#: service -> (construct id, resource type, how to read the key reference from its properties)
KEY_PROPERTY: dict[str, tuple[str, str, Callable[[dict[str, Any]], Any]]] = {
    "bucket": (
        "Bucket",
        "AWS::S3::Bucket",
        lambda p: p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "KMSMasterKeyID"
        ],
    ),
    "queue": ("Queue", "AWS::SQS::Queue", lambda p: p["KmsMasterKeyId"]),
    "topic": ("Topic", "AWS::SNS::Topic", lambda p: p["KmsMasterKeyId"]),
    "log group": ("Logs", "AWS::Logs::LogGroup", lambda p: p["KmsKeyId"]),
    "table": ("Table", "AWS::DynamoDB::Table", lambda p: p["SSESpecification"]["KMSMasterKeyId"]),
    "database": ("Database", "AWS::RDS::DBInstance", lambda p: p["KmsKeyId"]),
    "secret": ("Secret", "AWS::SecretsManager::Secret", lambda p: p["KmsKeyId"]),
}


def add_consumers(stack: cdk.Stack, key: Any) -> dict[str, iam.Role]:
    """One resource per service, encrypted with ``key`` (passed as aws-cdk's IKey), each granted to a role by the
    resource's own grant helper; returns the roles by service."""
    roles = {
        name: iam.Role(stack, f"{name.title().replace(' ', '')}Reader", assumed_by=iam.AccountRootPrincipal())
        for name in [*KEY_PROPERTY, "bystander"]
    }
    bucket = s3.Bucket(stack, "Bucket", encryption=s3.BucketEncryption.KMS, encryption_key=key, enforce_ssl=True)
    bucket.grant_read(roles["bucket"])
    sqs.Queue(stack, "Queue", encryption_master_key=key).grant_send_messages(roles["queue"])
    sns.Topic(stack, "Topic", master_key=key).grant_publish(roles["topic"])
    logs.LogGroup(stack, "Logs", encryption_key=key, removal_policy=RemovalPolicy.DESTROY).grant_read(
        roles["log group"]
    )
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
    )
    table.grant_read_data(roles["table"])
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    database = rds.DatabaseInstance(
        stack,
        "Database",
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        storage_encrypted=True,
        storage_encryption_key=key,
    )
    database.grant_connect(roles["database"])
    secretsmanager.Secret(stack, "Secret", encryption_key=key).grant_read(roles["secret"])
    return roles


@pytest.fixture(scope="module", params=KINDS)
def synthesized(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp(request.param)
    app = new_app(outdir=str(outdir))
    stack, key = make_key(app, request.param)
    roles = add_consumers(stack, key)
    app.synth()
    return {
        "kind": request.param,
        "stack": stack,
        "key": key,
        "roles": {name: stack.resolve(stack.get_logical_id(r.node.default_child)) for name, r in roles.items()},  # type: ignore[arg-type]
        "key_ref": stack.resolve(key.key_arn),
        "assembly": Assembly.from_directory(Path(outdir)),
    }


def test_the_key_arn_reaches_every_service_s_template(synthesized: dict[str, Any]) -> None:
    assembly: Assembly = synthesized["assembly"]
    template = assembly.stacks["Consumers"].template
    for service, (construct_id, kind, read) in KEY_PROPERTY.items():
        (props,) = [
            r["Properties"]
            for logical_id, r in template["Resources"].items()
            if r["Type"] == kind
            and logical_id.startswith(construct_id)
            and not logical_id.startswith(f"{construct_id}Secret")
        ]
        assert read(props) == synthesized["key_ref"], service


#: What each grant helper lets its role do with the key (aws-cdk's choice of actions, per service).
DECRYPTS = ("bucket", "queue", "table", "secret")


def test_each_resource_s_grant_lets_its_role_use_the_key(synthesized: dict[str, Any]) -> None:
    """Decided as KMS would on the synthesized policies; an imported key's own policy is not in the assembly,
    so there only the IAM side can be seen (its statement names the key's ARN)."""
    assembly: Assembly = synthesized["assembly"]
    key_arn = assembly.resolve("Consumers", synthesized["key_ref"])
    for service in DECRYPTS:
        role_arn = assembly.arn("Consumers", synthesized["roles"][service])
        action = "kms:GenerateDataKey" if service == "queue" else "kms:Decrypt"
        # Secrets Manager's grant_read lets the reader decrypt only through Secrets Manager (kms:ViaService).
        region = assembly.stacks["Consumers"].region
        context = {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"} if service == "secret" else {}
        request = Request(principal=Principal.role(role_arn), action=action, resource=key_arn, context=context)
        if synthesized["kind"] == "imported":
            if service == "secret":
                continue  # aws-cdk grants a secret's key through the key's policy only, which is not managed here
            iam_side = [p.document for p in assembly.identity_policies(role_arn)]
            assert any(key_arn in str(doc) for doc in iam_side), service
            continue
        decision = authorize(assembly, request)
        assert decision.allowed, (service, decision.reason)


def test_a_role_given_nothing_may_not_use_the_key(synthesized: dict[str, Any]) -> None:
    assembly: Assembly = synthesized["assembly"]
    key_arn = assembly.resolve("Consumers", synthesized["key_ref"])
    role_arn = assembly.arn("Consumers", synthesized["roles"]["bystander"])
    if synthesized["kind"] == "imported":  # its key policy is outside the assembly: no IAM statement either
        assert key_arn not in str([p.document for p in assembly.identity_policies(role_arn)])
        return
    request = Request(principal=Principal.role(role_arn), action="kms:Decrypt", resource=key_arn)
    assert not authorize(assembly, request).allowed


def test_grants_land_in_the_key_policy_only_where_iam_alone_would_not_do(synthesized: dict[str, Any]) -> None:
    """root_access: admin (owned-custom, replica): IAM statements alone would give nothing, so the key policy names
    each grantee. The KMS default policy delegates to IAM: grantees of the account are left to IAM, as aws-cdk
    does. An imported key's policy is not managed here at all."""
    assembly: Assembly = synthesized["assembly"]
    key_arn = assembly.resolve("Consumers", synthesized["key_ref"])
    governing = assembly.resource_policy(key_arn)
    if synthesized["kind"] == "imported":
        assert governing is None
        return
    assert governing is not None
    named = str(governing[0].document)
    for service in DECRYPTS:
        role_arn = assembly.arn("Consumers", synthesized["roles"][service])
        # Secrets Manager grants through a ViaServicePrincipal, which tells no account: it is always named in the
        # key policy (with its kms:ViaService condition), as for any principal of unknown account.
        in_key_policy = synthesized["kind"] != "owned-default" or service == "secret"
        assert (role_arn in named) is in_key_policy, service


# --- aws_kms.Key's other members --------------------------------------------------------------------------------


def test_add_alias_is_checked_like_the_aliases_prop() -> None:
    stack = new_stack()
    key = KmsflowKey(stack, "K")
    alias = key.add_alias("alias/app/extra")
    assert isinstance(alias, kms.Alias)
    with pytest.raises(KeyConfigurationError, match="alias/aws/"):
        key.add_alias("alias/aws/mine")


def test_add_to_resource_policy_is_guarded() -> None:
    stack = new_stack()
    key = KmsflowKey(stack, "K", policy=CustomKeyPolicy(administrators=[role("KeyAdmin")]))
    open_to_all = iam.PolicyStatement(principals=[iam.AnyPrincipal()], actions=["kms:Decrypt"], resources=["*"])
    with pytest.raises(KeyPolicyError, match=r"Test/K: .*Principal"):
        key.add_to_resource_policy(open_to_all)
    scoped = iam.PolicyStatement(principals=[role("Reader")], actions=["kms:Decrypt"], resources=["*"])
    assert key.add_to_resource_policy(scoped).statement_added is True


def test_a_grant_of_everything_is_refused() -> None:
    stack = new_stack()
    key = KmsflowKey(stack, "K", policy=CustomKeyPolicy(administrators=[role("KeyAdmin")]))
    # The message names the construct path of the grantee, not CDK's token for its ARN.
    with pytest.raises(KeyPolicyError, match=r"^Test/K: .* gives every KMS action \(kms:\*, .*\) to Test/R;"):
        key.grant(iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()), "kms:*")


def test_key_id_and_sign_verify_as_aws_kms_key() -> None:
    stack = new_stack()
    signing = KmsflowKey(stack, "S", spec=kms.KeySpec.ECC_NIST_P256, usage=kms.KeyUsage.SIGN_VERIFY)
    assert signing.settings.spec == "ECC_NIST_P256"
    assert stack.resolve(signing.key_id) == {"Ref": stack.resolve(stack.get_logical_id(signing.cfn_key))}
    grant = signing.grant_sign_verify(iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()))
    assert grant.success
    with pytest.raises(KeyPolicyError, match="grant_decrypt needs a key with usage ENCRYPT_DECRYPT"):
        signing.grant_decrypt(iam.Role(stack, "D", assumed_by=iam.AccountRootPrincipal()))


def test_the_constructors_show_their_parameters() -> None:
    """jsii's metaclass would make every signature ``(*args, **kwargs)`` for help() and editors."""
    import inspect

    assert list(inspect.signature(KmsflowReplicaKey).parameters)[:3] == ["scope", "id", "primary"]
    assert "spec" in inspect.signature(KmsflowKey).parameters
