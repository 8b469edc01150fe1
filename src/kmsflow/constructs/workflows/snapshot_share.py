"""``SnapshotShareWorkflow``: a Step Functions state machine that moves a snapshot into another account by
grant-and-copy and revokes every access it opened (DESIGN §5, Workflows II); and ``ShareTargetCopyRole``, the role
in a target account that the machine assumes to copy the shared snapshot there.

The machine (1) re-encrypts, by a copy in place under a declared *sharing key*, every snapshot not already under
one; (2) creates one KMS grant on the sharing key for the target's copy role only; (3) shares the snapshot with
that one account; (4) assumes the target copy role and copies the snapshot there under the target's key; (5)
unshares, retires the grant and deletes the temporary copy, also when any step fails (``CleanUpTarget`` →
``RevokeAfterFailure`` → ``OnFailure``), so that no share or grant outlives its execution.

What a sharing key allows the machine (:meth:`SnapshotShareWorkflow.grant_sharing_key`): the ``open_access`` role
may create grants only for the declared target copy roles (``kms:GranteePrincipal``), only with the operations a
cross-account copy needs (``kms:GrantOperations`` ⊆ :data:`~kmsflow.lambdas.snapshot_share.grants.ALL_GRANT_OPERATIONS`)
and only with the ``revoke`` role as retiring principal (``kms:RetiringPrincipal``); ``open_access`` and ``revoke``
may list grants, ``revoke`` may retire them; ``prepare_shareable`` may use the key through RDS and EBS. Nobody else
gains anything on that key. The names both accounts rely on are in :mod:`kmsflow.stacks.naming`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from kmsflow.constructs.keys.key import KeyGrants
from kmsflow.constructs.keys.role_grants import fixed_role_name, free_sid, grant_to_role, role_arn, statement_id
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.constructs.workflows.lambda_steps import (
    COPY_SERVICES,
    FUNCTION_REASONS,
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
from kmsflow.constructs.workflows.snapshot_access import statements
from kmsflow.lambdas.snapshot_share.grants import ALL_GRANT_OPERATIONS
from kmsflow.stacks.naming import share_copy_role_name, snapshot_share_name

HANDLERS = "kmsflow.lambdas.snapshot_share.handlers"
WORKFLOW = "snapshot-share"

#: The side of the snapshot calls of this machine: every call is made in its source regions.
SOURCE = "source"

STEPS = (
    Step("validate", "Checks the execution input (a declared target account and region) and derives the job's id"),
    Step(
        "prepare_source",
        "Finds the source snapshot, or creates it from the instance, cluster or volume",
        (("describe", SOURCE), ("create", SOURCE)),
    ),
    Step(
        "check_source",
        "Reports whether the source snapshot is available (with the next wait)",
        (("describe", SOURCE),),
    ),
    Step(
        "prepare_shareable",
        "Re-encrypts the source in place under the region's sharing key unless it is already under one",
        (("describe", SOURCE), ("copy_from", SOURCE), ("copy_to", SOURCE)),
    ),
    Step(
        "check_shareable",
        "Reports whether the shareable snapshot is available (with the next wait)",
        (("describe", SOURCE),),
    ),
    Step(
        "open_access",
        "Grants the target copy role use of the sharing key and shares the snapshot with the target account",
        (("share", SOURCE),),
    ),
    Step("target_copy", "Assumes the target copy role and copies the shared snapshot under the target key"),
    Step(
        "revoke",
        "Removes the share, retires the grant and deletes the temporary re-encrypted copy",
        (("share", SOURCE), ("describe", SOURCE), ("delete", SOURCE)),
    ),
    Step(
        "finish",
        "Deletes a source snapshot this job made if asked, and shapes the output",
        (("describe", SOURCE), ("delete", SOURCE)),
    ),
    Step("on_failure", "Words the failure's cause after the clean-up and the revocation"),
)

#: The steps that hold something on the sharing keys.
REENCRYPTING_STEP = "prepare_shareable"
OPENING_STEP = "open_access"
REVOKING_STEP = "revoke"
TARGET_STEP = "target_copy"

#: cdk-nag findings accepted on the share handlers' roles.
HANDLER_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "Snapshot, instance, cluster and volume ids come from each execution's "
    "input, so the share handlers may read any snapshot of this account in the source regions, copy from it, and "
    "add or remove one account on its share attribute (RDS restore, Aurora cluster snapshot attribute, EBS "
    "createVolumePermission): the handlers share only with a target account the configuration declares, and the "
    "revoke step removes the share before the execution ends; they may create, copy into and tag only RDS/Aurora "
    "snapshots named kmsflow-* and EBS snapshots tagged at creation (ec2:CreateAction), and delete only snapshots "
    "that carry kmsflow's job tag (aws:ResourceTag); DescribeSnapshots supports no resource-level permission and "
    "is bounded by aws:RequestedRegion; the re-encrypting handler may use this account's keys of the source "
    "regions only through RDS/EC2 (kms:ViaService) and create grants only for AWS resources, and each key's own "
    "policy decides which keys it may use. X-Ray's PutTraceSegments and PutTelemetryRecords support no "
    "resource-level permission.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "Each handler's role has one inline policy so that it lives "
    "and dies with the function that needs it; its statements are listed and reasoned above.",
}

#: cdk-nag findings accepted on a target copy role.
TARGET_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "The snapshot a share execution copies is named by its input: the role may "
    "copy from any snapshot of the source account in its source regions (only snapshots shared with this account "
    "can be copied at all) and describe them; it may "
    "create, copy into and tag only RDS/Aurora snapshots named kmsflow-* and EBS snapshots tagged at creation "
    "(ec2:CreateAction), and delete only snapshots that carry kmsflow's job tag (aws:ResourceTag); DescribeSnapshots "
    "supports no resource-level permission and is bounded by aws:RequestedRegion; it may use the source account's "
    "keys only through RDS/EC2 (kms:ViaService), and those keys open to it only by a grant that the source revokes "
    "after the copy.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "The copy role keeps one inline policy so that it lives and "
    "dies with the trust it is made for; its statements are listed and reasoned above.",
}


@dataclass(frozen=True, kw_only=True)
class ShareTarget:
    """A declared target of a share machine: its account id, its regions (codes) and the ``sts:ExternalId`` the
    machine presents to its copy roles (:func:`~kmsflow.stacks.naming.share_external_id` by default)."""

    account_id: str
    regions: tuple[str, ...]
    external_id: str


class SnapshotShareWorkflow(Construct):
    """The state machine (``state_machine``), its functions and their roles (``functions`` and ``roles`` by
    handler name). Each function has a role of its own with the actions its handler calls and nothing else;
    ``target_copy`` may only assume the declared target copy roles (``target_role_arns``: target account id ->
    region code -> ARN). :meth:`grant_sharing_key` adds what the machine needs of each sharing key."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_regions: Sequence[str],
        targets: Sequence[ShareTarget],
        log_key: kms.IKey,
        timeout_hours: int = 24,
        state_machine_name: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self._regions = {SOURCE: sorted(set(source_regions))}
        self.target_role_arns: dict[str, dict[str, str]] = {
            target.account_id: {
                region: f"arn:{stack.partition}:iam::{target.account_id}:role/"
                + share_copy_role_name(stack.account, stack.region, region)
                for region in target.regions
            }
            for target in targets
        }
        self._targets = list(targets)
        self._sharing_keys: dict[str, str] = {}
        code = lambda_code()
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        for step in STEPS:
            self.roles[step.handler] = step_role(
                self, step, role_name=share_role_name(stack.region, step.handler), workflow="snapshot share"
            )
        environment = self._environment(stack)
        for step in STEPS:
            role = self.roles[step.handler]
            findings = self._grant_step_actions(stack, role, step)
            self.functions[step.handler] = step_function(
                self,
                step,
                role=role,
                code=code,
                handlers=HANDLERS,
                workflow="snapshot share",
                log_key=log_key,
                log_retention=log_retention,
                environment=environment,
            )
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

    @property
    def retiring_role_arn(self) -> str:
        """The ARN of the ``revoke`` step's role: every grant's retiring principal."""
        return role_arn(self.roles[REVOKING_STEP])

    def role_arn(self, handler: str) -> str:
        """The ARN of ``handler``'s role, from its fixed name (other stacks and accounts name it so)."""
        return role_arn(self.roles[handler])

    def grant_sharing_key(self, key: KeyGrants, *, region: str) -> None:
        """Make ``key`` (a kmsflow key of this account placed in the source region ``region``, a code) the sharing
        key of that region: the re-encrypting step may use it through RDS and EBS; the opening step may create
        grants on it only for the declared target copy roles, only with :data:`ALL_GRANT_OPERATIONS` and only with
        the revoke role as retiring principal; the opening and revoking steps may list its grants, the revoking
        step may retire them. Key policy and the roles' policies both get the statements
        (:mod:`kmsflow.constructs.keys.role_grants`); every function learns the key's ARN
        (``KMSFLOW_SHARING_KEYS``)."""
        key.grant_use_through_services(self.roles[REENCRYPTING_STEP], services=COPY_SERVICES)
        grantees = [arn for roles in self.target_role_arns.values() for arn in roles.values()]
        grant_to_role(
            key,
            self.roles[OPENING_STEP],
            purpose="ShareGrants",
            actions=("kms:CreateGrant",),
            conditions={
                "StringEquals": {"kms:GranteePrincipal": grantees, "kms:RetiringPrincipal": self.retiring_role_arn},
                "ForAllValues:StringEquals": {"kms:GrantOperations": list(ALL_GRANT_OPERATIONS)},
            },
        )
        for handler in (OPENING_STEP, REVOKING_STEP):
            grant_to_role(key, self.roles[handler], purpose="ListGrants", actions=("kms:ListGrants",), conditions={})
        # RetireGrant is authorized by the grant itself (its retiring principal is the revoke role); "the
        # kms:RetireGrant permission is not effective in a key policy" (KMS Developer Guide, "Retiring and revoking
        # grants"), so only the role's own policy names it, for readers and the permission tests.
        revoking = self.roles[REVOKING_STEP]
        revoking.add_to_principal_policy(
            iam.PolicyStatement(
                sid=free_sid(revoking, statement_id("RetireGrants", fixed_role_name(revoking) or revoking.node.id)),
                actions=["kms:RetireGrant"],
                resources=[key.key_arn],
            )
        )
        self._sharing_keys[region] = key.key_arn
        sharing_keys = Stack.of(self).to_json_string(dict(sorted(self._sharing_keys.items())))
        for function in self.functions.values():
            function.add_environment("KMSFLOW_SHARING_KEYS", sharing_keys)

    def _environment(self, stack: Stack) -> dict[str, str]:
        """What every function reads (JSON strings): the declared targets with their copy roles and external id,
        the sharing keys by source region (filled in by :meth:`grant_sharing_key`), the retiring principal."""
        targets = {
            target.account_id: {
                "regions": list(target.regions),
                "roles": self.target_role_arns[target.account_id],
                "external_id": target.external_id,
            }
            for target in self._targets
        }
        return {
            "KMSFLOW_WORKFLOW": WORKFLOW,
            "KMSFLOW_SHARE_TARGETS": stack.to_json_string(targets),
            "KMSFLOW_SHARING_KEYS": "{}",
            "KMSFLOW_RETIRING_ROLE": self.retiring_role_arn,
        }

    def _grant_step_actions(self, stack: Stack, role: iam.Role, step: Step) -> list[str]:
        """Add ``step``'s snapshot actions (the re-encrypting step: also the source keys'; ``target_copy``: only
        assuming the target copy roles) to ``role``; return the wildcard findings to acknowledge."""
        findings: list[str] = []
        # Every copy of this machine stays in its region (the copy in place under the sharing key): RDS option groups
        # are neither read nor passed.
        for statement in statements(
            step.calls, regions=self._regions, account=stack.account, partition=stack.partition, option_groups=False
        ):
            role.add_to_policy(iam.PolicyStatement.from_json(statement))
            findings += [f"Resource::{r}" for r in statement["Resource"] if r != "*" and "*" in r]
        if step.handler == REENCRYPTING_STEP:
            findings += grant_source_keys(role, regions=self._regions[SOURCE])
        if step.handler == TARGET_STEP:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="AssumeTargetCopyRoles",
                    actions=["sts:AssumeRole"],
                    resources=[arn for roles in self.target_role_arns.values() for arn in roles.values()],
                )
            )
        return list(dict.fromkeys(findings))

    def _task(
        self, handler: str, *, id: str = "", payload: sfn.TaskInput | None = None, throttling_attempts: int = 8
    ) -> tasks.LambdaInvoke:
        return lambda_task(
            self, handler, self.functions[handler], id=id, payload=payload, throttling_attempts=throttling_attempts
        )

    def _definition(self) -> sfn.IChainable:
        fail = sfn.Fail(self, "Failed", error_path="$.error", cause_path="$.cause")
        on_failure = self._task(
            "on_failure",
            payload=sfn.TaskInput.from_object(
                {"job": sfn.JsonPath.object_at("$"), "error": sfn.JsonPath.object_at("$.error")}
            ),
        ).next(fail)
        revoke_after_failure = self._task("revoke", id="RevokeAfterFailure", throttling_attempts=10)
        revoke_after_failure.add_catch(on_failure, errors=["States.ALL"], result_path="$.revoke_error")
        clean_up = self._task(
            "target_copy",
            id="CleanUpTarget",
            payload=sfn.TaskInput.from_object({"action": "clean_up", "job": sfn.JsonPath.object_at("$")}),
        )
        clean_up.add_catch(revoke_after_failure, errors=["States.ALL"], result_path="$.cleanup_error")
        clean_up.next(revoke_after_failure).next(on_failure)

        def guarded(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
            task.add_catch(clean_up, errors=["States.ALL"], result_path="$.error")
            return task

        validate = guarded(self._task("validate", payload=validate_payload()))
        prepare_source = guarded(self._task("prepare_source"))
        retry_quota(prepare_source)
        wait_source = sfn.Wait(self, "WaitForSource", time=sfn.WaitTime.seconds_path("$.wait.seconds"))
        check_source = guarded(self._task("check_source"))
        prepare_shareable = guarded(self._task("prepare_shareable"))
        retry_quota(prepare_shareable)
        wait_shareable = sfn.Wait(self, "WaitForShareable", time=sfn.WaitTime.seconds_path("$.wait.seconds"))
        check_shareable = guarded(self._task("check_shareable"))
        open_access = guarded(self._task("open_access"))
        target_copy = guarded(self._task("target_copy"))
        retry_quota(target_copy)
        # Grants are eventually consistent: the handler itself counts refusals of the shared key and comes back
        # after the next wait (kmsflow.lambdas.snapshot_share.handlers.MAX_KEY_REFUSALS), so no Retry here.
        wait_target = sfn.Wait(self, "WaitForTargetCopy", time=sfn.WaitTime.seconds_path("$.wait.seconds"))
        revoke = guarded(self._task("revoke", id="RevokeAccess", throttling_attempts=10))
        finish = guarded(self._task("finish"))
        done = sfn.Succeed(self, "Shared")

        target_loop = (
            sfn.Choice(self, "TargetCopied?")
            .when(sfn.Condition.string_equals("$.target.status", "available"), revoke.next(finish).next(done))
            .otherwise(wait_target)
        )
        shareable_loop = (
            sfn.Choice(self, "ShareableAvailable?")
            .when(
                sfn.Condition.string_equals("$.shared.status", "available"),
                open_access.next(target_copy).next(target_loop),
            )
            .otherwise(wait_shareable)
        )
        source_loop = (
            sfn.Choice(self, "SourceAvailable?")
            .when(sfn.Condition.string_equals("$.source.status", "available"), prepare_shareable.next(shareable_loop))
            .otherwise(wait_source)
        )
        wait_source.next(check_source).next(source_loop)
        wait_shareable.next(check_shareable).next(shareable_loop)
        wait_target.next(target_copy)
        return validate.next(prepare_source).next(source_loop)


def share_role_name(region: str, handler: str) -> str:
    """The role name of the share machine's ``handler`` in ``region``, e.g.
    ``kmsflow-snapshot-share-eu-west-1-target-copy`` (at most 64 characters, IAM's limit)."""
    return step_role_name(snapshot_share_name(region), handler)


class ShareTargetCopyRole(Construct):
    """The role (``role``) in a target account that one source share machine assumes to copy a shared snapshot
    into ``target_region`` (and, for Aurora's first hop, into the source regions).

    Trust: the source account's root, narrowed to the source's ``target_copy`` step role by ``aws:PrincipalArn``
    (a condition needs nothing to exist: this stack deploys before or after the source's) and to the
    ``sts:ExternalId``. Policy: copy only snapshots owned by the source account (or its own ``kmsflow-*``, for a
    second hop) into its own ``kmsflow-*`` snapshots; tag, describe and delete (own-tagged) them; use the source
    account's keys only through RDS and EC2 (the key side is the grant the source creates for the copy). The
    target's keys are added by :meth:`grant_target_key`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_account_id: str,
        source_region: str,
        source_regions: Sequence[str],
        external_id: str,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        partition = stack.partition
        self.source_step_role_arn = (
            f"arn:{partition}:iam::{source_account_id}:role/{share_role_name(source_region, TARGET_STEP)}"
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=share_copy_role_name(source_account_id, source_region, stack.region),
            description=f"kmsflow snapshot share: copies snapshots shared by account {source_account_id} "
            f"(share machine in {source_region}) into this account",
            assumed_by=iam.AccountPrincipal(source_account_id).with_conditions(
                {
                    "ArnEquals": {"aws:PrincipalArn": self.source_step_role_arn},
                    "StringEquals": {"sts:ExternalId": external_id},
                }
            ),
        )
        sources = sorted(set(source_regions))
        regions = sorted({*sources, stack.region})
        findings: list[str] = []
        # The copies through this role pass no option group (kmsflow.lambdas.snapshot_copy.adapters.rds_instance),
        # and the source account's option groups are not this account's to read.
        shared = statements(
            [("describe", "shared"), ("copy_from", "shared")],
            regions={"shared": sources},
            account=source_account_id,
            partition=partition,
            option_groups=False,
        )
        # copy_to in the source regions also covers the second hop's source: its own kmsflow-* copy there.
        own = statements(
            [("describe", "target"), ("copy_to", "target"), ("tag", "target"), ("delete", "target")],
            regions={"target": regions},
            account=stack.account,
            partition=partition,
            option_groups=False,
        )
        for statement in shared + own:
            self.role.add_to_policy(iam.PolicyStatement.from_json(statement))
            findings += [f"Resource::{r}" for r in statement["Resource"] if r != "*" and "*" in r]
        findings += grant_source_keys(self.role, regions=sources, account=source_account_id)
        acknowledge(self.role, TARGET_ROLE_REASONS, findings=["Resource::*", *dict.fromkeys(findings)])

    def grant_target_key(self, key: KeyGrants) -> None:
        """Let the role copy under ``key`` (a declared key of the target account, placed in the target region or a
        source region): use through RDS and EBS, and DescribeKey."""
        key.grant_use_through_services(self.role, services=COPY_SERVICES)
        key.grant_describe(self.role)
