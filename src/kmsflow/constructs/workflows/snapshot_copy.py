"""``SnapshotCopyWorkflow``: a Step Functions state machine that moves a KMS-encrypted snapshot to another
region, re-encrypted under a key of that region (DESIGN §5).

The definition is JSONPath (moto cannot run JSONata, and the tests execute this very definition). Every task
is a Lambda function of ``kmsflow.lambdas.snapshot_copy.handlers`` that receives the state and returns the
next one. Waiting is a ``Wait`` on ``$.wait.seconds``, which the check handlers set from the snapshot's
reported progress (doubling from 30 s up to 10 min while there is none; ``lambdas/snapshot_copy/backoff.py``),
so a six-hour copy costs about 40 transitions, not a thousand. Throttling and copy-quota errors are retried with
back-off and full jitter; anything else goes to ``on_failure``, which removes a failed copy this execution
made, and then to a ``Fail`` state whose error and cause come from it.
"""

from __future__ import annotations

from collections.abc import Sequence
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

from kmsflow.constructs.keys.key import KeyGrants
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.constructs.workflows.snapshot_access import DESTINATION, SOURCE, statements
from kmsflow.errors import WorkflowDefinitionError
from kmsflow.lambdas.errors import THROTTLING_ERRORS as THROTTLING_ERROR_CLASSES
from kmsflow.lambdas.errors import CopyQuotaExceeded
from kmsflow.policy.roles import via_service_values
from kmsflow.stacks.naming import snapshot_copy_name

#: The folder that holds the ``kmsflow`` package; the Lambda asset takes only kmsflow/__init__.py and
#: kmsflow/lambdas/ from it, so the dotted handler path in the template is the one the tests import.
SOURCE_ROOT = Path(__file__).resolve().parents[3]
ASSET_EXCLUDE = ["*", "!kmsflow", "!kmsflow/__init__.py", "!kmsflow/lambdas", "!kmsflow/lambdas/**", "**/__pycache__"]
HANDLERS = "kmsflow.lambdas.snapshot_copy.handlers"

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
MAX_ROLE_NAME = 64

#: Actions on the *source* snapshot's key that the copy's caller needs: RDS and EC2 decrypt the source and
#: re-encrypt it through grants they create for the caller (kms:ViaService, kms:GrantIsForAWSResource). The
#: destination key's permissions come from that key's grant helpers (:meth:`grant_destination_key`).
SOURCE_KEY_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom", "kms:DescribeKey")


@dataclass(frozen=True)
class _Step:
    """One task of the machine: its handler, what it is for (the function's description), and the snapshot
    calls it makes, as (verb of :data:`~kmsflow.constructs.workflows.snapshot_access.FAMILY_VERBS`, side whose
    regions it makes them in)."""

    handler: str
    description: str
    calls: tuple[tuple[str, str], ...] = ()


STEPS = (
    _Step("validate", "Checks the execution input and derives the job's deterministic id"),
    _Step(
        "prepare_source",
        "Finds the source snapshot, or creates it from the instance, cluster or volume",
        (("describe", SOURCE), ("create", SOURCE)),
    ),
    _Step(
        "check_source",
        "Reports whether the source snapshot is available (with the next wait)",
        (("describe", SOURCE),),
    ),
    _Step("check_destination_key", "Checks the destination key: exists, enabled, symmetric, in its region"),
    _Step(
        "start_copy",
        "Starts (or finds) the cross-region copy under the destination key",
        # The copy is requested in the destination region and reads the source through a presigned request
        # made with the caller's credentials in the source region.
        (("describe", SOURCE), ("describe", DESTINATION), ("copy_from", SOURCE), ("copy_to", DESTINATION)),
    ),
    _Step(
        "check_copy",
        "Reports whether the copy is available (with the next wait)",
        (("describe", DESTINATION),),
    ),
    _Step(
        "finish",
        "Tags lineage, deletes a source snapshot this job made if asked, and shapes the output",
        (("describe", DESTINATION), ("tag", DESTINATION), ("describe", SOURCE), ("delete", SOURCE)),
    ),
    _Step(
        "on_failure",
        "Removes a failed copy this execution made and words the failure's cause",
        (("describe", DESTINATION), ("delete", DESTINATION)),
    ),
)

#: The step whose calls make RDS and EC2 use the keys, and the one that describes the destination key.
COPYING_STEP = "start_copy"
KEY_CHECKING_STEP = "check_destination_key"


#: cdk-nag findings accepted on the handlers' roles, with the reasons a reviewer reads.
HANDLER_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "Snapshot, instance, cluster and volume ids come from each execution's "
    "input, so handlers may read and copy from any snapshot of this account in the regions they work in; they may "
    "create, copy into and tag only RDS/Aurora snapshots named kmsflow-* and EBS snapshots tagged at creation "
    "(ec2:CreateAction), and delete only snapshots that carry kmsflow's job tag (aws:ResourceTag); "
    "DescribeSnapshots supports no resource-level permission and is bounded by aws:RequestedRegion; the copying "
    "handler may use this account's keys of the source regions only through "
    "RDS/EC2 (kms:ViaService) and create grants only for AWS resources, and each key's own policy decides which "
    "keys it may use. X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permission.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "Each handler's role has one inline policy so that it lives "
    "and dies with the function that needs it; its statements are listed and reasoned above.",
}
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


class SnapshotCopyWorkflow(Construct):
    """The state machine (``state_machine``), its functions and their roles (``functions`` and ``roles`` by
    handler name). Each function has a role of its own, with the actions its handler calls and nothing else;
    :meth:`grant_destination_key` adds what the key checks and the copy need of a destination key."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_regions: Sequence[str],
        destination_regions: Sequence[str],
        log_key: kms.IKey,
        timeout_hours: int = 24,
        state_machine_name: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self._regions = {SOURCE: sorted(set(source_regions)), DESTINATION: sorted(set(destination_regions))}
        code = lambda_.Code.from_asset(str(SOURCE_ROOT), exclude=ASSET_EXCLUDE)
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        for step in STEPS:
            # Fixed names: key policies of other stacks name the roles (aws:PrincipalArn) without a cross-stack
            # reference, and CloudTrail shows operators which step made a call.
            role = iam.Role(
                self,
                f"{step.handler}-role",
                role_name=handler_role_name(stack.region, step.handler),
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"kmsflow snapshot copy, {step.handler}: {step.description}",
            )
            findings = self._grant_step_actions(stack, role, step)
            group = logs.LogGroup(
                self,
                f"{step.handler}-logs",
                encryption_key=log_key,
                retention=log_retention,
                removal_policy=RemovalPolicy.RETAIN,
            )
            group.grant_write(role)
            self.functions[step.handler] = lambda_.Function(
                self,
                step.handler,
                runtime=lambda_.Runtime.PYTHON_3_14,
                code=code,
                handler=f"{HANDLERS}.{step.handler}",
                role=role,
                description=f"kmsflow snapshot copy: {step.description}",
                timeout=Duration.minutes(1),
                memory_size=256,
                reserved_concurrent_executions=20,
                log_group=group,
                tracing=lambda_.Tracing.ACTIVE,
                environment={"KMSFLOW_WORKFLOW": "snapshot-copy"},
            )
            self.roles[step.handler] = role
            acknowledge(role, HANDLER_ROLE_REASONS, findings=["Resource::*", *findings])
            acknowledge(self.functions[step.handler], FUNCTION_REASONS)
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            encryption_key=log_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.hours(timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )

        invoked = [
            f"Resource::<{stack.resolve(stack.get_logical_id(fn.node.default_child))}.Arn>:*"  # type: ignore[arg-type]
            for fn in self.functions.values()
        ]
        acknowledge(
            self.state_machine.role.node.scope or self, STATE_MACHINE_ROLE_REASONS, findings=["Resource::*", *invoked]
        )

    def grant_destination_key(self, key: KeyGrants) -> None:
        """Let the workflow copy into ``key`` (a kmsflow key of a destination region, owned or imported): the
        key check may describe it, the copy may use it through RDS and EBS. Both the key policy and the roles'
        policies get the statements (:mod:`kmsflow.constructs.keys.role_grants`)."""
        key.grant_describe(self.roles[KEY_CHECKING_STEP])
        key.grant_use_through_services(self.roles[COPYING_STEP], services=COPY_SERVICES)

    def _grant_step_actions(self, stack: Stack, role: iam.Role, step: _Step) -> list[str]:
        """Add ``step``'s snapshot actions (and, for the copy, the source keys') to ``role``; return the
        wildcard finding ids cdk-nag reports for them, to be acknowledged with the reasons above."""
        arn = f"arn:{stack.partition}"
        findings: list[str] = []
        for statement in statements(
            step.calls, regions=self._regions, account=stack.account, partition=stack.partition
        ):
            role.add_to_policy(iam.PolicyStatement.from_json(statement))
            findings += [f"Resource::{r}" for r in statement["Resource"] if r != "*" and "*" in r]
        if step.handler == COPYING_STEP:
            sources = self._regions[SOURCE]
            keys = [f"{arn}:kms:{region}:{stack.account}:key/*" for region in sources]
            via = [
                v for r in sources for v in via_service_values(list(COPY_SERVICES), region=r, partition=stack.partition)
            ]
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
            findings += [f"Resource::{k}" for k in keys]
        return list(dict.fromkeys(findings))

    def _task(self, handler: str, *, payload: sfn.TaskInput | None = None) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            _state_name(handler),
            lambda_function=self.functions[handler],
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        task.add_retry(
            errors=THROTTLING_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=8,
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

    @staticmethod
    def _retry_quota(task: tasks.LambdaInvoke) -> None:
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

    def _definition(self) -> sfn.IChainable:
        fail = sfn.Fail(self, "Failed", error_path="$.error", cause_path="$.cause")
        on_failure = self._task(
            "on_failure",
            payload=sfn.TaskInput.from_object(
                {"job": sfn.JsonPath.object_at("$"), "error": sfn.JsonPath.object_at("$.error")}
            ),
        ).next(fail)

        def guarded(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
            task.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
            return task

        validate = guarded(
            self._task(
                "validate",
                payload=sfn.TaskInput.from_object(
                    {"input": sfn.JsonPath.entire_payload, "execution": sfn.JsonPath.object_at("$$.Execution")}
                ),
            )
        )
        prepare = guarded(self._task("prepare_source"))
        # EBS limits pending snapshots per volume: CreateSnapshot's quota error is retried like the copy's.
        self._retry_quota(prepare)
        wait_source = sfn.Wait(self, "WaitForSource", time=sfn.WaitTime.seconds_path("$.wait.seconds"))
        check_source = guarded(self._task("check_source"))
        check_key = guarded(self._task("check_destination_key"))
        start_copy = guarded(self._task("start_copy"))
        self._retry_quota(start_copy)
        wait_copy = sfn.Wait(self, "WaitForCopy", time=sfn.WaitTime.seconds_path("$.wait.seconds"))
        check_copy = guarded(self._task("check_copy"))
        finish = guarded(self._task("finish"))
        done = sfn.Succeed(self, "Copied")

        copy_loop = (
            sfn.Choice(self, "CopyAvailable?")
            .when(sfn.Condition.string_equals("$.destination.status", "available"), finish.next(done))
            .otherwise(wait_copy)
        )
        source_loop = (
            sfn.Choice(self, "SourceAvailable?")
            .when(
                sfn.Condition.string_equals("$.source.status", "available"),
                check_key.next(start_copy).next(wait_copy),
            )
            .otherwise(wait_source)
        )
        wait_source.next(check_source).next(source_loop)
        wait_copy.next(check_copy).next(copy_loop)
        return validate.next(prepare).next(source_loop)


def handler_role_name(region: str, handler: str) -> str:
    """The role name of ``handler``'s function in ``region``: the state machine's name (kmsflow.stacks.naming)
    and the step, e.g. ``kmsflow-snapshot-copy-eu-west-1-start-copy`` (at most 64 characters, IAM's limit)."""
    name = f"{snapshot_copy_name(region)}-{handler.replace('_', '-')}"
    if len(name) > MAX_ROLE_NAME:
        raise WorkflowDefinitionError(
            f"role name {name!r} has {len(name)} characters; IAM allows at most {MAX_ROLE_NAME}; "
            "run the workflow in a region with a shorter code",
            field="region",
        )
    return name


def _state_name(handler: str) -> str:
    """``check_destination_key`` -> ``CheckDestinationKey`` (state names are what operators read)."""
    return "".join(part.capitalize() for part in handler.split("_"))
