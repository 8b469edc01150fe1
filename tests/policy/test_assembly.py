"""Reading cloud assemblies: intrinsics resolved to stable strings, and the policies that apply to a request.

Every template is built here in code (small, one point each); one test reads a ``cdk.out``-shaped directory
that it writes itself. Nothing is synthesized.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kmsflow.errors import KmsflowError
from kmsflow.policy.assembly import UNRESOLVED, Assembly, AssemblyError, StackTemplate, authorize
from kmsflow.policy.model import Outcome, Policy, Principal, Request

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
REGION = "eu-west-1"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def stack(
    name: str = "s",
    resources: dict[str, Any] | None = None,
    *,
    account: str = ACCOUNT,
    region: str = REGION,
    **sections: Any,
) -> StackTemplate:
    return StackTemplate(name=name, account=account, region=region, template={"Resources": resources or {}, **sections})


def res(type_: str, **properties: Any) -> dict[str, Any]:
    return {"Type": type_, "Properties": properties}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def one(resources: dict[str, Any] | None = None, **sections: Any) -> Assembly:
    """An assembly of one stack named ``s``."""
    return Assembly.from_templates([stack("s", resources, **sections)])


def getatt(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# --- pseudo parameters -----------------------------------------------------------------------------------


def test_pseudo_parameters_come_from_the_stack_environment() -> None:
    refs = [{"Ref": name} for name in ("AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix")]
    assert one().resolve("s", [*refs, {"Ref": "AWS::StackName"}]) == [ACCOUNT, REGION, "aws", "amazonaws.com", "s"]


@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [
        ("eu-west-1", "aws", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
    ],
)
def test_partition_and_url_suffix_follow_the_region(region: str, partition: str, suffix: str) -> None:
    assembly = Assembly.from_templates([stack(region=region)])
    assert assembly.stacks["s"].partition == partition
    assert assembly.resolve("s", [{"Ref": "AWS::Partition"}, {"Ref": "AWS::URLSuffix"}]) == [partition, suffix]


def test_no_value_drops_the_element_that_holds_it() -> None:
    no_value = {"Ref": "AWS::NoValue"}
    assert one().resolve("s", {"List": ["a", no_value, "b"], "Key": no_value, "Kept": 1}) == {
        "List": ["a", "b"],
        "Kept": 1,
    }
    assert one().resolve("s", no_value) is None


# --- Ref and Fn::GetAtt, per resource type ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "properties", "ref", "arn"),
    [
        ("AWS::KMS::Key", {}, "s-R", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-R"),
        ("AWS::KMS::ReplicaKey", {}, "s-R", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-R"),
        ("AWS::KMS::Alias", {"AliasName": "alias/app"}, "alias/app", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app"),
        ("AWS::S3::Bucket", {}, "s-r", "arn:aws:s3:::s-r"),
        ("AWS::S3::Bucket", {"BucketName": "logs"}, "logs", "arn:aws:s3:::logs"),
        ("AWS::SNS::Topic", {}, *[f"arn:aws:sns:{REGION}:{ACCOUNT}:s-R"] * 2),
        ("AWS::SNS::Topic", {"TopicName": "alerts"}, *[f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"] * 2),
        (
            "AWS::SQS::Queue",
            {"QueueName": "jobs"},
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/jobs",
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs",
        ),
        ("AWS::IAM::Role", {}, "s-R", f"arn:aws:iam::{ACCOUNT}:role/s-R"),
        (
            "AWS::IAM::Role",
            {"RoleName": "app", "Path": "/service-role/"},
            "app",
            f"arn:aws:iam::{ACCOUNT}:role/service-role/app",
        ),
        ("AWS::IAM::User", {"UserName": "alice"}, "alice", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "mp"}, *[f"arn:aws:iam::{ACCOUNT}:policy/mp"] * 2),
        (
            "AWS::Logs::LogGroup",
            {"LogGroupName": "/aws/lambda/f"},
            "/aws/lambda/f",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/f:*",
        ),
        (
            "AWS::CloudTrail::Trail",
            {"TrailName": "audit"},
            "audit",
            f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/audit",
        ),
        ("AWS::Lambda::Function", {"FunctionName": "fn"}, "fn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"),
        (
            "AWS::StepFunctions::StateMachine",
            {"StateMachineName": "sm"},
            *[f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm"] * 2,
        ),
        ("AWS::Events::Rule", {"Name": "nightly"}, "nightly", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly"),
        ("AWS::CloudWatch::Alarm", {"AlarmName": "high"}, "high", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:high"),
        ("AWS::DynamoDB::Table", {"TableName": "t"}, "t", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"),
        ("AWS::SecretsManager::Secret", {"Name": "db"}, *[f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db"] * 2),
        ("AWS::RDS::DBInstance", {}, "s-r", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:s-r"),
        ("AWS::SSM::Parameter", {"Name": "/app/x"}, "/app/x", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/x"),
        ("AWS::Foo::Bar", {}, "s-R", f"arn:aws:unknown:{REGION}:{ACCOUNT}:s/R"),
    ],
)
def test_ref_and_arn_per_resource_type(type_: str, properties: dict[str, Any], ref: str, arn: str) -> None:
    assembly = one({"R": res(type_, **properties)})
    assert assembly.resolve("s", [{"Ref": "R"}, getatt("R"), {"Fn::GetAtt": "R.Arn"}]) == [ref, arn, arn]
    assert assembly.arn("s", "R") == arn


@pytest.mark.parametrize(
    ("type_", "attribute", "expected"),
    [
        ("AWS::KMS::Key", "KeyId", "s-R"),
        ("AWS::SNS::Topic", "TopicName", "s-R"),
        ("AWS::SQS::Queue", "QueueUrl", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/s-R"),
        ("AWS::StepFunctions::StateMachine", "Name", "s-R"),
        ("AWS::S3::Bucket", "RegionalDomainName", f"s-r.s3.{REGION}.amazonaws.com"),
    ],
)
def test_other_attributes_from_the_table(type_: str, attribute: str, expected: str) -> None:
    assert one({"R": res(type_)}).resolve("s", getatt("R", attribute)) == expected


def test_an_attribute_without_a_rule_is_a_stable_marker() -> None:
    assembly = one({"R": res("AWS::IAM::Role")})
    assert assembly.resolve("s", getatt("R", "RoleId")) == "<unresolved:s/R.RoleId>"
    assert assembly.resolve("s", getatt("Missing")).startswith(UNRESOLVED)
    assert assembly.resolve("s", {"Ref": "Missing"}).startswith(UNRESOLVED)


def test_the_china_partition_reaches_arns_and_queue_urls() -> None:
    assembly = Assembly.from_templates([stack(region="cn-north-1", resources={"Q": res("AWS::SQS::Queue")})])
    assert assembly.resolve("s", [{"Ref": "Q"}, getatt("Q")]) == [
        f"https://sqs.cn-north-1.amazonaws.com.cn/{ACCOUNT}/s-Q",
        f"arn:aws-cn:sqs:cn-north-1:{ACCOUNT}:s-Q",
    ]


# --- physical names --------------------------------------------------------------------------------------


def test_an_explicit_name_is_resolved_and_used() -> None:
    assembly = one({"Role": res("AWS::IAM::Role", RoleName={"Fn::Sub": "${AWS::StackName}-${AWS::Region}-app"})})
    assert assembly.physical_name("s", "Role") == f"s-{REGION}-app"
    assert assembly.arn("s", "Role") == f"arn:aws:iam::{ACCOUNT}:role/s-{REGION}-app"


def test_an_unresolvable_or_self_referring_name_falls_back_to_the_generated_one() -> None:
    assembly = one(
        {
            "Topic": res("AWS::SNS::Topic", TopicName={"Ref": "NoDefault"}),
            "Loop": res("AWS::SQS::Queue", QueueName={"Fn::GetAtt": ["Loop", "QueueName"]}),
        },
        Parameters={"NoDefault": {"Type": "String"}},
    )
    assert assembly.physical_name("s", "Topic") == "s-Topic"
    assert assembly.physical_name("s", "Loop") == "s-Loop"


def test_generated_bucket_names_are_lower_case() -> None:
    assert one({"LogsBucket9F2A": res("AWS::S3::Bucket")}).physical_name("s", "LogsBucket9F2A") == "s-logsbucket9f2a"


def test_asking_for_an_unknown_stack_or_resource_raises() -> None:
    assembly = one({"R": res("AWS::KMS::Key")})
    with pytest.raises(AssemblyError, match="no resource 'Nope'"):
        assembly.arn("s", "Nope")
    with pytest.raises(AssemblyError, match=r"no stack named 'other' .*stacks: s"):
        assembly.resolve("other", "x")


def test_stack_names_must_be_unique() -> None:
    with pytest.raises(AssemblyError, match="two stacks are named 's'"):
        Assembly.from_templates([stack("s"), stack("s")])


# --- intrinsic functions ----------------------------------------------------------------------------------


def test_join_of_refs_getatts_and_numbers() -> None:
    value = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "B"}, "/", 7, "/*"]]}
    assert one({"B": res("AWS::S3::Bucket", BucketName="b")}).resolve("s", value) == "arn:aws:s3:::b/7/*"


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        ("arn:${AWS::Partition}:iam::${AWS::AccountId}:root", ROOT),
        ("${K.Arn}/x", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-K/x"),
        ("${K}", "s-K"),
        ("${!Literal} ${AWS::Region}", f"${{Literal}} {REGION}"),
        (["${Name}-${K}", {"Name": {"Fn::Join": ["-", ["a", "b"]]}}], "a-b-s-K"),
    ],
)
def test_sub(sub: Any, expected: str) -> None:
    assert one({"K": res("AWS::KMS::Key")}).resolve("s", {"Fn::Sub": sub}) == expected


def test_select_of_split_as_cdk_writes_it() -> None:
    arn = getatt("K")
    key_id = {"Fn::Select": [1, {"Fn::Split": ["/", arn]}]}
    region = {"Fn::Select": ["3", {"Fn::Split": [":", arn]}]}
    assert one({"K": res("AWS::KMS::Key")}).resolve("s", [key_id, region]) == ["s-K", REGION]


def test_find_in_map_with_and_without_default() -> None:
    mappings = {"Regions": {REGION: {"Ami": "ami-1"}}}
    assembly = one(Mappings=mappings)
    assert assembly.resolve("s", {"Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "Ami"]}) == "ami-1"
    assert assembly.resolve("s", {"Fn::FindInMap": ["Regions", "us-east-1", "Ami", {"DefaultValue": "d"}]}) == "d"
    assert assembly.resolve("s", {"Fn::FindInMap": ["Regions", "us-east-1", "Ami"]}).startswith(UNRESOLVED)


def test_base64() -> None:
    assert one().resolve("s", {"Fn::Base64": {"Ref": "AWS::Region"}}) == base64.b64encode(REGION.encode()).decode()


CONDITIONS = {
    "InEurope": {"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]}, "eu"]},
    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
    "Both": {"Fn::And": [{"Condition": "InEurope"}, {"Condition": "NotProd"}]},
    "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "InEurope"}]},
    "Unknowable": {"Fn::Equals": [{"Ref": "NoDefault"}, "x"]},
    "Cycle": {"Fn::Not": [{"Condition": "Cycle"}]},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("InEurope", "yes"), ("IsProd", "no"), ("NotProd", "yes"), ("Both", "yes"), ("Either", "yes")],
)
def test_if_evaluates_simple_conditions(condition: str, expected: str) -> None:
    assembly = one(
        Conditions=CONDITIONS,
        Parameters={"Env": {"Type": "String", "Default": "dev"}, "NoDefault": {"Type": "String"}},
    )
    assert assembly.resolve("s", {"Fn::If": [condition, "yes", "no"]}) == expected


@pytest.mark.parametrize("condition", ["Unknowable", "Cycle", "Undeclared"])
def test_if_on_an_undecidable_condition_is_a_marker(condition: str) -> None:
    assembly = one(Conditions=CONDITIONS, Parameters={"NoDefault": {"Type": "String"}})
    assert assembly.resolve("s", {"Fn::If": [condition, "yes", "no"]}) == f"<unresolved:s/Fn::If {condition}>"


def test_if_may_drop_an_element() -> None:
    assembly = one(Conditions={"Never": {"Fn::Equals": ["a", "b"]}})
    assert assembly.resolve("s", ["a", {"Fn::If": ["Never", "b", {"Ref": "AWS::NoValue"}]}]) == ["a"]


def test_parameters_resolve_to_their_default() -> None:
    parameters = {
        "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/x/version"},
        "Size": {"Type": "Number", "Default": 3},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "Free": {"Type": "String"},
    }
    refs = [{"Ref": name} for name in parameters]
    assert one(Parameters=parameters).resolve("s", refs) == [
        # An SSM parameter type's Default is the parameter's name, not its value (read at deploy time): unresolved
        # unless a stack of the assembly writes that parameter (below).
        "<unresolved:s/BootstrapVersion>",
        "3",
        ["a", "b"],
        "<unresolved:s/Free>",
    ]


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::Join": "x"},
        {"Fn::Join": ["-", "not a list"]},
        {"Fn::Sub": ["${A}"]},
        {"Fn::Sub": 3},
        {"Fn::Select": [9, ["a"]]},
        {"Fn::Select": ["x", ["a"]]},
        {"Fn::Split": [",", ["a"]]},
        {"Fn::GetAtt": ["A", "B", "C"]},
        {"Fn::GetAtt": 3},
        {"Fn::If": ["c"]},
        {"Fn::Base64": ["a"]},
        {"Fn::FindInMap": "m"},
        {"Ref": ["A"]},
        {"Fn::GetAZs": ""},
        {"Fn::ImportValue": {"Ref": "AWS::NoValue"}},
    ],
)
def test_malformed_intrinsics_become_markers_never_errors(value: Any) -> None:
    assert one().resolve("s", value).startswith(UNRESOLVED)


def test_plain_values_pass_through_unchanged() -> None:
    value = {"A": [1, True, None, "x"], "B": {"Ref": "AWS::Region", "Other": 1}}
    assert one().resolve("s", value) == {"A": [1, True, None, "x"], "B": {"Ref": "AWS::Region", "Other": 1}}


# --- across stacks ----------------------------------------------------------------------------------------


def test_import_value_resolves_the_export_in_its_own_stack() -> None:
    producer = stack(
        "producer",
        {"Key": res("AWS::KMS::Key")},
        account=OTHER_ACCOUNT,
        region="eu-central-1",
        Outputs={"KeyArn": {"Value": getatt("Key"), "Export": {"Name": {"Fn::Sub": "${AWS::StackName}:KeyArn"}}}},
    )
    assembly = Assembly.from_templates([producer, stack("consumer")])
    assert assembly.resolve("consumer", {"Fn::ImportValue": "producer:KeyArn"}) == (
        f"arn:aws:kms:eu-central-1:{OTHER_ACCOUNT}:key/producer-Key"
    )
    assert assembly.resolve("consumer", {"Fn::ImportValue": "nope"}) == "<unresolved:consumer/Fn::ImportValue nope>"


def test_cdk_cross_region_reference_reads_the_writer_of_the_other_stack() -> None:
    parameter = "/cdk/exports/consumer/producereucentral1FnGetAttKeyArnABCD"
    writer = res(
        "Custom::CrossRegionExportWriter",
        ServiceToken="x",
        WriterProps={"region": REGION, "exports": {parameter: getatt("Key")}},
    )
    producer = stack("producer", {"Key": res("AWS::KMS::Key"), "Writer": writer}, region="eu-central-1")
    reader = res("Custom::CrossRegionExportReader", ReaderProps={"imports": {parameter: "{{resolve:ssm:x}}"}})
    consumer = stack("consumer", {"ExportsReader8B249524": reader})
    assembly = Assembly.from_templates([producer, consumer])
    assert assembly.resolve("consumer", getatt("ExportsReader8B249524", parameter)) == (
        f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/producer-Key"
    )
    missing = "/cdk/exports/consumer/other"
    assert assembly.resolve("consumer", getatt("ExportsReader8B249524", missing)) == (
        f"<unresolved:consumer/ExportsReader8B249524.{missing}>"
    )


def _ssm_writer(name: str = "/kmsflow/keys/data/arn", *, region: str = "eu-central-1") -> StackTemplate:
    parameter = res("AWS::SSM::Parameter", Name=name, Type="String", Value=getatt("Key"))
    return stack("producer", {"Key": res("AWS::KMS::Key"), "KeyArnParameter": parameter}, region=region)


def test_an_ssm_parameter_type_reads_the_parameter_a_stack_of_the_same_place_writes() -> None:
    """kmsflow's keys across pipeline stages (stage_reference): CloudFormation resolves the parameter type at deploy
    time to the value the producer wrote."""
    declared = {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/kmsflow/keys/data/arn"}
    consumer = stack("consumer", region="eu-central-1", Parameters={"KeyArn": declared})
    assembly = Assembly.from_templates([_ssm_writer(), consumer])
    assert assembly.resolve("consumer", {"Ref": "KeyArn"}) == f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/producer-Key"
    # Another region's parameter of that name is not this place's; an unknown one stays unresolved (not its name).
    elsewhere = Assembly.from_templates([_ssm_writer(region=REGION), consumer])
    assert elsewhere.resolve("consumer", {"Ref": "KeyArn"}) == "<unresolved:consumer/KeyArn>"


def test_an_sdk_call_reading_ssm_in_another_region_reads_the_parameter_written_there() -> None:
    call = {
        "service": "SSM",
        "action": "getParameter",
        "parameters": {"Name": "/kmsflow/keys/data/arn"},
        "region": "eu-central-1",
        "physicalResourceId": {"id": "eu-central-1:/kmsflow/keys/data/arn"},
    }
    reader = res("Custom::AWS", ServiceToken="x", Create=json.dumps(call))
    other = res("Custom::AWS", ServiceToken="x", Create=json.dumps({**call, "action": "describeParameters"}))
    consumer = stack("consumer", {"Reader": reader, "Other": other})  # in REGION, reading eu-central-1
    assembly = Assembly.from_templates([_ssm_writer(), consumer])
    assert assembly.resolve("consumer", getatt("Reader", "Parameter.Value")) == (
        f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/producer-Key"
    )
    assert (
        assembly.resolve("consumer", getatt("Reader", "Parameter.Name"))
        == "<unresolved:consumer/Reader.Parameter.Name>"
    )
    assert (
        assembly.resolve("consumer", getatt("Other", "Parameter.Value"))
        == "<unresolved:consumer/Other.Parameter.Value>"
    )


# --- identity policies ------------------------------------------------------------------------------------

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"


def identity_assembly() -> Assembly:
    """Role ``app`` with one policy attached in each way, plus decoys in the same and another account."""
    role = res(
        "AWS::IAM::Role",
        RoleName="app",
        AssumeRolePolicyDocument=doc(),
        Policies=[{"PolicyName": "inline", "PolicyDocument": doc(allow("s3:GetObject", getatt("Bucket")))}],
        ManagedPolicyArns=[
            {"Ref": "ListedManaged"},
            {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"},
        ],
    )
    resources = {
        "Role": role,
        "Bucket": res("AWS::S3::Bucket"),
        "Key": res("AWS::KMS::Key"),
        "Attached": res(
            "AWS::IAM::Policy", PolicyDocument=doc(allow("kms:Decrypt", getatt("Key"))), Roles=[{"Ref": "Role"}]
        ),
        "AttachingManaged": res("AWS::IAM::ManagedPolicy", PolicyDocument=doc(allow("sqs:*")), Roles=["app"]),
        "ListedManaged": res("AWS::IAM::ManagedPolicy", PolicyDocument=doc(allow("sns:Publish"))),
        "Elsewhere": res("AWS::IAM::Policy", PolicyDocument=doc(allow("*")), Roles=["other"]),
    }
    other_account = stack(
        "other",
        {"SameName": res("AWS::IAM::Policy", PolicyDocument=doc(allow("*")), Roles=["app"])},
        account=OTHER_ACCOUNT,
    )
    return Assembly.from_templates([stack("s", resources), other_account])


def test_identity_policies_attached_every_way_are_found_and_resolved() -> None:
    policies = identity_assembly().identity_policies(ROLE_ARN)
    assert [policy.source for policy in policies] == [
        "s/Role Policies[0]",
        "s/ListedManaged PolicyDocument",
        "s/Attached PolicyDocument",
        "s/AttachingManaged PolicyDocument",
    ]
    assert policies[0].document["Statement"][0]["Resource"] == "arn:aws:s3:::s-bucket"
    assert policies[2].document["Statement"][0]["Resource"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-Key"


def test_an_assumed_role_session_has_its_roles_policies() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/session-1"
    assert len(identity_assembly().identity_policies(session)) == 4


def test_aws_managed_policies_are_recorded_as_unknown() -> None:
    assert identity_assembly().unknowns == [
        "s/Role ManagedPolicyArns: arn:aws:iam::aws:policy/ReadOnlyAccess is an AWS managed policy; "
        "it cannot be read offline and is ignored"
    ]


def test_unknowns_also_name_external_customer_policies_and_agnostic_stacks() -> None:
    external = f"arn:aws:iam::{ACCOUNT}:policy/external"
    agnostic = stack(
        "agnostic",
        {"User": res("AWS::IAM::User", ManagedPolicyArns=[external])},
        account="unknown-account",
        region="unknown-region",
    )
    assert Assembly.from_templates([agnostic]).unknowns == [
        "stack agnostic is environment-agnostic (unknown-account/unknown-region): its ARNs carry these words "
        "instead of a real account and region",
        f"agnostic/User ManagedPolicyArns: {external} is not in the assembly; it cannot be read offline and is ignored",
    ]


def test_a_user_gets_its_own_and_its_groups_policies() -> None:
    resources = {
        "Alice": res("AWS::IAM::User", UserName="alice", Groups=[{"Ref": "Readers"}]),
        "Readers": res("AWS::IAM::Group", GroupName="readers"),
        "Writers": res("AWS::IAM::Group", GroupName="writers", Policies=[{"PolicyDocument": doc(allow("s3:Put*"))}]),
        "AddToWriters": res("AWS::IAM::UserToGroupAddition", GroupName={"Ref": "Writers"}, Users=["alice"]),
        "ForUser": res("AWS::IAM::Policy", PolicyDocument=doc(allow("kms:Encrypt")), Users=[{"Ref": "Alice"}]),
        "ForReaders": res("AWS::IAM::Policy", PolicyDocument=doc(allow("s3:Get*")), Groups=[{"Ref": "Readers"}]),
    }
    policies = one(resources).identity_policies(f"arn:aws:iam::{ACCOUNT}:user/alice")
    assert sorted(policy.source for policy in policies) == [
        "s/ForReaders PolicyDocument",
        "s/ForUser PolicyDocument",
        "s/Writers Policies[0]",
    ]


def test_no_identity_policies_for_a_service_or_unknown_principal() -> None:
    assembly = identity_assembly()
    assert assembly.identity_policies("cloudtrail.amazonaws.com") == []
    assert assembly.identity_policies(f"arn:aws:iam::{ACCOUNT}:role/nobody") == []


# --- resource policies ------------------------------------------------------------------------------------


def resource_assembly() -> Assembly:
    key_policy = doc(
        {**allow("kms:*"), "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}}
    )
    resources = {
        "Key": res("AWS::KMS::Key", KeyPolicy=key_policy),
        "Alias": res("AWS::KMS::Alias", AliasName="alias/app", TargetKeyId={"Ref": "Key"}),
        "BareKey": res("AWS::KMS::Key"),
        "Bucket": res("AWS::S3::Bucket", BucketName="data"),
        "BucketPolicy": res("AWS::S3::BucketPolicy", Bucket={"Ref": "Bucket"}, PolicyDocument=doc(allow("s3:*"))),
        "Topic": res("AWS::SNS::Topic"),
        "TopicPolicy": res("AWS::SNS::TopicPolicy", Topics=[{"Ref": "Topic"}], PolicyDocument=doc(allow("sns:*"))),
        "Queue": res("AWS::SQS::Queue"),
        "QueuePolicy": res("AWS::SQS::QueuePolicy", Queues=[{"Ref": "Queue"}], PolicyDocument=doc(allow("sqs:*"))),
        "Role": res("AWS::IAM::Role", RoleName="app", AssumeRolePolicyDocument=doc(allow("sts:AssumeRole"))),
    }
    return one(resources)


def governing(assembly: Assembly, arn: str) -> tuple[str, str, bool] | None:
    found = assembly.resource_policy(arn)
    return (found[0].source, found[1], found[2]) if found else None


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-Key", ("s/Key KeyPolicy", ACCOUNT, True)),
        (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app", ("s/Key KeyPolicy", ACCOUNT, True)),
        (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-BareKey", ("s/BareKey KeyPolicy (KMS default)", ACCOUNT, True)),
        ("arn:aws:s3:::data", ("s/BucketPolicy PolicyDocument", ACCOUNT, False)),
        ("arn:aws:s3:::data/reports/2024.csv", ("s/BucketPolicy PolicyDocument", ACCOUNT, False)),
        ("arn:aws:s3:::data-other/x", None),
        ("arn:aws:s3:::other", None),
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:s-Topic", ("s/TopicPolicy PolicyDocument", ACCOUNT, False)),
        (f"arn:aws:sqs:{REGION}:{ACCOUNT}:s-Queue", ("s/QueuePolicy PolicyDocument", ACCOUNT, False)),
        (f"arn:aws:iam::{ACCOUNT}:role/app", ("s/Role AssumeRolePolicyDocument", ACCOUNT, False)),
        (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/unknown", None),
        (f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/s-Key", None),
    ],
)
def test_the_policy_that_governs_a_resource(arn: str, expected: tuple[str, str, bool] | None) -> None:
    assert governing(resource_assembly(), arn) == expected


def test_a_key_policy_is_resolved() -> None:
    found = resource_assembly().resource_policy(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-Key")
    assert found is not None
    assert found[0].document["Statement"][0]["Principal"] == {"AWS": ROOT}


def test_an_alias_points_at_its_key_by_id_or_arn() -> None:
    assembly = one(
        {
            "Key": res("AWS::KMS::Key"),
            "ById": res("AWS::KMS::Alias", AliasName="alias/by-id", TargetKeyId=getatt("Key", "KeyId")),
            "ByArn": res("AWS::KMS::Alias", AliasName="alias/by-arn", TargetKeyId=getatt("Key")),
        }
    )
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-Key"
    assert assembly.alias_target(f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/by-id") == key
    assert assembly.alias_target(f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/by-arn") == key
    assert assembly.alias_target(key) is None


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        ("arn:aws:s3:::data/x", ACCOUNT),  # from the bucket's stack: S3 ARNs carry no account
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:s-Topic", ACCOUNT),
        (f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/elsewhere", OTHER_ACCOUNT),
        ("arn:aws:s3:::not-ours/x", None),
    ],
)
def test_account_of_a_resource(arn: str, account: str | None) -> None:
    assert resource_assembly().account_of(arn) == account


def test_resources_lists_every_resource_or_one_type_with_arns() -> None:
    assembly = resource_assembly()
    assert len(list(assembly.resources())) == 10
    keys = [(r.stack, r.logical_id, r.arn) for r in assembly.resources("AWS::KMS::Key")]
    assert keys == [
        ("s", "Key", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-Key"),
        ("s", "BareKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-BareKey"),
    ]


# --- reading a cdk.out directory -------------------------------------------------------------------------


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def stack_artifact(template_file: str, environment: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": environment,
        "properties": {"templateFile": template_file, **properties},
    }


def test_from_directory_reads_stacks_and_nested_assemblies(tmp_path: Path) -> None:
    keys_template = {
        "Resources": {"Key": res("AWS::KMS::Key")},
        "Outputs": {"KeyArn": {"Value": getatt("Key"), "Export": {"Name": "keys:KeyArn"}}},
    }
    app_template = {
        "Resources": {
            "Policy": res(
                "AWS::IAM::Policy",
                Roles=["app"],
                PolicyDocument=doc(allow("kms:Decrypt", {"Fn::ImportValue": "keys:KeyArn"})),
            )
        }
    }
    write_json(
        tmp_path / "manifest.json",
        {
            "version": "55.0.0",
            "artifacts": {
                "keys.assets": {"type": "cdk:asset-manifest", "properties": {"file": "keys.assets.json"}},
                "KeysArtifact": stack_artifact("keys.template.json", f"aws://{ACCOUNT}/eu-central-1", stackName="keys"),
                "assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod"}},
            },
        },
    )
    write_json(tmp_path / "keys.template.json", keys_template)
    write_json(
        tmp_path / "assembly-Prod" / "manifest.json",
        {"artifacts": {"Prod-app": stack_artifact("Prod-app.template.json", f"aws://{ACCOUNT}/{REGION}")}},
    )
    write_json(tmp_path / "assembly-Prod" / "Prod-app.template.json", app_template)

    assembly = Assembly.from_directory(str(tmp_path))

    assert {name: (s.account, s.region) for name, s in assembly.stacks.items()} == {
        "keys": (ACCOUNT, "eu-central-1"),
        "Prod-app": (ACCOUNT, REGION),
    }
    (policy,) = assembly.identity_policies(f"arn:aws:iam::{ACCOUNT}:role/app")
    assert policy.source == "Prod-app/Policy PolicyDocument"
    assert policy.document["Statement"][0]["Resource"] == f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/keys-Key"


def test_a_missing_manifest_is_an_assembly_error(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=r"manifest\.json: manifest not found") as raised:
        Assembly.from_directory(tmp_path)
    assert str(tmp_path) in str(raised.value)
    assert isinstance(raised.value, KmsflowError)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"manifest.json": "{not json"}, r"manifest\.json: the manifest is not valid JSON"),
        ({"manifest.json": "[]"}, r"manifest\.json: the manifest is not a JSON object"),
        (
            {"manifest.json": json.dumps({"artifacts": {"a": stack_artifact("a.json", "aws://1/r")}})},
            r"a\.json: template not found",
        ),
        (
            {"manifest.json": json.dumps({"artifacts": {"a": stack_artifact("a.json", "1/r")}}), "a.json": "{}"},
            r"stack artifact 'a' has environment '1/r', expected 'aws://<account>/<region>'",
        ),
        (
            {"manifest.json": json.dumps({"artifacts": {"a": {"type": "aws:cloudformation:stack"}}})},
            r"stack artifact 'a' has no properties\.templateFile",
        ),
        (
            {"manifest.json": json.dumps({"artifacts": {"a": stack_artifact("a.json", "aws://1/r")}}), "a.json": "1"},
            r"a\.json: the template is not a JSON object",
        ),
    ],
)
def test_a_malformed_assembly_is_an_assembly_error(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(AssemblyError, match=message):
        Assembly.from_directory(tmp_path)


# --- authorize --------------------------------------------------------------------------------------------

APP_ROLE = Principal.role(ROLE_ARN)
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/s-Key"


def kms_assembly(*, with_iam_policy: bool) -> Assembly:
    """A key whose policy delegates to the account root, role ``app``, and (optionally) its IAM policy."""
    root = {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
    }
    resources: dict[str, Any] = {
        "Key": res("AWS::KMS::Key", KeyPolicy=doc({**allow("kms:*"), "Principal": root})),
        "Alias": res("AWS::KMS::Alias", AliasName="alias/app", TargetKeyId={"Ref": "Key"}),
        "Role": res("AWS::IAM::Role", RoleName="app", AssumeRolePolicyDocument=doc()),
    }
    if with_iam_policy:
        iam = doc(allow("kms:Decrypt", getatt("Key")))
        resources["RolePolicy"] = res("AWS::IAM::Policy", PolicyDocument=iam, Roles=[{"Ref": "Role"}])
    return one(resources)


def test_authorize_allows_through_root_delegation_and_the_iam_policy() -> None:
    decision = authorize(
        kms_assembly(with_iam_policy=True), Request(principal=APP_ROLE, action="kms:Decrypt", resource=KEY_ARN)
    )
    assert decision.outcome is Outcome.ALLOWED
    assert {ref.policy.source for ref in decision.allowing} == {"s/Key KeyPolicy", "s/RolePolicy PolicyDocument"}


def test_authorize_denies_without_the_iam_policy() -> None:
    decision = authorize(
        kms_assembly(with_iam_policy=False), Request(principal=APP_ROLE, action="kms:Decrypt", resource=KEY_ARN)
    )
    assert decision.outcome is Outcome.IMPLICIT_DENY


def test_authorize_through_an_alias_uses_the_key() -> None:
    alias = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app"
    request = Request(principal=APP_ROLE, action="kms:Decrypt", resource=alias)
    assert authorize(kms_assembly(with_iam_policy=True), request).allowed


def test_authorize_adds_extra_identity_policies() -> None:
    extra = Policy(document=doc(allow("kms:Decrypt", KEY_ARN)), source="test extra")
    request = Request(principal=APP_ROLE, action="kms:Decrypt", resource=KEY_ARN)
    assert authorize(kms_assembly(with_iam_policy=False), request, extra_identity_policies=[extra]).allowed


def test_authorize_never_allows_a_key_outside_the_assembly_on_iam_policies_alone() -> None:
    """KMS needs the key policy; a key the assembly does not hold is answered as one whose policy allows nothing."""
    outside = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/not-in-the-assembly"
    everything = Policy(document=doc(allow("*", "*")), source="test admin")
    request = Request(principal=APP_ROLE, action="kms:Decrypt", resource=outside)
    decision = authorize(kms_assembly(with_iam_policy=True), request, extra_identity_policies=[everything])
    assert decision.outcome is Outcome.IMPLICIT_DENY
    # Any other resource outside the assembly is decided by IAM alone, as in AWS.
    queue = Request(principal=APP_ROLE, action="sqs:SendMessage", resource=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")
    assert authorize(kms_assembly(with_iam_policy=True), queue, extra_identity_policies=[everything]).allowed
