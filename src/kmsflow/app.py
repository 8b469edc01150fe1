"""From configuration to a CDK app: one keys stack per (account, region), tags, and cdk-nag.

With ``pipeline.codepipeline``, every stack is built inside the ``cdk.Stage`` of the pipeline stage that deploys it
(construct id: the stage's name; stack names unchanged), and the pipeline stack at the top level; otherwise every
stack is at the top level (:class:`Placement`).

``app.py`` at the top of the repository calls :func:`main`; tests and benchmarks call :func:`new_app` and
:func:`populate` to build the same app in process.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import Construct

from kmsflow.config import (
    DEFAULT_CONFIG,
    AuditConfig,
    CodePipelineConfig,
    GithubConfig,
    KeyConfig,
    KmsflowConfig,
    PipelineConfig,
    SnapshotCopyConfig,
    SnapshotShareConfig,
    load_config,
)
from kmsflow.constructs.keys import (
    CrossAccountAccess,
    CustomKeyPolicy,
    OrganizationAccess,
    RootAccess,
    ServiceUsers,
)
from kmsflow.constructs.nag import KmsflowChecks
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.errors import ConfigError, ConfigIssue, FieldError, KmsflowError
from kmsflow.plan import dependencies, keys_places, multi_region_places, stage_stacks, workflow_places
from kmsflow.principals import parse_principal
from kmsflow.stacks.keys_stack import KeyDefinition, KeysStack, ReplicaDefinition
from kmsflow.stacks.naming import (
    audit_bucket_name,
    audit_stack_name,
    ci_stack_name,
    keys_stack_name,
    pipeline_stack_name,
    share_external_id,
    share_target_stack_name,
    workflows_stack_name,
)

if TYPE_CHECKING:
    from kmsflow.constructs.keys.key import KeyGrants
    from kmsflow.stacks.pipeline_stack import PipelineStack
    from kmsflow.stacks.share_target_stack import ShareTargetStack
    from kmsflow.stacks.workflows_stack import WorkflowsStack

#: Feature flags kmsflow is written against. They live here, not in cdk.json, so that an app built in a
#: test or a benchmark synthesizes exactly what `cdk synth` does.
FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope": True,
    "@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/core:target-partitions": ["aws", "aws-cn", "aws-us-gov"],
    "@aws-cdk/core:validationReportJson": True,
    # Server access logs are granted by a bucket policy (logging.s3.amazonaws.com), not the legacy
    # LogDeliveryWrite ACL, so the access-log bucket can disable ACLs (BucketOwnerEnforced).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # Replicas reference their primary across regions; keep CDK's producer-protecting behaviour explicitly.
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
}


def new_app(*, outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    """A CDK app with kmsflow's feature flags (CLI context, e.g. ``-c config=...``, still applies)."""
    return cdk.App(outdir=outdir, context={**FEATURE_FLAGS, **(context or {})}, analytics_reporting=False)


def populate(
    app: cdk.App, config: KmsflowConfig, *, source: str = DEFAULT_CONFIG, nag: bool = True
) -> dict[str, KeysStack]:
    """Add every stack of ``config`` to ``app``; with ``nag``, the AwsSolutions, NIST 800-53 R5 and Kmsflow
    cdk-nag packs (each key's configured acknowledgments are applied either way).

    A key that a construct refuses raises :class:`ConfigError` naming ``source`` and ``keys[i]``.
    """
    multi_region = multi_region_places(config)
    placement = Placement(app, config)
    stacks = {
        (account, region): KeysStack(
            placement.scope(keys_stack_name(account, region)),
            keys_stack_name(account, region),
            stack_name=keys_stack_name(account, region),
            description=f"kmsflow: customer managed KMS keys of account {account!r} in region {region!r}",
            env=cdk.Environment(account=config.account_id(account), region=config.region_code(region)),
            partition=config.partition,
            # A replica needs its primary's ARN, known only after the primary's stack deploys: CDK carries
            # it across regions through SSM parameters (see README, "Multi-region keys").
            cross_region_references=(account, region) in multi_region,
        )
        for account, region in keys_places(config)
    }
    #: Every key and replica by (key name, config region name), for grants to other stacks.
    placed: dict[tuple[str, str], KeyGrants] = {}
    for index, key in enumerate(config.keys):
        policy = custom_policy(config, key)  # the same roles for the primary and every replica
        with _refused_at(source, f"keys[{index}]"):
            primary = stacks[(key.account, key.region)].add_key(_key_definition(key, policy))
            placed[key.name, key.region] = primary
            _acknowledge(primary, key)
            for region in key.replicas:
                replica_stack = stacks[(key.account, region)]
                replica = replica_stack.add_replica(
                    ReplicaDefinition(
                        name=key.name,
                        primary=placement.key_for(replica_stack, primary),
                        description=key.description or None,
                        aliases=key.aliases,
                        enabled=key.enabled,
                        policy=policy,
                        tags=key.tags,
                    )
                )
                placed[key.name, region] = replica
                _acknowledge(replica, key)
    if config.audit is not None:
        _add_audit(placement, config, config.audit, source)
    _add_workflows(placement, config, placed, source)
    if config.pipeline is not None and config.pipeline.github is not None:
        _add_ci(app, config, config.pipeline, config.pipeline.github)
    for tag, value in config.tags.items():
        # Tags are an aspect, and aspects stop at a Stage: each stage is tagged as the app is.
        for scope in (app, *placement.stages.values()):
            cdk.Tags.of(scope).add(tag, value)
    if config.pipeline is not None and config.pipeline.codepipeline is not None:
        # Last: building the pipeline synthesizes each stage, after which nothing added to a stage counts.
        _add_pipeline(placement, config, config.pipeline, config.pipeline.codepipeline)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app), KmsflowChecks(app))
    return {stack.stack_name: stack for stack in stacks.values()}


class Placement:
    """Where each stack is built and how a stack uses a key of another: without ``pipeline.codepipeline``, every
    stack at the top of ``app`` and keys used directly (CDK's references); with it, each stack in the ``cdk.Stage``
    of the stage that deploys it (``stages``, by stage name) and a key of another stage used through
    :func:`~kmsflow.constructs.keys.stage_reference.stage_reference` (CDK refuses references across Stages)."""

    def __init__(self, app: cdk.App, config: KmsflowConfig) -> None:
        self.app = app
        self.stages: dict[str, cdk.Stage] = {}
        #: stack name -> the name of the stage that deploys it (the first, as the configuration checks count)
        self.stage_of: dict[str, str] = {}
        pipeline = config.pipeline
        if pipeline is None or pipeline.codepipeline is None:
            return
        for stage_name, stacks in stage_stacks(config).items():
            self.stages[stage_name] = cdk.Stage(app, stage_name)
            self.stage_of.update((stack.name, stage_name) for stack in stacks)

    @property
    def staged(self) -> bool:
        """Whether stacks are built inside stages (``pipeline.codepipeline``)."""
        return bool(self.stages)

    def scope(self, stack_name: str) -> Construct:
        """The scope of the stack named ``stack_name``: its stage, or the app."""
        stage = self.stage_of.get(stack_name)
        return self.app if stage is None else self.stages[stage]

    def key_for(self, consumer: Stack, key: KeyGrants) -> KeyGrants:
        """``key`` as ``consumer`` may use it: itself within one stage (or without stages), else the reference that
        reads its ARN at deploy time."""
        if self.stage_of.get(consumer.stack_name) == self.stage_of.get(key.stack.stack_name):
            return key
        # Imported here: the SSM and custom-resource modules load only for a pipeline with cross-stage keys.
        from kmsflow.constructs.keys.stage_reference import stage_reference

        return stage_reference(key, consumer=consumer)


def _add_audit(placement: Placement, config: KmsflowConfig, audit: AuditConfig, source: str) -> list[Stack]:
    """The central audit stack and one per member account (its trail delivering to the central bucket)."""
    # Imported here: the audit stack pulls in the CloudTrail, S3, SNS, Logs and CloudWatch modules of
    # aws-cdk-lib (tens of milliseconds of jsii loading) that an app without `audit:` never needs.
    from kmsflow.stacks.audit_stack import AuditStack

    accounts = config.account_ids
    trusted = audit.alarms.organization_accounts or list(config.accounts)
    region = config.region_code(audit.region)
    central_id = config.account_id(audit.account)
    members = config.audit_members()
    common: dict[str, Any] = {
        "trail_name": audit.trail_name,
        "bucket_name": audit_bucket_name(central_id, region),
        "auditors_account": central_id,
        "cloudwatch_logs": audit.cloudwatch_logs,
        "log_retention_days": audit.log_retention_days,
        "trusted_accounts": [accounts[n] for n in trusted],
        "access_denied_threshold": audit.alarms.access_denied_threshold,
        "request_quota_percent": audit.alarms.request_quota_percent,
        "subscriptions": [(sub.protocol, sub.endpoint) for sub in audit.alarms.subscriptions],
        "partition": config.partition,
        "auditors": _principals(config, audit.auditors),
    }
    stacks: list[Stack] = []
    with _refused_at(source, "audit"):
        name = audit_stack_name(audit.account, audit.region)
        central = AuditStack(
            placement.scope(name),
            name,
            stack_name=name,
            description="kmsflow: CloudTrail audit of every KMS call, with alarms on dangerous key changes",
            env=cdk.Environment(account=central_id, region=region),
            member_accounts=[accounts[m] for m in members],
            administrators=_principals(config, audit.administrators),
            organization_trail=audit.organization_trail,
            organization_id=audit.organization_id,
            transition_to_glacier_days=audit.bucket.transition_to_glacier_days,
            expire_days=audit.bucket.expire_days,
            **common,
        )
        stacks.append(central)
        for member in members:
            name = audit_stack_name(member, audit.region)
            stack = AuditStack(
                placement.scope(name),
                name,
                stack_name=name,
                description=f"kmsflow: CloudTrail audit of every KMS call in account {member!r}, delivered to the "
                f"audit account's bucket, with alarms on dangerous key changes",
                env=cdk.Environment(account=accounts[member], region=region),
                bucket_account=central_id,
                # The member account's own root (its IAM administrators) administers its trail key; the audit
                # account's administrators are of another account and hold no key of this one.
                administrators=[],
                organization_trail=False,
                organization_id=None,
                transition_to_glacier_days=None,
                expire_days=None,
                **common,
            )
            # CDK refuses a dependency between stacks of different Stages; with stages, the stage order check
            # (pipeline.stages) already puts every member after the central audit stack.
            if not placement.staged:
                stack.add_stack_dependency(central, "the central bucket must let this account's trail deliver first")
            stacks.append(stack)
    return stacks


def _add_workflows(
    placement: Placement, config: KmsflowConfig, placed: dict[tuple[str, str], KeyGrants], source: str
) -> None:
    """One workflows stack per (account, region) that runs a snapshot copy and/or a snapshot share; the grants their
    keys give them; and the share targets' stacks, one per (target account, target region)."""
    workflows = config.workflows
    copies = {(f.account, f.region): (i, f) for i, f in enumerate(workflows.snapshot_copy)}
    shares = {(f.account, f.region): (i, f) for i, f in enumerate(workflows.snapshot_share)}
    targets: dict[tuple[str, str], ShareTargetStack] = {}
    for place in workflow_places(config):
        copy, share = copies.get(place), shares.get(place)
        stack = _add_workflows_stack(placement, config, copy, share, source)
        if copy is not None and stack.snapshot_copy is not None:
            index, flow = copy
            path = f"workflows.snapshot_copy[{index}]"
            for i, name in enumerate(flow.destination_keys):
                with _refused_at(source, f"{path}.destination_keys[{i}]"):
                    for region in flow.destination_regions:
                        if (name, region) in placed:
                            stack.snapshot_copy.grant_destination_key(placement.key_for(stack, placed[name, region]))
        if share is not None and stack.snapshot_share is not None:
            index, flow_ = share
            path = f"workflows.snapshot_share[{index}]"
            sources = flow_.source_regions or [flow_.region]
            for i, name in enumerate(flow_.sharing_keys):
                with _refused_at(source, f"{path}.sharing_keys[{i}]"):
                    for region in sources:
                        if (name, region) in placed:
                            stack.snapshot_share.grant_sharing_key(
                                placement.key_for(stack, placed[name, region]), region=config.region_code(region)
                            )
            _add_share_targets(placement, config, flow_, path, placed, targets, source)


def _add_workflows_stack(
    placement: Placement,
    config: KmsflowConfig,
    copy: tuple[int, SnapshotCopyConfig] | None,
    share: tuple[int, SnapshotShareConfig] | None,
    source: str,
) -> WorkflowsStack:
    """The workflows stack of one (account, region). A copy and a share there share the stack's workflow key and
    notices topic: its administrators and subscriptions are both entries', deduplicated."""
    # Imported here for the same reason as the audit stack: Step Functions and Lambda modules load only if used.
    from kmsflow.constructs.workflows import ShareTarget
    from kmsflow.stacks.workflows_stack import ShareMachine, WorkflowsStack

    flows: list[SnapshotCopyConfig | SnapshotShareConfig] = []
    if copy is not None:
        flows.append(copy[1])
    if share is not None:
        flows.append(share[1])
    first = flows[0]
    account_id = config.account_id(first.account)
    region_code = config.region_code(first.region)
    # A construct's refusal is reported at the entry it comes from (the copy's when both share the stack).
    path = (
        f"workflows.snapshot_copy[{copy[0]}]"
        if copy is not None
        else f"workflows.snapshot_share[{share[0] if share is not None else 0}]"
    )
    name = workflows_stack_name(first.account, first.region)
    administrators = list(dict.fromkeys(ref for flow in flows for ref in flow.administrators))
    subscriptions = list(dict.fromkeys((sub.protocol, sub.endpoint) for flow in flows for sub in flow.subscriptions))
    copy_props: dict[str, Any] = {}
    description = "kmsflow: moves KMS-encrypted snapshots to other regions, re-encrypted under their keys"
    if copy is not None:
        flow = copy[1]
        copy_props = {
            "source_regions": [config.region_code(r) for r in (flow.source_regions or [flow.region])],
            "destination_regions": [config.region_code(r) for r in flow.destination_regions],
            "timeout_hours": flow.timeout_hours,
        }
    machine: ShareMachine | None = None
    if share is not None:
        shared = share[1]
        machine = ShareMachine(
            source_regions=[config.region_code(r) for r in (shared.source_regions or [shared.region])],
            targets=[
                ShareTarget(
                    account_id=config.account_id(t.account),
                    regions=tuple(config.region_code(r) for r in t.regions),
                    external_id=t.external_id or share_external_id(account_id, region_code),
                )
                for t in shared.targets
            ],
            timeout_hours=shared.timeout_hours,
        )
        description = (
            f"{description}, and shares them with other accounts by grant-and-copy"
            if copy is not None
            else "kmsflow: shares KMS-encrypted snapshots with other accounts by grant-and-copy, then revokes access"
        )
    with _refused_at(source, path):
        return WorkflowsStack(
            placement.scope(name),
            name,
            stack_name=name,
            description=description,
            env=cdk.Environment(account=account_id, region=region_code),
            share=machine,
            administrators=_principals(config, administrators),
            subscriptions=subscriptions,
            partition=config.partition,
            # The roles' policies name the destination and sharing keys' ARNs, made by key stacks (of other regions
            # too): CDK carries them across regions through SSM parameters, as for replica keys.
            cross_region_references=True,
            **copy_props,
        )


def _add_share_targets(
    placement: Placement,
    config: KmsflowConfig,
    share: SnapshotShareConfig,
    path: str,
    placed: dict[tuple[str, str], KeyGrants],
    stacks: dict[tuple[str, str], ShareTargetStack],
    source: str,
) -> None:
    """For each target region of ``share``: the copy role the machine assumes there (in the share-target stack of
    that (account, region), made on first use), using the target's keys placed in that region and, for Aurora's
    first hop, those placed in the machine's source regions."""
    from kmsflow.stacks.share_target_stack import ShareTargetStack

    source_id, source_region = config.account_id(share.account), config.region_code(share.region)
    sources = share.source_regions or [share.region]
    for j, target in enumerate(share.targets):
        for region in target.regions:
            stack = stacks.get((target.account, region))
            if stack is None:
                name = share_target_stack_name(target.account, region)
                stack = stacks[(target.account, region)] = ShareTargetStack(
                    placement.scope(name),
                    name,
                    stack_name=name,
                    description="kmsflow: the roles that snapshot shares of other accounts assume to copy shared "
                    "snapshots into this account under its own keys",
                    env=cdk.Environment(account=config.account_id(target.account), region=config.region_code(region)),
                    # The roles' policies name the target keys' ARNs, of the source regions too (Aurora's first hop).
                    cross_region_references=True,
                )
            regions = dict.fromkeys([region, *sources])
            with _refused_at(source, f"{path}.targets[{j}]"):
                stack.add_source(
                    source_account_id=source_id,
                    source_region=source_region,
                    source_regions=[config.region_code(r) for r in sources],
                    external_id=target.external_id or share_external_id(source_id, source_region),
                    keys=[
                        placement.key_for(stack, placed[name, r])
                        for name in target.keys
                        for r in regions
                        if (name, r) in placed
                    ],
                )


def _add_ci(app: cdk.App, config: KmsflowConfig, pipeline: PipelineConfig, github: GithubConfig) -> Stack:
    """The CI stack of ``pipeline.github`` (deployed by hand, in no stage): its deploy role may assume the CDK
    bootstrap roles of every (account, region) a stage deploys to; its region is ``github.region``, else the
    first region of the configuration."""
    from kmsflow.stacks.ci_stack import CiStack

    targets = [
        (config.account_id(stack.account), config.region_code(stack.region))
        for stacks in stage_stacks(config).values()
        for stack in stacks
    ]
    name = ci_stack_name(github.account)
    return CiStack(
        app,
        name,
        stack_name=name,
        description=f"kmsflow: the GitHub OIDC provider and the deploy role of {github.repository} (deployed by hand)",
        env=cdk.Environment(
            account=config.account_id(github.account),
            region=config.region_code(github.region or next(iter(config.regions))),
        ),
        repository=github.repository,
        branch=github.branch,
        environments=[stage.name for stage in pipeline.stages],
        targets=list(dict.fromkeys(targets)),
        partition=config.partition,
    )


def _add_pipeline(
    placement: Placement, config: KmsflowConfig, pipeline: PipelineConfig, delivery: CodePipelineConfig
) -> PipelineStack:
    """The pipeline stack of ``pipeline.codepipeline``, at the top of the app in its account and region: one
    pipeline stage per configured stage (its ``cdk.Stage``), in configuration order."""
    from kmsflow.constructs.delivery import DeliveryStage
    from kmsflow.stacks.pipeline_stack import PipelineStack

    stacks = stage_stacks(config)
    name = pipeline_stack_name(delivery.account, delivery.region)
    return PipelineStack(
        placement.app,
        name,
        stack_name=name,
        description=f"kmsflow: the CDK Pipelines pipeline of {delivery.repository} ({delivery.branch}) that deploys "
        "every stage (deployed by hand once, then updates itself)",
        env=cdk.Environment(account=config.account_id(delivery.account), region=config.region_code(delivery.region)),
        connection_arn=delivery.connection_arn,
        repository=delivery.repository,
        branch=delivery.branch,
        stages=[
            DeliveryStage(
                name=stage.name,
                stage=placement.stages[stage.name],
                approval=stage.approval,
                stacks=frozenset(stack.name for stack in stacks[stage.name]),
            )
            for stage in pipeline.stages
        ],
        dependencies=[(dep.stack, dep.after) for dep in dependencies(config)],
        partition=config.partition,
    )


@contextmanager
def _refused_at(source: str, path: str) -> Iterator[None]:
    """A construct that refuses part of the configuration becomes a ConfigError at that part's path
    (``keys[2]`` + the error's field, e.g. ``keys[2].policy.users``)."""
    try:
        yield
    except FieldError as err:
        raise ConfigError(source, [ConfigIssue(path + (f".{err.field}" if err.field else ""), str(err))]) from err


def _principals(config: KmsflowConfig, refs: list[str]) -> list[iam.IPrincipal]:
    accounts = config.account_ids
    return [iam.ArnPrincipal(parse_principal(ref, accounts, config.partition).arn) for ref in refs]


def _acknowledge(scope: Construct, key: KeyConfig) -> None:
    """The cdk-nag findings this key's configuration accepts, each with its reason."""
    if key.acknowledgments:
        acknowledge(scope, {ack.id: ack.reason for ack in key.acknowledgments})


def _key_definition(key: KeyConfig, policy: CustomKeyPolicy | None) -> KeyDefinition:
    return KeyDefinition(
        name=key.name,
        props={
            "spec": key.spec,
            "usage": key.usage,
            "description": key.description or None,
            "aliases": key.aliases,
            "rotation": key.rotation,
            "rotation_days": key.rotation_days,
            "deletion_window_days": key.deletion_window_days,
            "origin": key.origin,
            "multi_region": key.is_multi_region,
            "enabled": key.enabled,
            "policy": policy,
        },
        tags=key.tags,
    )


def custom_policy(config: KmsflowConfig, key: KeyConfig) -> CustomKeyPolicy | None:
    """The construct props of a key's policy (``None`` for mode default)."""
    p = key.policy
    if p.mode == "default":
        return None
    accounts = config.account_ids

    principals = functools.partial(_principals, config)

    return CustomKeyPolicy(
        root_access=RootAccess(p.root_access),
        administrators=principals(p.administrators),
        users=principals(p.users),
        service_users=ServiceUsers(principals=principals(p.service_users.principals), services=p.service_users.services)
        if p.service_users
        else None,
        signers=principals(p.signers),
        verifiers=principals(p.verifiers),
        public_key_encrypters=principals(p.public_key_encrypters),
        mac_users=principals(p.mac_users),
        cross_account=[
            CrossAccountAccess(
                name=a.account,
                account=accounts[a.account],
                principals=principals(a.principals),
                via_services=a.via_services,
            )
            for a in p.cross_account
        ],
        organizations=[OrganizationAccess(org_id=o.id, via_services=o.via_services) for o in p.organizations],
        statements=[iam.PolicyStatement.from_json(s.model_dump(exclude_none=True)) for s in p.statements],
        separation_reason=p.separation_reason,
    )


def main() -> int:
    """Entry of ``app.py``: read ``-c config=PATH`` (default ``kmsflow.yaml``), build, synthesize.

    Every failure prints its reason without a traceback, and leaves no template in the output directory: a
    configuration error (exit 2), a construct refusing the configuration (exit 2), a construct validation or
    cdk-nag failure (exit 1). A reviewer reading ``cdk.out/`` after a failed synth finds no stale or refused
    template, only ``SYNTH-FAILED.txt`` saying why; the next good synth removes it.
    """
    path = str(cli_context().get("config") or os.environ.get("KMSFLOW_CONFIG") or DEFAULT_CONFIG)
    raw_outdir = os.environ.get("CDK_OUTDIR")
    outdir = Path(raw_outdir) if raw_outdir else None
    # Creating the App creates the output directory: one this run created is removed whole on failure.
    created = outdir is not None and not outdir.exists()
    try:
        config = load_config(path)
        app = new_app()
        populate(app, config, source=path)
    except KmsflowError as err:
        return _failed(outdir, created, f"kmsflow: {err}", 2)
    except RuntimeError as err:  # with pipeline.codepipeline, building the pipeline synthesizes (validates) stages
        return _failed(outdir, created, f"kmsflow: synth failed: {first_line(err)}\n{SYNTH_FAILED_HINT}", 1)
    try:
        app.synth()
    except RuntimeError as err:  # jsii surfaces CDK validation and cdk-nag failures as RuntimeError
        return _failed(outdir, created, f"kmsflow: synth failed: {first_line(err)}\n{SYNTH_FAILED_HINT}", 1)
    if outdir is not None:
        (outdir / FAILED_MARKER).unlink(missing_ok=True)
    return 0


#: What a failed synth leaves in the output directory instead of templates.
FAILED_MARKER = "SYNTH-FAILED.txt"


def _failed(outdir: Path | None, created: bool, message: str, code: int) -> int:
    """Print ``message``; leave no template in ``outdir``: remove it if this run ``created`` it, else remove the
    assembly's templates and manifest (a previous run's, or this run's refused ones) and say there why. Return
    ``code``."""
    print(message, file=sys.stderr)
    if outdir is not None and outdir.is_dir():
        if created:
            shutil.rmtree(outdir)
        else:
            # A validation failure's own report says why this run was refused: it stays; any other is stale.
            keep = VALIDATION_REPORTS if code == 1 else ()
            discard_templates(outdir, keep=keep)
            why = "; the findings are in validation-report.json" if keep else ""
            (outdir / FAILED_MARKER).write_text(
                f"The last synth failed (exit {code}); nothing here is its result{why}.\n\n{message}\n",
                encoding="utf-8",
            )
    return code


#: The files of a cloud assembly that describe its result; asset folders are content-addressed and harmless.
ASSEMBLY_FILES = (
    "*.template.json",
    "*.assets.json",
    "*.metadata.json",
    "manifest.json",
    "cdk.out",  # the assembly's version file
    "tree.json",
    "validation-report.json",
    "policy-validation-report.json",
)


VALIDATION_REPORTS = ("validation-report.json", "policy-validation-report.json")


def discard_templates(outdir: Path, *, keep: tuple[str, ...] = ()) -> list[Path]:
    """Delete the templates and the manifest of a cloud assembly (nested stage assemblies included), so that no
    reader or tool takes a failed run's output for a result; return what was deleted. Only these file patterns
    are touched, whatever folder ``outdir`` is; files named in ``keep`` stay."""
    removed = sorted(
        {
            path
            for pattern in ASSEMBLY_FILES
            for path in outdir.rglob(pattern)
            if path.is_file() and path.name not in keep
        }
    )
    for path in removed:
        path.unlink()
    return removed


def cli_context() -> dict[str, Any]:
    """The context the CDK CLI hands the app (``-c key=value``, cdk.json), read as aws-cdk-lib's App does:
    JSON in ``CDK_CONTEXT_JSON``, or, when too large for the environment, a file named by
    ``CONTEXT_OVERFLOW_LOCATION_ENV``."""
    context: dict[str, Any] = {}
    raw = os.environ.get("CDK_CONTEXT_JSON")
    if raw:
        context.update(json.loads(raw))
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow and os.path.isfile(overflow):
        with open(overflow, encoding="utf-8") as handle:
            context.update(json.load(handle))
    return context


def check_config(path: str) -> KmsflowConfig:
    """Everything synth checks about a configuration except cdk-nag: load it and build its constructs
    (policy size and the construct guards included) in a throw-away app, without synthesizing."""
    config = load_config(path)
    with tempfile.TemporaryDirectory(prefix="kmsflow-check-") as outdir:
        populate(new_app(outdir=outdir), config, source=path, nag=False)
    return config


#: What to do when cdk-nag or a construct validation fails at synth (the findings are printed above).
SYNTH_FAILED_HINT = (
    "kmsflow: each finding above names the construct and the rule; fix the key in the configuration, or, if "
    "the finding is accepted, add it to that key's `acknowledgments:` with the id printed after "
    "'Acknowledge with' and a reason a security reviewer would accept"
)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
