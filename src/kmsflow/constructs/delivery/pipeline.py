"""CDK Pipelines delivery: a CodePipeline that builds kmsflow from a CodeConnections source, reviews every stage's
assembly, and deploys the stages in configuration order, with a manual approval before the stages that ask for one.

The pipeline's stages, in order: ``Source`` (the connection's repository and branch), ``Build`` (the synth step:
``make test`` then ``make synth``, offline, no AWS credentials needed), ``UpdatePipeline`` (self-mutation),
``Assets`` (file assets: the workflow handlers), ``Review`` (``kmsflow review`` of each stage's nested assembly,
reports published to the reports bucket, failing on a high finding), then one stage per wave of
:func:`delivery_waves`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsflow.constructs.access_logs import access_log_bucket
from kmsflow.constructs.delivery.artifact_keys import scope_to_s3
from kmsflow.constructs.nag.acknowledge import acknowledge
from kmsflow.stacks.naming import REPORTS_BUCKET_VARIABLE

#: The CDK CLI the self-mutation and asset steps install: package.json's pinned ``aws-cdk`` (a test keeps them equal).
CDK_CLI_VERSION = "2.1148.1"
#: What the synth step runs (README, "Quick start"): the whole test suite, then the offline synth into ``cdk.out``.
SYNTH_COMMANDS = ("make test", "make synth")
#: CodeBuild's standard Linux image: Python 3.12 and Node (the repository's pinned Node comes from npm).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
#: Report formats of ``kmsflow review``, one file each per stage.
REPORT_FORMATS = ("md", "json", "html", "sarif")
#: The reports bucket's prefix of the last Review run (what approvals link to) and of every run, by execution id.
LATEST_PREFIX = "latest"
EXECUTIONS_PREFIX = "executions"
#: The S3 console's host per partition (review URLs open the report's object page there).
CONSOLE_HOSTS = {
    "aws": "s3.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


@dataclass(frozen=True, kw_only=True)
class DeliveryStage:
    """One configured stage: its name, its ``cdk.Stage`` (every stack it deploys), whether a manual approval
    comes before it, and the names of the stacks it deploys."""

    name: str
    stage: cdk.Stage
    approval: bool
    stacks: frozenset[str]


def delivery_waves(
    stages: Sequence[DeliveryStage], dependencies: Sequence[tuple[str, str]]
) -> list[list[DeliveryStage]]:
    """``stages`` (configuration order) grouped into waves, deployed one after another, the stages of one wave in
    parallel. A stage joins the wave of the stage before it when it has no approval and none of its stacks depends
    on, or is depended on by, a stack of that wave (``dependencies``: (stack, stack it deploys after) pairs,
    kmsflow.plan.dependencies); otherwise it starts a new wave. So the order of dependent stages and of every
    approval is kept: nothing configured after an approved stage deploys before that approval."""
    linked = {frozenset(pair) for pair in dependencies}
    waves: list[list[DeliveryStage]] = []
    for stage in stages:
        wave = waves[-1] if waves else None
        independent = wave is not None and not any(
            frozenset((a, b)) in linked for other in wave for a in stage.stacks for b in other.stacks
        )
        if wave is not None and independent and not stage.approval:
            wave.append(stage)
        else:
            waves.append([stage])
    return waves


def wave_name(wave: Sequence[DeliveryStage]) -> str:
    """The CodePipeline stage name of a wave: its stages' names joined by ``_`` (stage names have no ``_``)."""
    return "_".join(stage.name for stage in wave)


def report_key(prefix: str, stage: str, fmt: str) -> str:
    """The object key of ``stage``'s report in format ``fmt`` under ``prefix``."""
    return f"{prefix}/{stage}/review.{fmt}"


#: Why the buckets' remaining cdk-nag findings are accepted.
ACCESS_LOG_BUCKET_REASONS = {
    "AwsSolutions::AwsSolutions-S1": "This bucket is the server access log target of the pipeline's artifact and "
    "reports buckets; logging its own access would recurse.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled": "This bucket is the server access log target of the "
    "pipeline's buckets; logging its own access would recurse.",
    "NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS": "S3 server access logging delivers only to buckets "
    "with SSE-S3 default encryption (SSE-KMS targets are not supported), so this bucket uses SSE-S3.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled": "Access logs of the pipeline's buckets are kept "
    "versioned and retained in this account; cross-region replication is not required for them.",
}
PIPELINE_BUCKET_REASONS = {
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled": "Pipeline artifacts and review reports are "
    "rebuilt from the repository by the next pipeline run; a replica in a second region adds nothing to recover.",
}


#: Why the policies CDK Pipelines writes for its roles (and the Review role's artifact and report grants) are
#: accepted: aws-cdk-lib generates them from its grants, with no way to narrow them.
PIPELINE_ROLE_REASONS = {
    "AwsSolutions::AwsSolutions-IAM5": "CDK Pipelines generates these policies for the pipeline, its actions and "
    "CodeBuild projects: read/write of the pipeline's own artifact (and replication) buckets' objects "
    "(s3:GetObject*, s3:List*, s3:Abort*, s3:DeleteObject* on <bucket>/*), kms:GenerateDataKey*/ReEncrypt* on the "
    "artifact keys (Resource * is the cross-region replication key, named across stacks), the projects' own "
    "log groups and report groups (by project-name prefix), and, for self-mutation and asset publishing, assuming "
    "only the CDK bootstrap roles (arn:*:iam::<account>:role/* limited by the aws-cdk:bootstrap-role tag "
    "condition). aws-cdk-lib offers no way to narrow them; the Review role adds only s3:PutObject to the reports "
    "bucket.",
    "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy": "CDK Pipelines and CodeBuild add their grants to each "
    "role's default inline policy; aws-cdk-lib builds these roles and policies together, one policy per role.",
}
#: Why the replication bucket of CodePipeline's cross-region support stack keeps its findings.
SUPPORT_BUCKET_REASONS = {
    "AwsSolutions::AwsSolutions-S1": "CodePipeline's cross-region replication bucket, made by aws-cdk-lib's support "
    "stack, holds only copies of pipeline artifacts for actions in its region (SSE-KMS with a rotating key, TLS "
    "only, public access blocked); CDK exposes no logging setting for it.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled": "CodePipeline's cross-region replication bucket is "
    "made by aws-cdk-lib's support stack, which exposes no logging setting; it holds only artifact copies.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketVersioningEnabled": "CodePipeline's cross-region replication bucket "
    "holds transient artifact copies that every run rewrites under new keys; aws-cdk-lib's support stack makes it.",
    "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled": "CodePipeline's cross-region replication bucket is "
    "itself the replica of the pipeline's artifacts in its region; the pipeline rebuilds them on every run.",
}


def wildcard_findings(document: Mapping[str, Any]) -> list[str]:
    """The ``AwsSolutions-IAM5`` finding ids of a resolved policy document (``Action::s3:GetObject*``,
    ``Resource::<BucketLogicalId.Arn>/*``), formatted as cdk-nag formats them, to acknowledge each one."""
    findings: list[str] = []
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                findings.append(f"Action::{action}")
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = _flatten(resource)
            if "*" in flat:
                findings.append(f"Resource::{flat}")
    return list(dict.fromkeys(findings))


def _flatten(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag writes it in a finding id (``<Id.Arn>``, ``<AWS::Partition>``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{resource}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_flatten(part) for part in parts)
    return json.dumps(value, sort_keys=True)


class KmsflowPipeline(Construct):
    """``pipeline``: the ``pipelines.CodePipeline`` (built here: :meth:`build` is called by the stack once every
    stage is added); ``artifact_key``: the artifacts' KMS key (rotating, retained; cross-account keys, so other
    accounts' deploy roles can read artifacts); ``artifacts`` and ``reports``: the buckets (SSE-KMS with that key,
    versioned, TLS only, public access blocked, server access logs to ``access_logs``, retained).

    Reviews: the ``Review`` step writes ``<stage>/review.{md,json,html,sarif}`` for every stage under
    ``executions/<pipeline execution id>/`` and under ``latest/`` (with ``latest/EXECUTION``, the execution id it
    came from), then fails on a high finding. An approval's review URL is the S3 console page of
    ``latest/<stage>/review.html``, without pipeline variables: CodePipeline documents variables in action
    configuration in general (the Review step's ``#{codepipeline.PipelineExecutionId}`` environment variable is one),
    but no documentation found says an approval's URL resolves them, and an unresolved ``#{...}`` would be a broken
    link. The approval's comment names this execution's own folder; a newer execution that passed Review since then
    overwrote ``latest``, and ``latest/EXECUTION`` says which run a reviewer reads.

    Stages and waves: :meth:`add_wave` per wave of :func:`delivery_waves`, in order; an approval of the wave's first
    stage comes before the whole wave."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        connection_arn: str,
        repository: str,
        branch: str,
        pipeline_name: str,
        partition: str,
    ) -> None:
        super().__init__(scope, id)
        self.partition = partition
        self.artifact_key = kms.Key(
            self,
            "ArtifactKey",
            description=f"kmsflow: artifacts and review reports of pipeline {pipeline_name}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = access_log_bucket(self, "AccessLogs")
        acknowledge(self.access_logs, ACCESS_LOG_BUCKET_REASONS)
        self.artifacts = self._bucket("Artifacts", expire_days=90)
        self.reports = self._bucket("Reports", expire_days=None)
        self.source = pipelines.CodePipelineSource.connection(repository, branch, connection_arn=connection_arn)
        self.synth = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            commands=list(SYNTH_COMMANDS),
            primary_output_directory="cdk.out",
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            synth=self.synth,
            artifact_bucket=self.artifacts,
            cross_account_keys=True,
            enable_key_rotation=True,
            self_mutation=True,
            docker_enabled_for_synth=False,
            docker_enabled_for_self_mutation=False,
            publish_assets_in_parallel=False,
            cli_version=CDK_CLI_VERSION,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
                ),
                timeout=Duration.hours(1),
            ),
        )

    def _bucket(self, id: str, *, expire_days: int | None) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.artifact_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{id.lower()}/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire",
                    expiration=Duration.days(expire_days) if expire_days else None,
                    noncurrent_version_expiration=Duration.days(expire_days) if expire_days else None,
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        acknowledge(bucket, PIPELINE_BUCKET_REASONS)
        return bucket

    def add_review(self, stages: Sequence[str]) -> pipelines.CodeBuildStep:
        """The ``Review`` stage: ``kmsflow review`` of ``cdk.out/assembly-<stage>`` for each of ``stages``, in every
        format, published to ``reports``; then the gate, ``--fail-on high`` per stage (exit 1 on a high finding).
        ``kmsflow`` is the ``.venv/bin/kmsflow`` that ``make setup`` installs from the source."""
        role = iam.Role(
            self,
            "ReviewRole",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="kmsflow: the pipeline's Review step (reads the assemblies, writes the review reports)",
        )
        self.reports.grant_put(role)
        step = pipelines.CodeBuildStep(
            "Review",
            input=self.source,
            additional_inputs={"cdk.out": self.synth},
            role=role,
            env={
                REPORTS_BUCKET_VARIABLE: self.reports.bucket_name,
                # A pipeline variable: CDK Pipelines passes it as an action environment variable, resolved per run.
                "PIPELINE_EXECUTION_ID": codepipeline.GlobalVariables.EXECUTION_ID,
            },
            commands=review_commands(stages),
        )
        self.pipeline.add_wave("Review", pre=[step])
        return step

    def add_wave(self, wave: Sequence[DeliveryStage]) -> pipelines.Wave:
        """One CodePipeline stage deploying ``wave``'s stages in parallel, after an approval if its first stage
        asks for one (review URL: that stage's report)."""
        first = wave[0]
        pre: list[pipelines.Step] = []
        if first.approval:
            pre.append(
                pipelines.ManualApprovalStep(
                    f"Approve-{first.name}",
                    review_url=self.review_url(first.name),
                    comment=f"Deploy stage {first.name}? This execution's review: s3://{self.reports.bucket_name}/"
                    f"{EXECUTIONS_PREFIX}/<this execution id>/{first.name}/review.html. The link opens "
                    f"{report_key(LATEST_PREFIX, first.name, 'html')}, the last Review run; {LATEST_PREFIX}/EXECUTION "
                    "holds its execution id.",
                )
            )
        built = self.pipeline.add_wave(wave_name(wave), pre=pre)
        for stage in wave:
            built.add_stage(stage.stage)
        return built

    def build(self) -> None:
        """Build the CodePipeline (after the last wave), then accept the cdk-nag findings of what CDK Pipelines made
        there (:data:`PIPELINE_ROLE_REASONS`, :data:`SUPPORT_BUCKET_REASONS`), each wildcard by its finding id; and
        retain the artifact keys of CodePipeline's cross-region support stacks (CDK makes them ``DESTROY``); and let
        other accounts use every artifact key only through S3 (:func:`scope_to_s3`)."""
        self.pipeline.build_pipeline()
        stack = cdk.Stack.of(self)
        for node in self.node.find_all():
            if isinstance(node, iam.Policy):
                document = stack.resolve(node.document)
                acknowledge(node, PIPELINE_ROLE_REASONS, findings=wildcard_findings(document))
        artifact_key = self.artifact_key.node.default_child
        assert isinstance(artifact_key, kms.CfnKey)
        scope_to_s3(artifact_key)
        for support in self.pipeline.pipeline.cross_region_support.values():
            acknowledge(support.replication_bucket, SUPPORT_BUCKET_REASONS)
            for child in support.stack.node.find_all():
                if isinstance(child, kms.CfnKey):
                    child.apply_removal_policy(RemovalPolicy.RETAIN)
                    scope_to_s3(child)

    def review_url(self, stage: str) -> str:
        """The S3 console page of ``stage``'s HTML report of the last Review run."""
        region = cdk.Stack.of(self).region
        host = CONSOLE_HOSTS[self.partition]
        key = report_key(LATEST_PREFIX, stage, "html")
        return f"https://{host}/s3/object/{self.reports.bucket_name}?region={region}&prefix={key}"


def review_commands(stages: Sequence[str]) -> list[str]:
    """The Review step's shell commands (POSIX sh, one CodeBuild command each; a failing one fails the step)."""
    commands = ["make setup", 'mkdir -p reports && echo "$PIPELINE_EXECUTION_ID" > reports/EXECUTION']
    for stage in stages:
        assembly = shlex.quote(f"cdk.out/assembly-{stage}")
        for fmt in REPORT_FORMATS:
            output = shlex.quote(f"reports/{stage}/review.{fmt}")
            commands.append(f".venv/bin/kmsflow review {assembly} --format {fmt} --output {output} --fail-on never")
    commands += [
        f'aws s3 cp reports "s3://${REPORTS_BUCKET_VARIABLE}/{EXECUTIONS_PREFIX}/$PIPELINE_EXECUTION_ID/" --recursive',
        f'aws s3 cp reports "s3://${REPORTS_BUCKET_VARIABLE}/{LATEST_PREFIX}/" --recursive',
    ]
    # The gate, after the reports are published (a reviewer reads why it failed): exit 1 on a high finding.
    commands += [
        f".venv/bin/kmsflow review {shlex.quote(f'cdk.out/assembly-{stage}')} --format json --fail-on high > /dev/null"
        for stage in stages
    ]
    return commands
