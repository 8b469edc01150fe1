"""A kmsflow key used by a stack of a later CDK Pipelines stage, without a reference across Stages.

CDK refuses a reference between stacks of different ``cdk.Stage`` s (``NoCrossStageDependency``): each Stage is
its own cloud assembly, deployed by its own pipeline stage. With ``pipeline.codepipeline``, a replica whose primary,
or a workflow or share target whose keys, are deployed by an earlier stage therefore read the key's ARN at deploy
time instead:

- the producer stack writes the ARN to the SSM parameter :func:`key_arn_parameter` (``/kmsflow/keys/<name>/arn``)
  in its own account and region (:func:`publish_key_arn`);
- the consumer stack reads it: in the same region with a CloudFormation SSM parameter type
  (``AWS::SSM::Parameter::Value<String>``, resolved by CloudFormation at every deploy); in another region with an
  SDK-call custom resource (``ssm:GetParameter`` on that one parameter, as CDK's own cross-region reference reader
  does), read when it is created or its properties change: a kmsflow key's ARN never changes while the key exists
  (keys are retained, never replaced in place).

:class:`StageKeyReference` is the producer's key as the consumer sees it, for grants: its ARN is the consumer's
read, everything else (settings, region, key policy) is the producer key's. It lives beside the producer key, so
that grants by :mod:`kmsflow.constructs.keys.role_grants` still add their key-policy statements to the producer's
policy (the producer deploys them in its earlier stage; they name the consumer's role by its fixed ARN, which needs
nothing to exist) and its role statements to the consumer's roles, on the ARN read there. The stage order check
(``pipeline.stages``) guarantees the producer deploys in an earlier stage, so the parameter exists when read.

SSM parameters are per account: producer and consumer must share one, as every kmsflow key reference does
(a replica, a workflow's keys and a share target's keys are all of the consumer's own account).
"""

from __future__ import annotations

import jsii
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from kmsflow.constructs.keys.key import KeyGrants, show_init_signature
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.errors import KeyConfigurationError

#: The SSM parameter holding the ARN of the kmsflow key of that name in the parameter's account and region.
KEY_ARN_PARAMETER = "/kmsflow/keys/{name}/arn"

#: Why the reader of another region's parameter (CDK's AwsCustomResource: a singleton Lambda function with
#: CDK's own handler and role) is acknowledged: its function and role are made by aws-cdk-lib, not configurable
#: beyond what is set here.
READER_REASONS = {
    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaBasicExecutionRole]": "CDK's AwsCustomResource function role uses the AWS managed policy "
    "AWSLambdaBasicExecutionRole (its own CloudWatch Logs only); aws-cdk-lib creates this role and offers no "
    "way to replace the managed policy.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "CDK's AwsCustomResource grants its one SDK call "
    "(ssm:GetParameter on one parameter ARN) as an inline policy of its function role; aws-cdk-lib builds it.",
    "NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency": "CDK's AwsCustomResource function runs only when "
    "CloudFormation creates or updates the reader (a few times per deployment); aws-cdk-lib makes the function "
    "and exposes no reserved concurrency setting.",
    "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ": "CDK's AwsCustomResource function is invoked synchronously by "
    "CloudFormation, which reports a failure as a failed deployment; there is no asynchronous event to dead-letter.",
    "NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC": "CDK's AwsCustomResource function calls only the public "
    "SSM API of another region; it reads no data store that a VPC would protect, and aws-cdk-lib makes it.",
}


#: The construct id of AwsCustomResource's singleton function in its stack ("AWS" + its fixed uuid).
READER_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"


def key_arn_parameter(name: str) -> str:
    """The parameter name of key ``name``'s ARN (one per account and region: a multi-region key's primary and each
    replica write theirs in their own region)."""
    return KEY_ARN_PARAMETER.format(name=name)


def _construct(key: KeyGrants) -> Construct:
    assert isinstance(key, Construct), "every kmsflow key is a construct"
    return key


def publish_key_arn(key: KeyGrants) -> ssm.StringParameter:
    """The producer side, once per key: ``key``'s ARN in the parameter :func:`key_arn_parameter` of its stack."""
    scope = _construct(key)
    existing = scope.node.try_find_child("ArnParameter")
    if isinstance(existing, ssm.StringParameter):
        return existing
    name = scope.node.id
    return ssm.StringParameter(
        scope,
        "ArnParameter",
        parameter_name=key_arn_parameter(name),
        string_value=key.key_arn,
        description=f"kmsflow: ARN of key {name!r}, read by stacks of later pipeline stages",
    )


def read_key_arn(consumer: Stack, *, name: str, account: str, region: str) -> str:
    """The consumer side: the ARN in parameter :func:`key_arn_parameter` of ``account`` and ``region``, read when
    ``consumer`` deploys (a token of ``consumer``)."""
    parameter = key_arn_parameter(name)
    if account != consumer.account:
        raise KeyConfigurationError(
            f"{consumer.stack_name}: key {name!r} of account {account} is deployed by an earlier pipeline stage and "
            f"SSM parameters cannot be read across accounts; deploy both stacks in one stage"
        )
    if region == consumer.region:
        return ssm.StringParameter.value_for_string_parameter(consumer, parameter)
    reader_id = f"KeyArn-{name}-{region}"
    reader = consumer.node.try_find_child(reader_id)
    if not isinstance(reader, cr.AwsCustomResource):
        call = cr.AwsSdkCall(
            service="SSM",
            action="getParameter",
            parameters={"Name": parameter},
            region=region,
            physical_resource_id=cr.PhysicalResourceId.of(f"{region}:{parameter}"),
        )
        arn = f"arn:{consumer.partition}:ssm:{region}:{account}:parameter{parameter}"
        reader = cr.AwsCustomResource(
            consumer,
            reader_id,
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[arn])]
            ),
            # The SDK in the Lambda runtime has GetParameter: no download from npm at deploy time.
            install_latest_aws_sdk=False,
        )
        acknowledge(reader, READER_REASONS)  # its inline policy
        # The singleton function and its role are a child of the stack, shared by every reader of the stack.
        acknowledge(consumer.node.find_child(READER_FUNCTION_ID), READER_REASONS)
    return reader.get_response_field("Parameter.Value")


@show_init_signature
@jsii.implements(kms.IKey)
class StageKeyReference(KeyGrants, Construct):
    """``key`` (a kmsflow key of a stack of an earlier pipeline stage) as ``consumer`` (a stack of a later stage)
    uses it: ``key_arn`` is ``consumer``'s deploy-time read of the key's parameter; settings, partition and key
    policy are ``key``'s, so grants land in ``key``'s policy and in ``consumer``'s roles (see the module docstring).

    Made through :func:`stage_reference` (one per key and consumer), beside ``key`` in ``key``'s stack."""

    def __init__(self, scope: Construct, id: str, *, key: KeyGrants, consumer: Stack) -> None:
        super().__init__(scope, id)
        producer = key.stack
        if Stack.of(self) is not producer:
            raise KeyConfigurationError(f"{self.node.path}: a stage reference lives in its key's stack")
        publish_key_arn(key)
        self.settings = key.settings
        self.partition = key.partition
        self.policy_document = key.policy_document
        self.delegates_to_iam = key.delegates_to_iam
        self.consumer = consumer
        arn = read_key_arn(consumer, name=_construct(key).node.id, account=producer.account, region=producer.region)
        self.key: kms.IKey = kms.Key.from_key_arn(self, "Key", arn)

    def add_alias(self, alias_name: str) -> kms.Alias:
        raise KeyConfigurationError(f"{self.node.path}: add the alias {alias_name!r} to the key in its own stack")


def stage_reference(key: KeyGrants, *, consumer: Stack) -> StageKeyReference:
    """The :class:`StageKeyReference` of ``key`` for ``consumer`` (made on first use)."""
    scope = _construct(key)
    id = f"ReadBy-{consumer.node.id}"
    existing = scope.node.try_find_child(id)
    if isinstance(existing, StageKeyReference):
        return existing
    return StageKeyReference(scope, id, key=key, consumer=consumer)
