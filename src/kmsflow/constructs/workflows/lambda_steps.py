"""What every kmsflow workflow builds the same way: one role, one encrypted log group and one Lambda function per
handler, Lambda tasks with the same retries, the logged and traced Standard state machine, and the source keys'
statements of a step that copies snapshots.

The snapshot-copy (:mod:`.snapshot_copy`) and snapshot-share (:mod:`.snapshot_share`) machines differ in their
steps and their definitions, not in these: a fix here reaches both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.lambdas.errors import THROTTLING_ERRORS as THROTTLING_ERROR_CLASSES
from kmsflow.lambdas.errors import CopyQuotaExceeded
from kmsflow.policy.roles import via_service_values
from kmsflow.stacks.naming import MAX_ROLE_NAME, checked_role_name

#: The folder that holds the ``kmsflow`` package; the Lambda asset takes only kmsflow/__init__.py and
#: kmsflow/lambdas/ from it, so the dotted handler path in the template is the one the tests import.
SOURCE_ROOT = Path(__file__).resolve().parents[3]
ASSET_EXCLUDE = ["*", "!kmsflow", "!kmsflow/__init__.py", "!kmsflow/lambdas", "!kmsflow/lambdas/**", "**/__pycache__"]

#: The errorTypes Retry matches are the handlers' own exception class names (kmsflow.lambdas.errors).
THROTTLING_ERRORS = list(THROTTLING_ERROR_CLASSES)
QUOTA_ERRORS = [CopyQuotaExceeded.__name__]
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]

#: The services that copy snapshots with the caller's KMS permissions (short names of policy.roles.VIA_SERVICES).
COPY_SERVICES = ("rds", "ebs")

#: Actions on the *source* snapshot's key that the copy's caller needs: RDS and EC2 decrypt the source and
#: re-encrypt it through grants they create for the caller (kms:ViaService, kms:GrantIsForAWSResource). The
#: destination key's permissions come from that key's grant helpers.
SOURCE_KEY_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom", "kms:DescribeKey")

__all__ = [
    "ASSET_EXCLUDE",
    "COPY_SERVICES",
    "FUNCTION_REASONS",
    "LAMBDA_SERVICE_ERRORS",
    "MAX_ROLE_NAME",
    "QUOTA_ERRORS",
    "SOURCE_KEY_ACTIONS",
    "SOURCE_ROOT",
    "STATE_MACHINE_ROLE_REASONS",
    "THROTTLING_ERRORS",
    "Step",
    "grant_source_keys",
    "lambda_task",
    "logged_state_machine",
    "retry_quota",
    "state_name",
    "step_function",
    "step_role",
    "step_role_name",
]

#: cdk-nag findings accepted on the state machine's role (made by aws-cdk for its Lambda tasks).
STATE_MACHINE_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "aws-cdk grants lambda:InvokeFunction on each task's function ARN and "
    "its versions and aliases (<function arn>:*); the X-Ray and log-delivery actions of a state machine support "
    "no resource-level permissions.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "aws-cdk's state machine role keeps its policy inline; it "
    "only invokes this workflow's functions and writes its traces and logs.",
}
#: cdk-nag findings accepted on each handler function.
FUNCTION_REASONS = {
    "NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ": "The functions are invoked synchronously by the state machine, "
    "which retries and catches their errors (on_failure, then a Fail state and a notice); a dead-letter queue "
    "applies only to asynchronous invocations.",
    "NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC": "The handlers call only regional AWS APIs (RDS, EC2, KMS, "
    "STS) and reach no private resource; a VPC would add NAT or interface endpoints without narrowing access, "
    "which IAM and the key policies already bound.",
}


@dataclass(frozen=True)
class Step:
    """One task of a machine: its handler, what it is for (the function's description), and the snapshot
    calls it makes, as (verb of :data:`~kmsflow.constructs.workflows.snapshot_access.FAMILY_VERBS`, side whose
    regions it makes them in)."""

    handler: str
    description: str
    calls: tuple[tuple[str, str], ...] = ()


def step_role_name(machine: str, handler: str) -> str:
    """The role name of ``handler``'s function in the state machine named ``machine``: e.g.
    ``kmsflow-snapshot-copy-eu-west-1-start-copy`` (at most 64 characters, IAM's limit)."""
    return checked_role_name(f"{machine}-{handler.replace('_', '-')}", field="region")


def step_role(scope: Construct, step: Step, *, role_name: str, workflow: str) -> iam.Role:
    """``step``'s role (construct id ``<handler>-role``), assumed by Lambda, with a fixed name: key policies of
    other stacks and other accounts' trust policies name it (``aws:PrincipalArn``) without a cross-stack
    reference, and CloudTrail shows operators which step made a call."""
    return iam.Role(
        scope,
        f"{step.handler}-role",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"kmsflow {workflow}, {step.handler}: {step.description}",
    )


def step_function(
    scope: Construct,
    step: Step,
    *,
    role: iam.Role,
    code: lambda_.Code,
    handlers: str,
    workflow: str,
    log_key: kms.IKey,
    log_retention: logs.RetentionDays,
    environment: Mapping[str, str],
) -> lambda_.Function:
    """``step``'s function (construct id = the handler name) running ``<handlers>.<handler>`` as ``role``, with its
    own encrypted log group (``<handler>-logs``) that only ``role`` writes to."""
    group = logs.LogGroup(
        scope,
        f"{step.handler}-logs",
        encryption_key=log_key,
        retention=log_retention,
        removal_policy=RemovalPolicy.RETAIN,
    )
    group.grant_write(role)
    return lambda_.Function(
        scope,
        step.handler,
        runtime=lambda_.Runtime.PYTHON_3_14,
        code=code,
        handler=f"{handlers}.{step.handler}",
        role=role,
        description=f"kmsflow {workflow}: {step.description}",
        timeout=Duration.minutes(1),
        memory_size=256,
        reserved_concurrent_executions=20,
        log_group=group,
        tracing=lambda_.Tracing.ACTIVE,
        environment=dict(environment),
    )


def lambda_code() -> lambda_.Code:
    """The one asset every workflow function runs: the ``kmsflow`` package's runtime part."""
    return lambda_.Code.from_asset(str(SOURCE_ROOT), exclude=ASSET_EXCLUDE)


def grant_source_keys(role: iam.Role, *, regions: Sequence[str], account: str | None = None) -> list[str]:
    """Let ``role`` (a step that copies snapshots) use the keys of ``account`` (default: the role's own) in
    ``regions`` only through RDS and EC2 and create grants only for AWS resources: what the copy of a snapshot
    encrypted under any of them needs of its caller (each key's own policy, or a grant, still decides). Return the
    wildcard findings to acknowledge."""
    stack = Stack.of(role)
    owner = account or stack.account
    keys = [f"arn:{stack.partition}:kms:{region}:{owner}:key/*" for region in regions]
    via = [v for r in regions for v in via_service_values(list(COPY_SERVICES), region=r, partition=stack.partition)]
    role.add_to_policy(
        iam.PolicyStatement(
            sid="SourceKeysThroughRdsAndEbs",
            actions=list(SOURCE_KEY_ACTIONS),
            resources=keys,
            conditions={"StringEquals": {"kms:ViaService": via}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="SourceKeyGrantsForAwsResources",
            actions=["kms:CreateGrant"],
            resources=keys,
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}, "StringEquals": {"kms:ViaService": via}},
        )
    )
    return [f"Resource::{k}" for k in keys]


def validate_payload() -> sfn.TaskInput:
    """What every machine's first task (``validate``) receives: the execution input and ``$$.Execution``, whose id
    the handlers keep for lineage tags."""
    return sfn.TaskInput.from_object(
        {"input": sfn.JsonPath.entire_payload, "execution": sfn.JsonPath.object_at("$$.Execution")}
    )


def lambda_task(
    scope: Construct,
    handler: str,
    function: lambda_.IFunction,
    *,
    payload: sfn.TaskInput | None = None,
    id: str = "",
    throttling_attempts: int = 8,
) -> tasks.LambdaInvoke:
    """A task (construct id and state name: ``id`` or :func:`state_name` of ``handler``) that invokes ``function``
    with ``payload`` (default: the whole state) and takes its result as the next state; throttling (up to
    ``throttling_attempts`` attempts) and Lambda's own transient errors are retried with back-off and full
    jitter."""
    task = tasks.LambdaInvoke(
        scope,
        id or state_name(handler),
        lambda_function=function,
        payload=payload,
        payload_response_only=True,
        retry_on_service_exceptions=False,
    )
    task.add_retry(
        errors=THROTTLING_ERRORS,
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=throttling_attempts,
        max_delay=Duration.minutes(2),
        jitter_strategy=sfn.JitterType.FULL,
    )
    task.add_retry(
        errors=LAMBDA_SERVICE_ERRORS,
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=6,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def retry_quota(task: tasks.LambdaInvoke) -> None:
    """Copy quotas (20 RDS/EBS, 5 Aurora concurrent copies per destination region) clear as other copies
    finish: wait minutes, not seconds, for up to about two hours."""
    task.add_retry(
        errors=QUOTA_ERRORS,
        interval=Duration.minutes(2),
        backoff_rate=1.5,
        max_attempts=12,
        max_delay=Duration.minutes(15),
        jitter_strategy=sfn.JitterType.FULL,
    )


def logged_state_machine(
    scope: Construct,
    *,
    definition: Callable[[], sfn.IChainable],
    name: str | None,
    log_key: kms.IKey,
    timeout_hours: int,
    log_retention: logs.RetentionDays,
    functions: Sequence[lambda_.Function],
) -> tuple[logs.LogGroup, sfn.StateMachine]:
    """The Standard state machine (``StateMachine``) of what ``definition`` builds, traced, with an overall
    timeout, logging every event without execution data to its encrypted log group (``StateMachineLogs``); its
    role's findings (invoking ``functions`` and their versions) acknowledged."""
    stack = Stack.of(scope)
    log_group = logs.LogGroup(
        scope,
        "StateMachineLogs",
        encryption_key=log_key,
        retention=log_retention,
        removal_policy=RemovalPolicy.RETAIN,
    )
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=name,
        definition_body=sfn.DefinitionBody.from_chainable(definition()),
        state_machine_type=sfn.StateMachineType.STANDARD,
        timeout=Duration.hours(timeout_hours),
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    invoked = [
        f"Resource::<{stack.resolve(stack.get_logical_id(fn.node.default_child))}.Arn>:*"  # type: ignore[arg-type]
        for fn in functions
    ]
    acknowledge(machine.role.node.scope or scope, STATE_MACHINE_ROLE_REASONS, findings=["Resource::*", *invoked])
    return log_group, machine


def state_name(handler: str) -> str:
    """``check_destination_key`` -> ``CheckDestinationKey`` (state names are what operators read)."""
    return "".join(part.capitalize() for part in handler.split("_"))
