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

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from kmsflow.constructs.keys.key import KeyGrants
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.constructs.workflows.lambda_steps import (
    ASSET_EXCLUDE,
    COPY_SERVICES,
    FUNCTION_REASONS,
    LAMBDA_SERVICE_ERRORS,
    MAX_ROLE_NAME,
    QUOTA_ERRORS,
    SOURCE_KEY_ACTIONS,
    SOURCE_ROOT,
    STATE_MACHINE_ROLE_REASONS,
    THROTTLING_ERRORS,
    Step,
    grant_source_keys,
    lambda_code,
    lambda_task,
    logged_state_machine,
    retry_quota,
    step_function,
    step_role,
    step_role_name,
    validate_payload,
)
from kmsflow.constructs.workflows.snapshot_access import DESTINATION, SOURCE, statements
from kmsflow.stacks.naming import snapshot_copy_name

HANDLERS = "kmsflow.lambdas.snapshot_copy.handlers"

#: Re-exported: what both workflows share lives in :mod:`.lambda_steps`.
__all__ = [
    "ASSET_EXCLUDE",
    "COPY_SERVICES",
    "FUNCTION_REASONS",
    "HANDLERS",
    "LAMBDA_SERVICE_ERRORS",
    "MAX_ROLE_NAME",
    "QUOTA_ERRORS",
    "SOURCE_KEY_ACTIONS",
    "SOURCE_ROOT",
    "STATE_MACHINE_ROLE_REASONS",
    "STEPS",
    "THROTTLING_ERRORS",
    "SnapshotCopyWorkflow",
    "handler_role_name",
]

#: A step of this machine (the shared :class:`~kmsflow.constructs.workflows.lambda_steps.Step`).
_Step = Step

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
        code = lambda_code()
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        for step in STEPS:
            role = step_role(
                self, step, role_name=handler_role_name(stack.region, step.handler), workflow="snapshot copy"
            )
            findings = self._grant_step_actions(stack, role, step)
            self.functions[step.handler] = step_function(
                self,
                step,
                role=role,
                code=code,
                handlers=HANDLERS,
                workflow="snapshot copy",
                log_key=log_key,
                log_retention=log_retention,
                environment={"KMSFLOW_WORKFLOW": "snapshot-copy"},
            )
            self.roles[step.handler] = role
            acknowledge(role, HANDLER_ROLE_REASONS, findings=["Resource::*", *findings])
            acknowledge(self.functions[step.handler], FUNCTION_REASONS)
        self.log_group, self.state_machine = logged_state_machine(
            self,
            definition=self._definition,
            name=state_machine_name,
            log_key=log_key,
            timeout_hours=timeout_hours,
            log_retention=log_retention,
            functions=list(self.functions.values()),
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
        findings: list[str] = []
        for statement in statements(
            step.calls, regions=self._regions, account=stack.account, partition=stack.partition
        ):
            role.add_to_policy(iam.PolicyStatement.from_json(statement))
            findings += [f"Resource::{r}" for r in statement["Resource"] if r != "*" and "*" in r]
        if step.handler == COPYING_STEP:
            findings += grant_source_keys(role, regions=self._regions[SOURCE])
        return list(dict.fromkeys(findings))

    def _task(self, handler: str, *, payload: sfn.TaskInput | None = None) -> tasks.LambdaInvoke:
        return lambda_task(self, handler, self.functions[handler], payload=payload)

    @staticmethod
    def _retry_quota(task: tasks.LambdaInvoke) -> None:
        retry_quota(task)

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

        validate = guarded(self._task("validate", payload=validate_payload()))
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
    return step_role_name(snapshot_copy_name(region), handler)
