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

from kmsflow.constructs.nag.acknowledge import acknowledge
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

#: The AWS actions each family's handlers call (least privilege: nothing else is granted;
#: tests/workflows/test_handler_permissions.py records the calls of end-to-end runs and compares).
FAMILY_ACTIONS = {
    "rds": [
        "rds:DescribeDBSnapshots",
        "rds:DescribeOptionGroups",
        "rds:CreateDBSnapshot",
        "rds:CopyDBSnapshot",
        "rds:DeleteDBSnapshot",
        "rds:AddTagsToResource",
    ],
    "aurora": [
        "rds:DescribeDBClusters",
        "rds:DescribeDBClusterSnapshots",
        "rds:CreateDBClusterSnapshot",
        "rds:CopyDBClusterSnapshot",
        "rds:DeleteDBClusterSnapshot",
        "rds:AddTagsToResource",
    ],
    "ebs": [
        "ec2:DescribeSnapshots",
        "ec2:CreateSnapshot",
        "ec2:CopySnapshot",
        "ec2:DeleteSnapshot",
        "ec2:CreateTags",
    ],
}


#: cdk-nag findings accepted on the handlers' role, with the reasons a reviewer reads.
HANDLER_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "Snapshot, instance, cluster and volume ids come from each execution's "
    "input, so RDS actions are scoped to this account's RDS resources in the configured regions, EC2 snapshot "
    "actions (several of which support no resource-level permission) to those regions by aws:RequestedRegion, "
    "KMS use to this account's keys in those regions only through RDS/EC2 (kms:ViaService) and CreateGrant only "
    "for AWS resources; each key's own policy decides which keys the role may use. kms:GenerateDataKey* covers "
    "GenerateDataKey and GenerateDataKeyWithoutPlaintext, both used by RDS and EBS copies.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "The role's only policy is inline so that it lives and "
    "dies with the workflow that needs it; its statements are listed and reasoned above.",
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


@dataclass(frozen=True)
class _Step:
    """One task of the machine: its handler function name and what it is for (the function description)."""

    handler: str
    description: str


STEPS = (
    _Step("validate", "Checks the execution input and derives the job's deterministic id"),
    _Step("prepare_source", "Finds the source snapshot, or creates it from the instance, cluster or volume"),
    _Step("check_source", "Reports whether the source snapshot is available (with the next wait)"),
    _Step("check_destination_key", "Checks the destination key: exists, enabled, symmetric, in its region"),
    _Step("start_copy", "Starts (or finds) the cross-region copy under the destination key"),
    _Step("check_copy", "Reports whether the copy is available (with the next wait)"),
    _Step("finish", "Tags lineage, deletes a source snapshot this job made if asked, and shapes the output"),
    _Step("on_failure", "Removes a failed copy this execution made and words the failure's cause"),
)


class SnapshotCopyWorkflow(Construct):
    """The state machine (``state_machine``), its functions (``functions`` by handler name) and their role."""

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
        # A fixed name, so that destination key policies can name the role (service_users) without a
        # cross-stack reference: `<account>:role/kmsflow-snapshot-copy-<region>`.
        self.role = iam.Role(
            self,
            "HandlerRole",
            role_name=handler_role_name(stack.region),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="kmsflow snapshot copy: the Lambda handlers' AWS calls",
        )
        self._grant_snapshot_actions(stack, source_regions, destination_regions)
        code = lambda_.Code.from_asset(str(SOURCE_ROOT), exclude=ASSET_EXCLUDE)
        self.functions: dict[str, lambda_.Function] = {}
        for step in STEPS:
            group = logs.LogGroup(
                self,
                f"{step.handler}-logs",
                encryption_key=log_key,
                retention=log_retention,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.functions[step.handler] = lambda_.Function(
                self,
                step.handler,
                runtime=lambda_.Runtime.PYTHON_3_14,
                code=code,
                handler=f"{HANDLERS}.{step.handler}",
                role=self.role,
                description=f"kmsflow snapshot copy: {step.description}",
                timeout=Duration.minutes(1),
                memory_size=256,
                reserved_concurrent_executions=20,
                log_group=group,
                tracing=lambda_.Tracing.ACTIVE,
                environment={"KMSFLOW_WORKFLOW": "snapshot-copy"},
            )
        acknowledge(self.role, HANDLER_ROLE_REASONS, findings=self._handler_role_findings)
        for function in self.functions.values():
            acknowledge(function, FUNCTION_REASONS)
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

    def _grant_snapshot_actions(
        self, stack: Stack, source_regions: Sequence[str], destination_regions: Sequence[str]
    ) -> None:
        regions = sorted(set(source_regions) | set(destination_regions))
        # The wildcard findings cdk-nag reports for these statements, one id each, acknowledged with reasons.
        self._handler_role_findings = [
            "Resource::*",
            "Action::kms:GenerateDataKey*",
            *(f"Resource::arn:{stack.partition}:rds:{r}:{stack.account}:*" for r in regions),
            *(f"Resource::arn:{stack.partition}:kms:{r}:{stack.account}:key/*" for r in regions),
            *(f"Resource::arn:{stack.partition}:kms:{r}:{stack.account}:alias/*" for r in destination_regions),
        ]
        for family, actions in FAMILY_ACTIONS.items():
            service = "ec2" if family == "ebs" else "rds"
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid=f"{family.capitalize()}Snapshots",
                    actions=actions,
                    # Snapshot, instance, cluster and volume ids are the caller's: the regions bound the grant.
                    resources=[f"arn:{stack.partition}:{service}:{region}:{stack.account}:*" for region in regions]
                    if service == "rds"
                    else ["*"],
                    conditions=None if service == "rds" else {"StringEquals": {"aws:RequestedRegion": regions}},
                )
            )
        keys = [f"arn:{stack.partition}:kms:{region}:{stack.account}:key/*" for region in regions]
        via = [
            v
            for region in regions
            for v in via_service_values(["rds", "ebs"], region=region, partition=stack.partition)
        ]
        # RDS and EBS decrypt the source and encrypt the copy through grants they create for the caller; the
        # key policies decide which keys this role may use (it is a service user of the destination keys).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="UseKeysThroughRdsAndEbs",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey*"],
                resources=keys,
                conditions={"StringEquals": {"kms:ViaService": via}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GrantsForAwsResources",
                actions=["kms:CreateGrant"],
                resources=keys,
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeDestinationKeys",
                actions=["kms:DescribeKey"],
                resources=[
                    f"arn:{stack.partition}:kms:{region}:{stack.account}:key/*" for region in destination_regions
                ]
                + [f"arn:{stack.partition}:kms:{region}:{stack.account}:alias/*" for region in destination_regions],
            )
        )

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


def handler_role_name(region: str) -> str:
    """The handlers' role name in ``region``: the state machine's name (kmsflow.stacks.naming)."""
    return snapshot_copy_name(region)


def _state_name(handler: str) -> str:
    """``check_destination_key`` -> ``CheckDestinationKey`` (state names are what operators read)."""
    return "".join(part.capitalize() for part in handler.split("_"))
