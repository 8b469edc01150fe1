"""The service-path table: every request an AWS service makes on kmsflow's behalf (and the few that kmsflow's
own roles make through a service), derived from a cloud assembly, each with the AWS page it comes from and its
near-misses.

moto enforces no policy, and cdk-nag reads statements one by one: neither can tell that a topic policy lets no
alarm publish or that a trail's bucket refuses its trail. Here each row is a :class:`~kmsflow.policy.model.Request`
that AWS documents making, answered by :func:`kmsflow.policy.assembly.authorize` against the synthesized
policies: every row must be allowed, and each of its near-misses (another account's alarm, another trail,
another service, plain HTTP, a snapshot kmsflow did not make...) must be denied.

Rows are derived from what the assembly holds, not from kmsflow's configuration, so the table grows with the
templates: a trail yields its CloudTrail rows, an encrypted log group its CloudWatch Logs rows, an alarm action
its CloudWatch rows, a key-policy statement with ``kms:ViaService`` its service rows, and so on.

Not modelled: SNS delivering to subscriptions (email and HTTPS endpoints need no authorization; SQS and Lambda
endpoints' policies belong to their owners), SCPs, permission boundaries and session policies.

Pure Python (no ``aws_cdk``, no boto3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kmsflow.lambdas.snapshot_copy.job import SNAPSHOT_PREFIX, TAG_JOB_ID
from kmsflow.lambdas.snapshot_share.grants import GRANT_OPERATIONS
from kmsflow.policy.assembly import Assembly, Resource, authorize
from kmsflow.policy.document import as_list, statements
from kmsflow.policy.model import ContextValue, Decision, Policy, Principal, PrincipalKind, Request
from kmsflow.stacks.naming import REPORTS_BUCKET_VARIABLE

SECURE, SOURCE_ARN, SOURCE_ACCOUNT, VIA = "aws:SecureTransport", "aws:SourceArn", "aws:SourceAccount", "kms:ViaService"
TRAIL_CONTEXT = "kms:EncryptionContext:aws:cloudtrail:arn"
S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
FOR_AWS_RESOURCE = "kms:GrantIsForAWSResource"
ACL = "s3:x-amz-acl"
JOB_TAG = f"aws:ResourceTag/{TAG_JOB_ID}"
REGION = "aws:RequestedRegion"
RESOURCE_ACCOUNT = "s3:ResourceAccount"

#: An account that is none of the assembly's: the stranger of every "another account" near-miss.
OTHER_ACCOUNT = "999999999999"

#: The AWS pages the rows come from (title and address), cited by each row.
CLOUDTRAIL_BUCKET = (
    "CloudTrail User Guide, 'Amazon S3 bucket policy for CloudTrail' (and 'Setting bucket policy for "
    "multiple accounts'): "
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html"
)
CLOUDTRAIL_KEY = (
    "CloudTrail User Guide, 'Configure AWS KMS key policies for CloudTrail': "
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html"
)
CLOUDTRAIL_LOGS_ROLE = (
    "CloudTrail User Guide, 'Sending events to CloudWatch Logs' and 'Role policy document for CloudTrail "
    "to use CloudWatch Logs for monitoring': "
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html"
)
KMS_CLOUDTRAIL = (
    "KMS Developer Guide, 'How AWS CloudTrail uses AWS KMS' (encryption context of log files): "
    "https://docs.aws.amazon.com/kms/latest/developerguide/services-cloudtrail.html"
)
LOGS_KEY = (
    "CloudWatch Logs User Guide, 'Encrypt log data in CloudWatch Logs using AWS Key Management Service': "
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
)
ALARM_TOPIC = (
    "re:Post Knowledge Center, 'Why didn't I receive an SNS notification for my CloudWatch alarm "
    "trigger?' (sns:Publish for cloudwatch.amazonaws.com with aws:SourceArn): "
    "https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger"
)
RULE_TOPIC = (
    "EventBridge User Guide, 'Using resource-based policies for Amazon EventBridge', Amazon SNS "
    "permissions: "
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html"
)
TOPIC_KEY = (
    "Amazon SNS Developer Guide, 'Key management': 'Enable compatibility between event sources from AWS "
    "services and encrypted topics': "
    "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
)
ACCESS_LOGS = (
    "Amazon S3 User Guide, 'Enabling Amazon S3 server access logging' (bucket policy for "
    "logging.s3.amazonaws.com): "
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"
)
VIA_SERVICE = (
    "KMS Developer Guide, 'kms:ViaService' and 'kms:GrantIsForAWSResource' (AWS services use keys and "
    "create grants on a caller's behalf): "
    "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"
)
SNAPSHOT_ACTIONS = (
    "Service Authorization Reference, 'Actions, resources, and condition keys for Amazon RDS' and '... "
    "for Amazon EC2' (aws:ResourceTag on snapshot deletes): "
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html"
)
SHARE_GRANT = (
    "KMS Developer Guide, 'Grants in AWS KMS' and 'Using grant constraints' (kms:GranteePrincipal, "
    "kms:GrantOperations, kms:RetiringPrincipal); RDS User Guide, 'Sharing a DB snapshot' ('Allowing access to an "
    "AWS KMS key'): https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html"
)
SHARE_ASSUME = (
    "IAM User Guide, 'Access to AWS accounts owned by third parties' (sts:ExternalId) and 'AWS global condition "
    "context keys' (aws:PrincipalArn): "
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html"
)
GITHUB_OIDC = (
    "IAM User Guide, 'Create a role for OpenID Connect federation' and GitHub Docs, 'Configuring OpenID Connect in "
    "Amazon Web Services' (token.actions.githubusercontent.com:aud and :sub): "
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html"
)
#: The condition-key prefix of GitHub Actions' OIDC claims, and the claims a deploy role's trust tests.
GITHUB_CLAIMS = "token.actions.githubusercontent.com"
GITHUB_AUD, GITHUB_SUB = f"{GITHUB_CLAIMS}:aud", f"{GITHUB_CLAIMS}:sub"
BOOTSTRAP_ARTIFACTS = (
    "CDK Developer Guide, 'Bootstrapping' (the deploy role's PipelineCrossAccountArtifactsBucket and "
    "PipelineCrossAccountArtifactsKey statements, for pipelines of other accounts): "
    "https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html"
)
CODEBUILD_ROLE = (
    "CodeBuild User Guide, 'Allow CodeBuild to interact with other AWS services' (the service role's trust in "
    "codebuild.amazonaws.com): https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html"
)
S3_SSE_KMS = (
    "S3 User Guide, 'Using server-side encryption with AWS KMS keys (SSE-KMS)' and 'Reducing the cost of SSE-KMS "
    "with Amazon S3 Bucket Keys' (the caller needs kms:GenerateDataKey; the context is the bucket's ARN): "
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
)
DEPLOY_ROLE = (
    "CDK Developer Guide, 'Bootstrapping' (the CloudFormation execution role, AdministratorAccess by "
    "default) and KMS Developer Guide, 'Default key policy' (IAM decides where the key policy delegates "
    "to the account): "
    "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
)


@dataclass(frozen=True, kw_only=True)
class NearMiss:
    """A request one detail away from a row's, which the policies must deny: ``why`` says which detail."""

    why: str
    request: Request


@dataclass(frozen=True, kw_only=True)
class ServicePath:
    """One row: who asks what (``service``, ``what``), the page that documents it (``source``), the request,
    IAM policies of principals outside the assembly that the row assumes (``assumed_identity``, e.g. the CDK
    deploy role's AdministratorAccess), and the near-misses."""

    service: str
    what: str
    source: str
    request: Request
    near_misses: tuple[NearMiss, ...] = ()
    assumed_identity: tuple[Policy, ...] = field(default=())

    def decide(self, assembly: Assembly, request: Request | None = None) -> Decision:
        """The row's request (or one of its near-misses) answered against ``assembly``."""
        return authorize(assembly, request or self.request, extra_identity_policies=self.assumed_identity)

    def __str__(self) -> str:
        return f"{self.service}: {self.what}"


def service_paths(assembly: Assembly) -> list[ServicePath]:
    """Every row the assembly calls for, in a stable order (by builder, then by resource)."""
    return [row for build in _BUILDERS for row in build(assembly)]


# --- Request helpers -------------------------------------------------------------------------------------------


def _request(principal: Principal, action: str, resource: str, context: Mapping[str, ContextValue] = {}) -> Request:
    """A request over TLS (every AWS service calls another with TLS): ``aws:SecureTransport`` is true."""
    return Request(
        principal=principal, action=action, resource=resource, context={"aws:SecureTransport": "true", **context}
    )


def _with(request: Request, context: Mapping[str, ContextValue | None]) -> Request:
    """``request`` with some context keys replaced (``None`` removes the key)."""
    names = {name.lower() for name in context}
    merged = {k: v for k, v in request.context.items() if k.lower() not in names}
    merged.update({k: v for k, v in context.items() if v is not None})
    return replace(request, context=merged)


def _insecure(request: Request) -> NearMiss:
    return NearMiss(why="over plain HTTP (aws:SecureTransport false)", request=_with(request, {SECURE: "false"}))


def _foreign(arn: str, account: str) -> str:
    """The same ARN in :data:`OTHER_ACCOUNT` (a resource of someone else's)."""
    return arn.replace(f":{account}:", f":{OTHER_ACCOUNT}:")


def _env(assembly: Assembly, resource: Resource) -> tuple[str, str, str]:
    stack = assembly.stacks[resource.stack]
    return stack.partition, stack.region, stack.account


def _value(assembly: Assembly, resource: Resource, prop: str) -> Any:
    return assembly.resolve(resource.stack, resource.properties.get(prop))


# --- CloudTrail ------------------------------------------------------------------------------------------------


def _trail_rows(assembly: Assembly) -> Iterator[ServicePath]:
    cloudtrail = Principal.service("cloudtrail.amazonaws.com")
    for trail in assembly.resources("AWS::CloudTrail::Trail"):
        _, _, account = _env(assembly, trail)
        other_trail = _foreign(trail.arn, account)
        bucket, log_file = _trail_files(assembly, trail)
        source = {SOURCE_ARN: trail.arn, SOURCE_ACCOUNT: account}
        acl = _request(cloudtrail, "s3:GetBucketAcl", bucket, source)
        yield ServicePath(
            service="CloudTrail",
            what=f"checks the ACL of the bucket of {trail.arn}",
            source=CLOUDTRAIL_BUCKET,
            request=acl,
            near_misses=(
                NearMiss(
                    why="for another account's trail",
                    request=_with(acl, {SOURCE_ARN: other_trail, SOURCE_ACCOUNT: OTHER_ACCOUNT}),
                ),
                _insecure(acl),
            ),
        )
        put = _request(cloudtrail, "s3:PutObject", log_file, {ACL: "bucket-owner-full-control", **source})
        yield ServicePath(
            service="CloudTrail",
            what=f"delivers a log file of {trail.arn}",
            source=CLOUDTRAIL_BUCKET,
            request=put,
            near_misses=(
                NearMiss(
                    why="from another account's trail into this account's prefix",
                    request=_with(put, {SOURCE_ARN: other_trail, SOURCE_ACCOUNT: OTHER_ACCOUNT}),
                ),
                NearMiss(
                    why="into another account's prefix",
                    request=replace(
                        put, resource=log_file.replace(f"/AWSLogs/{account}/", f"/AWSLogs/{OTHER_ACCOUNT}/")
                    ),
                ),
                NearMiss(why="without the bucket-owner-full-control ACL", request=_with(put, {ACL: "private"})),
                _insecure(put),
            ),
        )
        key = _value(assembly, trail, "KMSKeyId")
        if isinstance(key, str) and key:
            yield from _trail_key_rows(cloudtrail, trail, key, log_file, other_trail)
        role = _value(assembly, trail, "CloudWatchLogsRoleArn")
        if isinstance(role, str) and role:
            what = f"assumes its role to deliver {trail.arn} to CloudWatch Logs"
            yield _service_assumes("CloudTrail", cloudtrail, role, what, CLOUDTRAIL_LOGS_ROLE)


def _service_assumes(service: str, principal: Principal, role: str, what: str, source: str) -> ServicePath:
    """A service assuming its role (the role's trust); another service asking is denied."""
    assume = _request(principal, "sts:AssumeRole", role)
    other = Principal.service("lambda.amazonaws.com")
    return ServicePath(
        service=service,
        what=what,
        source=source,
        request=assume,
        near_misses=(NearMiss(why="by another service", request=replace(assume, principal=other)),),
    )


def _trail_files(assembly: Assembly, trail: Resource) -> tuple[str, str]:
    """The ARNs of a trail's bucket and of a log file it writes there (``AWSLogs/<account>/CloudTrail/...``)."""
    partition, region, account = _env(assembly, trail)
    bucket = f"arn:{partition}:s3:::{_value(assembly, trail, 'S3BucketName')}"
    return bucket, f"{bucket}/AWSLogs/{account}/CloudTrail/{region}/2026/11/30/{account}_CloudTrail_{region}_x.json.gz"


def _trail_key_rows(
    cloudtrail: Principal, trail: Resource, key: str, log_file: str, other_trail: str
) -> Iterator[ServicePath]:
    generate = _request(
        cloudtrail, "kms:GenerateDataKey", key, {SOURCE_ARN: trail.arn, TRAIL_CONTEXT: trail.arn, S3_CONTEXT: log_file}
    )
    yield ServicePath(
        service="CloudTrail",
        what=f"generates the data key of a log file of {trail.arn}",
        source=f"{CLOUDTRAIL_KEY}; {KMS_CLOUDTRAIL}",
        request=generate,
        near_misses=(
            NearMiss(why="for another account's trail", request=_with(generate, {SOURCE_ARN: other_trail})),
            NearMiss(
                why="with another account's trail in the encryption context",
                request=_with(generate, {TRAIL_CONTEXT: other_trail}),
            ),
            NearMiss(
                why="without CloudTrail's encryption context",
                request=_with(generate, {TRAIL_CONTEXT: None}),
            ),
        ),
    )
    describe = _request(cloudtrail, "kms:DescribeKey", key, {SOURCE_ARN: trail.arn})
    yield ServicePath(
        service="CloudTrail",
        what=f"describes the key of {trail.arn}",
        source=CLOUDTRAIL_KEY,
        request=describe,
        near_misses=(NearMiss(why="for another account's trail", request=_with(describe, {SOURCE_ARN: other_trail})),),
    )


def _auditor_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """Auditors read log files through S3, which decrypts with their credentials: the ``AuditorsDecryptLogFiles``
    statement of each trail key must still match the context CloudTrail writes (no S3 Bucket Key)."""
    for trail in assembly.resources("AWS::CloudTrail::Trail"):
        _, region, account = _env(assembly, trail)
        key = _value(assembly, trail, "KMSKeyId")
        governing = assembly.resource_policy(key) if isinstance(key, str) else None
        if governing is None:
            continue
        _, log_file = _trail_files(assembly, trail)
        for _, statement in statements(governing[0].document):
            if statement.get("Sid") != "AuditorsDecryptLogFiles":
                continue
            for auditor in as_list((statement.get("Principal") or {}).get("AWS")):
                principal = Principal.role(str(auditor))
                # An auditor of another account also needs its own IAM policy on this key (cross-account use).
                own_policy = Policy(
                    document={"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}]},
                    source=f"the IAM policy of {auditor} (outside the assembly): kms:Decrypt on {key}",
                )
                read = _request(
                    principal,
                    "kms:Decrypt",
                    key,
                    {VIA: f"s3.{region}.amazonaws.com", TRAIL_CONTEXT: trail.arn, S3_CONTEXT: log_file},
                )
                yield ServicePath(
                    service="S3 for an auditor",
                    what=f"decrypts a log file of {trail.arn} for {auditor}",
                    source=f"{CLOUDTRAIL_KEY}; {KMS_CLOUDTRAIL}",
                    request=read,
                    assumed_identity=(own_policy,) if principal.account != account else (),
                    near_misses=(
                        NearMiss(
                            why="an object that is not a CloudTrail log file (no aws:cloudtrail:arn context)",
                            request=_with(read, {TRAIL_CONTEXT: None}),
                        ),
                    ),
                )


# --- CloudWatch Logs ---------------------------------------------------------------------------------------------


def _log_group_rows(assembly: Assembly) -> Iterator[ServicePath]:
    for group in assembly.resources("AWS::Logs::LogGroup"):
        key = _value(assembly, group, "KmsKeyId")
        if not isinstance(key, str) or not key:
            continue
        _, region, account = _env(assembly, group)
        group_arn = group.arn.removesuffix(":*")  # the encryption context names the group without ":*"
        logs = Principal.service(f"logs.{region}.amazonaws.com")
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            use = _request(logs, action, key, {LOGS_CONTEXT: group_arn})
            yield ServicePath(
                service="CloudWatch Logs",
                what=f"{action} for the log group {group_arn}",
                source=LOGS_KEY,
                request=use,
                near_misses=(
                    NearMiss(
                        why="for another account's log group",
                        request=_with(use, {LOGS_CONTEXT: _foreign(group_arn, account)}),
                    ),
                    NearMiss(
                        why="by CloudWatch Logs of another region",
                        request=replace(use, principal=Principal.service("logs.ap-southeast-2.amazonaws.com")),
                    ),
                ),
            )


# --- Topics: CloudWatch alarms and EventBridge rules -------------------------------------------------------------


def _alarm_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """One row per topic that alarms notify (the first alarm stands for the rest: the statement names alarms of
    the account, not one alarm), and the rows of the topic's key."""
    seen: set[str] = set()
    cloudwatch = Principal.service("cloudwatch.amazonaws.com")
    for alarm in assembly.resources("AWS::CloudWatch::Alarm"):
        _, _, account = _env(assembly, alarm)
        topics = as_list(_value(assembly, alarm, "AlarmActions")) + as_list(_value(assembly, alarm, "OKActions"))
        for topic in dict.fromkeys(str(t) for t in topics if ":sns:" in str(t)):
            if topic in seen:
                continue
            seen.add(topic)
            publish = _request(cloudwatch, "sns:Publish", topic, {SOURCE_ARN: alarm.arn, SOURCE_ACCOUNT: account})
            yield ServicePath(
                service="CloudWatch",
                what=f"an alarm notifies {topic}",
                source=ALARM_TOPIC,
                request=publish,
                near_misses=(
                    NearMiss(
                        why="for another account's alarm",
                        request=_with(
                            publish, {SOURCE_ARN: _foreign(alarm.arn, account), SOURCE_ACCOUNT: OTHER_ACCOUNT}
                        ),
                    ),
                    _insecure(publish),
                ),
            )
            yield from _topic_key_rows(assembly, cloudwatch, topic)


def _rule_rows(assembly: Assembly) -> Iterator[ServicePath]:
    events = Principal.service("events.amazonaws.com")
    for rule in assembly.resources("AWS::Events::Rule"):
        _, _, account = _env(assembly, rule)
        for target in as_list(_value(assembly, rule, "Targets")):
            topic = str(target.get("Arn")) if isinstance(target, Mapping) else ""
            if ":sns:" not in topic:
                continue
            publish = _request(events, "sns:Publish", topic, {SOURCE_ARN: rule.arn, SOURCE_ACCOUNT: account})
            yield ServicePath(
                service="EventBridge",
                what=f"the rule {rule.arn} publishes to {topic}",
                source=RULE_TOPIC,
                request=publish,
                near_misses=(
                    NearMiss(
                        why="for another rule of the account", request=_with(publish, {SOURCE_ARN: rule.arn + "-other"})
                    ),
                    NearMiss(
                        why="for another account's rule",
                        request=_with(
                            publish, {SOURCE_ARN: _foreign(rule.arn, account), SOURCE_ACCOUNT: OTHER_ACCOUNT}
                        ),
                    ),
                ),
            )
            yield from _topic_key_rows(assembly, events, topic)


def _topic_key_rows(assembly: Assembly, publisher: Principal, topic: str) -> Iterator[ServicePath]:
    """A service that publishes to an encrypted topic needs GenerateDataKey and Decrypt on the topic's key."""
    resource = assembly.resource_at(topic)
    if resource is None or resource.type != "AWS::SNS::Topic":
        return
    key = _value(assembly, resource, "KmsMasterKeyId")
    if not isinstance(key, str) or not key:
        return
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        use = _request(publisher, action, key)
        yield ServicePath(
            service=publisher.arn,
            what=f"{action} on the key of the encrypted topic {topic}",
            source=TOPIC_KEY,
            request=use,
            near_misses=(
                NearMiss(
                    why="by a service that publishes nothing here",
                    request=replace(use, principal=Principal.service("s3.amazonaws.com")),
                ),
            ),
        )


# --- S3 server access logs ---------------------------------------------------------------------------------------


def _access_log_rows(assembly: Assembly) -> Iterator[ServicePath]:
    logging = Principal.service("logging.s3.amazonaws.com")
    for bucket in assembly.resources("AWS::S3::Bucket"):
        config = _value(assembly, bucket, "LoggingConfiguration")
        if not isinstance(config, Mapping) or not config.get("DestinationBucketName"):
            continue
        partition, _, account = _env(assembly, bucket)
        target = f"arn:{partition}:s3:::{config['DestinationBucketName']}/{config.get('LogFilePrefix', '')}2026-11-30-x"
        put = _request(logging, "s3:PutObject", target, {SOURCE_ARN: bucket.arn, SOURCE_ACCOUNT: account})
        yield ServicePath(
            service="S3 server access logging",
            what=f"delivers the access logs of {bucket.arn}",
            source=ACCESS_LOGS,
            request=put,
            near_misses=(
                NearMiss(why="for another bucket", request=_with(put, {SOURCE_ARN: bucket.arn + "-other"})),
                NearMiss(why="for another account's bucket", request=_with(put, {SOURCE_ACCOUNT: OTHER_ACCOUNT})),
            ),
        )


# --- Services using keys on a principal's behalf (kms:ViaService) ------------------------------------------------


def _via_service_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """For every key-policy Allow that is bound to ``kms:ViaService``: the service using the key (or creating a
    grant for an AWS resource) on the principal's behalf is allowed; the same call made directly, through a
    service not listed, or a grant that is not for an AWS resource, is not."""
    defined = set(assembly.identities())
    for key in [*assembly.resources("AWS::KMS::Key"), *assembly.resources("AWS::KMS::ReplicaKey")]:
        governing = assembly.resource_policy(key.arn)
        if governing is None:
            continue
        partition, region, _ = _env(assembly, key)
        for _, statement in statements(governing[0].document):
            via = _condition_values(statement, "kms:ViaService")
            if statement.get("Effect") != "Allow" or not via:
                continue
            for principal, identity in _statement_callers(statement, partition, key.arn, defined):
                action = (
                    "kms:CreateGrant"
                    if "kms:CreateGrant" in as_list(statement.get("Action"))
                    else _use_action(statement)
                )
                context: dict[str, ContextValue] = {VIA: via[0]}
                if action == "kms:CreateGrant":
                    context[FOR_AWS_RESOURCE] = "true"
                request = _request(principal, action, key.arn, context)
                near = [
                    NearMiss(why="called directly, not through the service", request=_with(request, {VIA: None})),
                    NearMiss(
                        why="through a service the statement does not list",
                        request=_with(request, {VIA: f"sqs.{region}.amazonaws.com"}),
                    ),
                ]
                if action == "kms:CreateGrant":
                    near.append(
                        NearMiss(
                            why="a grant that is not for an AWS resource",
                            request=_with(request, {FOR_AWS_RESOURCE: "false"}),
                        )
                    )
                yield ServicePath(
                    service=via[0].split(".")[0].upper(),
                    what=f"{action} on {key.stack}/{key.logical_id} for {principal.arn} ({statement.get('Sid')})",
                    source=VIA_SERVICE,
                    request=request,
                    near_misses=tuple(near),
                    assumed_identity=identity,
                )


def _condition_values(statement: Mapping[str, Any], key: str) -> list[str]:
    for block in (statement.get("Condition") or {}).values():
        if isinstance(block, Mapping):
            for name, value in block.items():
                if name.lower() == key.lower():
                    return [str(v) for v in as_list(value)]
    return []


def _use_action(statement: Mapping[str, Any]) -> str:
    """The representative use action of a statement: what RDS and EBS call first on a caller's behalf."""
    actions = [str(a) for a in as_list(statement.get("Action"))]
    for preferred in ("kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:CreateGrant"):
        if preferred in actions:
            return preferred
    return actions[0]


def _statement_callers(
    statement: Mapping[str, Any], partition: str, key_arn: str, defined: set[str]
) -> Iterator[tuple[Principal, tuple[Policy, ...]]]:
    """The principals a statement is for: a named role as is (a CDK bootstrap deploy role outside the assembly
    with the policy ``cdk bootstrap`` gives it); an account root narrowed by ``aws:PrincipalArn`` to that role; any
    other account root as an example role of that account, whose own IAM policy (outside the assembly) is assumed
    to allow the key, as KMS requires for a root principal."""
    narrowed = _condition_values(statement, "aws:PrincipalArn")
    for name in as_list((statement.get("Principal") or {}).get("AWS")):
        text = str(name)
        bootstrap = _BOOTSTRAP_DEPLOY_ROLE.match(text)
        if bootstrap is not None and text not in defined:
            yield Principal.role(text), (_bootstrap_artifacts_key_policy(text, bootstrap.group("region")),)
        elif not text.endswith(":root"):
            yield Principal.role(text), ()
        elif narrowed:
            for arn in narrowed:
                yield Principal.role(arn), ()
        else:
            account = text.split(":")[4]
            arn = f"arn:{partition}:iam::{account}:role/kmsflow-example-caller"
            yield (
                Principal.role(arn),
                (
                    Policy(
                        document={"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": key_arn}]},
                        source=f"the IAM policy of a role of account {account} (outside the assembly): "
                        f"kms:* on {key_arn}",
                    ),
                ),
            )


#: A CDK bootstrap deploy role (``cdk-<qualifier>-deploy-role-<account>-<region>``).
_BOOTSTRAP_DEPLOY_ROLE = re.compile(
    r"^arn:[^:]+:iam::(?P<account>\d{12}):role/cdk-[a-z0-9]+-deploy-role-(?P=account)-(?P<region>[a-z0-9-]+)$"
)


def _bootstrap_artifacts_key_policy(role: str, region: str) -> Policy:
    """What ``cdk bootstrap`` lets its deploy role do with another account's pipeline artifact keys: statement
    ``PipelineCrossAccountArtifactsKey`` of the bootstrap template, through S3 in the role's region only."""
    actions = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    condition = {"StringEquals": {VIA: f"s3.{region}.amazonaws.com"}}
    return _bootstrap_statement(role, "PipelineCrossAccountArtifactsKey", actions, condition)


def _bootstrap_statement(role: str, sid: str, actions: list[str], condition: dict[str, Any]) -> Policy:
    """Statement ``sid`` of the CDK bootstrap template's deploy-role policy (on every resource, under
    ``condition``), as the identity policy of ``role``, which is outside the assembly."""
    statement = {"Effect": "Allow", "Action": actions, "Resource": "*", "Condition": condition}
    return Policy(
        document={"Statement": [statement]},
        source=f"the CDK bootstrap template's {sid} statement of {role} (outside the assembly; CDK Developer Guide, "
        "'Bootstrapping')",
    )


# --- Snapshot deletes of the workflow roles ----------------------------------------------------------------------

#: Delete actions -> the ARN of a snapshot kmsflow made (``{p}`` partition, ``{r}`` region, ``{a}`` account): RDS
#: and Aurora snapshots carry kmsflow's name prefix, EBS snapshots only its tags.
_OWN_SNAPSHOTS: dict[str, str] = {
    "rds:DeleteDBSnapshot": "arn:{p}:rds:{r}:{a}:snapshot:" + SNAPSHOT_PREFIX + "0123abcd-src",
    "rds:DeleteDBClusterSnapshot": "arn:{p}:rds:{r}:{a}:cluster-snapshot:" + SNAPSHOT_PREFIX + "0123abcd-src",
    "ec2:DeleteSnapshot": "arn:{p}:ec2:{r}::snapshot/snap-0123456789abcdef0",
}


def _snapshot_delete_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """Every role whose policy lets it delete snapshots may delete one kmsflow made (RDS: named ``kmsflow-*``;
    all: tagged with the job id) in the regions its statement names, and no other: not a snapshot named
    otherwise, not one without the job tag."""
    for policy in assembly.resources("AWS::IAM::Policy"):
        partition, home, account = _env(assembly, policy)
        document = _value(assembly, policy, "PolicyDocument")
        roles = [f"arn:{partition}:iam::{account}:role/{name}" for name in as_list(_value(assembly, policy, "Roles"))]
        for _, statement in statements(document if isinstance(document, Mapping) else {}):
            for action in [str(a) for a in as_list(statement.get("Action")) if a in _OWN_SNAPSHOTS]:
                for region in _statement_regions(statement) or [home]:
                    example = _OWN_SNAPSHOTS[action].format(p=partition, r=region, a=account)
                    for role in roles:
                        yield _delete_row(role, action, example, region)


def _statement_regions(statement: Mapping[str, Any]) -> list[str]:
    """The regions a statement's resources (or its ``aws:RequestedRegion`` condition) name."""
    regions = [str(r).split(":")[3] for r in as_list(statement.get("Resource")) if str(r).count(":") >= 5]
    regions += _condition_values(statement, REGION)
    return [r for r in dict.fromkeys(regions) if r and "*" not in r]


def _delete_row(role: str, action: str, example: str, region: str) -> ServicePath:
    delete = _request(Principal.role(role), action, example, {JOB_TAG: "0123abcd", REGION: region})
    near = [NearMiss(why="a snapshot without kmsflow's job tag", request=_with(delete, {JOB_TAG: None}))]
    if action.startswith("rds:"):
        automated = example.rsplit(":", 1)[0] + ":rds:prod-db-2026-11-30-00-00"
        near.append(
            NearMiss(why="an automated RDS backup (not named by kmsflow)", request=replace(delete, resource=automated))
        )
    return ServicePath(
        service=f"workflow role {role.rsplit('/', 1)[1]}",
        what=f"{action} of a snapshot kmsflow made ({example})",
        source=SNAPSHOT_ACTIONS,
        request=delete,
        near_misses=tuple(near),
    )


# --- Snapshot share: the grant on a sharing key, the target's copy role -----------------------------------------

GRANTEE, GRANT_OPERATIONS_KEY, RETIRING = "kms:GranteePrincipal", "kms:GrantOperations", "kms:RetiringPrincipal"
EXTERNAL_ID = "sts:ExternalId"


def _share_grant_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """For every key-policy Allow of ``kms:CreateGrant`` bound to named grantees (``kms:GranteePrincipal``) and a
    retiring principal: the step role it names creates the grant a copy of each family needs, for each declared
    grantee; another grantee, an operation beyond the copy's, another retiring principal or another role of the
    account is denied."""
    for key in [*assembly.resources("AWS::KMS::Key"), *assembly.resources("AWS::KMS::ReplicaKey")]:
        governing = assembly.resource_policy(key.arn)
        if governing is None:
            continue
        for _, statement in statements(governing[0].document):
            grantees = _condition_values(statement, GRANTEE)
            retiring = _condition_values(statement, RETIRING)
            if statement.get("Effect") != "Allow" or not grantees or not retiring:
                continue
            if "kms:CreateGrant" not in as_list(statement.get("Action")):
                continue
            callers = _condition_values(statement, "aws:PrincipalArn")
            for caller in callers:
                for family, operations in _distinct_operations():
                    for grantee in grantees:
                        yield _share_grant_row(key, caller, grantee, retiring[0], family, operations)


def _distinct_operations() -> list[tuple[str, tuple[str, ...]]]:
    """(families, operations) for each distinct set of grant operations (RDS and Aurora need the same)."""
    by_operations: dict[tuple[str, ...], list[str]] = {}
    for family, operations in GRANT_OPERATIONS.items():
        by_operations.setdefault(tuple(sorted(operations)), []).append(family)
    return [("/".join(families), operations) for operations, families in by_operations.items()]


def _share_grant_row(
    key: Resource, caller: str, grantee: str, retiring: str, family: str, operations: tuple[str, ...]
) -> ServicePath:
    account = caller.split(":")[4]
    create = _request(
        Principal.role(caller),
        "kms:CreateGrant",
        key.arn,
        {GRANTEE: grantee, GRANT_OPERATIONS_KEY: list(operations), RETIRING: retiring},
    )
    return ServicePath(
        service=f"share step {caller.rsplit('/', 1)[1]}",
        what=f"creates a {family} copy grant on {key.stack}/{key.logical_id} for {grantee}",
        source=SHARE_GRANT,
        request=create,
        near_misses=(
            NearMiss(
                why="for another grantee", request=_with(create, {GRANTEE: f"arn:aws:iam::{OTHER_ACCOUNT}:role/x"})
            ),
            NearMiss(
                why="with an operation a copy does not need (Sign)",
                request=_with(create, {GRANT_OPERATIONS_KEY: [*operations, "Sign"]}),
            ),
            NearMiss(
                why="with an operation a copy does not need (RetireGrant)",
                request=_with(create, {GRANT_OPERATIONS_KEY: [*operations, "RetireGrant"]}),
            ),
            NearMiss(why="with another retiring principal", request=_with(create, {RETIRING: grantee})),
            NearMiss(why="without a retiring principal", request=_with(create, {RETIRING: None})),
            NearMiss(
                why="by another step role of the account (the retiring one)",
                request=replace(create, principal=Principal.role(retiring)),
            ),
            NearMiss(
                why="by a role of another account",
                request=replace(create, principal=Principal.role(caller.replace(f":{account}:", f":{OTHER_ACCOUNT}:"))),
            ),
        ),
    )


def _share_assume_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """For every role whose trust admits one principal by ``aws:PrincipalArn`` with an ``sts:ExternalId`` (a share
    target's copy role): that principal assumes it with the external id; a wrong or missing external id, another
    role of the same account, and the same role name in another account are denied."""
    for role in assembly.resources("AWS::IAM::Role"):
        trust = _value(assembly, role, "AssumeRolePolicyDocument")
        for _, statement in statements(trust if isinstance(trust, Mapping) else {}):
            external = _condition_values(statement, EXTERNAL_ID)
            callers = _condition_values(statement, "aws:PrincipalArn")
            if statement.get("Effect") != "Allow" or not external or not callers:
                continue
            for caller in callers:
                account = caller.split(":")[4]
                assume = _request(Principal.role(caller), "sts:AssumeRole", role.arn, {EXTERNAL_ID: external[0]})
                sibling = caller.rsplit("-", 2)[0] + "-open-access" if "-" in caller else caller + "-other"
                yield ServicePath(
                    service=f"share step {caller.rsplit('/', 1)[1]}",
                    what=f"assumes {role.arn} with its external id",
                    source=SHARE_ASSUME,
                    request=assume,
                    near_misses=(
                        NearMiss(why="with a wrong external id", request=_with(assume, {EXTERNAL_ID: "guessed"})),
                        NearMiss(why="without an external id", request=_with(assume, {EXTERNAL_ID: None})),
                        NearMiss(
                            why="by another role of the source account",
                            request=replace(assume, principal=Principal.role(sibling)),
                        ),
                        NearMiss(
                            why="by the same role name in another account",
                            request=replace(
                                assume, principal=Principal.role(caller.replace(f":{account}:", f":{OTHER_ACCOUNT}:"))
                            ),
                        ),
                    ),
                )


# --- GitHub Actions ------------------------------------------------------------------------------------------


def _github_oidc_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """For every role whose trust admits an OIDC provider with GitHub's ``aud`` and ``sub`` claims (the CI stack's
    deploy role): STS assumes it for a token of each allowed subject; the same token with another repository,
    another branch, a pull request's subject, another audience, or from another provider is denied."""
    for role in assembly.resources("AWS::IAM::Role"):
        trust = _value(assembly, role, "AssumeRolePolicyDocument")
        for _, statement in statements(trust if isinstance(trust, Mapping) else {}):
            principal = statement.get("Principal")
            providers = as_list(principal.get(PrincipalKind.FEDERATED)) if isinstance(principal, Mapping) else []
            audiences, subjects = _condition_values(statement, GITHUB_AUD), _condition_values(statement, GITHUB_SUB)
            if statement.get("Effect") != "Allow" or not providers or not audiences:
                continue
            federated = Principal(arn=str(providers[0]), kind=PrincipalKind.FEDERATED)
            for subject in subjects:
                yield _github_oidc_row(role.arn, federated, audiences[0], subject)


def _github_oidc_row(role: str, provider: Principal, audience: str, subject: str) -> ServicePath:
    assume = _request(provider, "sts:AssumeRoleWithWebIdentity", role, {GITHUB_AUD: audience, GITHUB_SUB: subject})
    repository = subject.split(":")[1]
    return ServicePath(
        service="GitHub Actions",
        what=f"assumes {role} for {subject}",
        source=GITHUB_OIDC,
        request=assume,
        near_misses=(
            NearMiss(
                why="for another repository",
                request=_with(assume, {GITHUB_SUB: subject.replace(f":{repository}:", f":{repository}-fork:", 1)}),
            ),
            NearMiss(why="for another branch or environment", request=_with(assume, {GITHUB_SUB: f"{subject}-other"})),
            NearMiss(why="for a pull request", request=_with(assume, {GITHUB_SUB: f"repo:{repository}:pull_request"})),
            NearMiss(why="for another audience", request=_with(assume, {GITHUB_AUD: "another-audience"})),
            NearMiss(
                why="from another identity provider",
                request=replace(assume, principal=replace(provider, arn=f"{provider.arn}-other")),
            ),
        ),
    )


# --- A pipeline's cross-account deployments -------------------------------------------------------------------


def _artifact_read_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """For every bucket whose policy lets a CDK bootstrap deploy role of another account read it (a pipeline's
    artifact bucket, ``crossAccountKeys``): that role reads an artifact over TLS, with the policy ``cdk bootstrap``
    gives it (outside the assembly); over plain HTTP it is denied. Its use of the bucket's key through S3 is a
    ``kms:ViaService`` row of :func:`_via_service_rows`."""
    for bucket in assembly.resources("AWS::S3::Bucket"):
        governing = assembly.resource_policy(f"{bucket.arn}/x")
        if governing is None:
            continue
        _, _, account = _env(assembly, bucket)
        readers = {
            str(name)
            for _, statement in statements(governing[0].document)
            if statement.get("Effect") == "Allow"
            for name in as_list((statement.get("Principal") or {}).get("AWS"))
            if _BOOTSTRAP_DEPLOY_ROLE.match(str(name)) and str(name).split(":")[4] != account
        }
        for role in sorted(readers):
            read = _request(Principal.role(role), "s3:GetObject", f"{bucket.arn}/pipeline/Synth_Outp/x.zip")
            read = _with(read, {RESOURCE_ACCOUNT: account})
            yield ServicePath(
                service="CodePipeline (target account's deploy role)",
                what=f"reads an artifact of {bucket.arn} for {role}",
                source=BOOTSTRAP_ARTIFACTS,
                request=read,
                assumed_identity=(_bootstrap_artifacts_bucket_policy(role),),
                near_misses=(
                    _insecure(read),
                    NearMiss(
                        why="by the deploy role of an account the pipeline does not deploy to",
                        request=replace(read, principal=Principal.role(_foreign(role, role.split(":")[4]))),
                    ),
                ),
            )


def _bootstrap_artifacts_bucket_policy(role: str) -> Policy:
    """Statement ``PipelineCrossAccountArtifactsBucket`` of the CDK bootstrap template: the deploy role may read and
    write pipeline artifacts in buckets of other accounts only."""
    actions = ["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:Abort*", "s3:DeleteObject*", "s3:PutObject*"]
    condition = {"StringNotEquals": {RESOURCE_ACCOUNT: role.split(":")[4]}}
    return _bootstrap_statement(role, "PipelineCrossAccountArtifactsBucket", actions, condition)


# --- The pipeline's Review step -------------------------------------------------------------------------------


def _review_report_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """For the CodeBuild project of a pipeline's Review step (the one given the reports bucket in
    ``REPORTS_BUCKET``): CodeBuild assumes its role; the role writes a report into the bucket over TLS, and S3
    generates the object's data key with the role's credentials; another service, plain HTTP, another bucket and
    another account's role are denied."""
    codebuild = Principal.service("codebuild.amazonaws.com")
    for project in assembly.resources("AWS::CodeBuild::Project"):
        environment = _value(assembly, project, "Environment")
        variables = environment.get("EnvironmentVariables", []) if isinstance(environment, Mapping) else []
        buckets = [
            v.get("Value") for v in variables if isinstance(v, Mapping) and v.get("Name") == REPORTS_BUCKET_VARIABLE
        ]
        role = _value(assembly, project, "ServiceRole")
        if len(buckets) != 1 or not isinstance(buckets[0], str) or not isinstance(role, str):
            continue
        partition, region, account = _env(assembly, project)
        yield _service_assumes("CodeBuild", codebuild, role, f"assumes the Review role {role}", CODEBUILD_ROLE)
        bucket = f"arn:{partition}:s3:::{buckets[0]}"
        reviewer = Principal.role(role)
        put = _request(reviewer, "s3:PutObject", f"{bucket}/executions/x/stage/review.html")
        yield ServicePath(
            service="Review step",
            what=f"writes a review report into {bucket}",
            source=CODEBUILD_ROLE,
            request=put,
            near_misses=(
                _insecure(put),
                NearMiss(why="into another bucket", request=replace(put, resource=f"{bucket}-other/review.html")),
            ),
        )
        key = _bucket_key(assembly, bucket)
        if key is None:
            continue
        generate = _request(
            reviewer, "kms:GenerateDataKey", key, {VIA: f"s3.{region}.amazonaws.com", S3_CONTEXT: bucket}
        )
        yield ServicePath(
            service="S3 for the Review step",
            what=f"generates the data key of a report in {bucket}",
            source=S3_SSE_KMS,
            request=generate,
            near_misses=(
                NearMiss(
                    why="for another account's role of that name",
                    request=replace(generate, principal=Principal.role(_foreign(role, account))),
                ),
            ),
        )


def _bucket_key(assembly: Assembly, bucket_arn: str) -> str | None:
    """The ARN of the KMS key a bucket of the assembly encrypts with by default, if any."""
    bucket = assembly.resource_at(bucket_arn)
    if bucket is None or bucket.type != "AWS::S3::Bucket":
        return None
    encryption = _value(assembly, bucket, "BucketEncryption")
    rules = encryption.get("ServerSideEncryptionConfiguration", []) if isinstance(encryption, Mapping) else []
    for rule in rules:
        default = rule.get("ServerSideEncryptionByDefault") if isinstance(rule, Mapping) else None
        key = default.get("KMSMasterKeyID") if isinstance(default, Mapping) else None
        if isinstance(key, str) and key:
            return key
    return None


# --- The deploying principal ----------------------------------------------------------------------------------


def _deploy_rows(assembly: Assembly) -> Iterator[ServicePath]:
    """CloudFormation, through the CDK bootstrap's execution role (AdministratorAccess), must be able to update
    every key's policy after creating it (else the next deploy fails); where the account root holds only
    administration, that role must not be able to decrypt."""
    for key in assembly.resources("AWS::KMS::Key"):
        partition, region, account = _env(assembly, key)
        role = Principal.role(f"arn:{partition}:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{region}")
        admin = Policy(
            document={"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            source=f"AdministratorAccess of {role.arn} (CDK bootstrap default, outside the assembly)",
        )
        update = _request(role, "kms:PutKeyPolicy", key.arn)
        governing = assembly.resource_policy(key.arn)
        admin_only = governing is not None and any(
            s.get("Sid") == "RootAccountAdministration" for _, s in statements(governing[0].document)
        )
        yield ServicePath(
            service="CloudFormation (CDK deploy role)",
            what=f"updates the policy of {key.stack}/{key.logical_id}",
            source=DEPLOY_ROLE,
            request=update,
            assumed_identity=(admin,),
            near_misses=(
                NearMiss(
                    why="decrypting with the key (root holds administration only)",
                    request=replace(update, action="kms:Decrypt"),
                ),
            )
            if admin_only
            else (),
        )


_BUILDERS: Sequence[Callable[[Assembly], Iterator[ServicePath]]] = (
    _trail_rows,
    _auditor_rows,
    _log_group_rows,
    _alarm_rows,
    _rule_rows,
    _access_log_rows,
    _via_service_rows,
    _snapshot_delete_rows,
    _share_grant_rows,
    _share_assume_rows,
    _github_oidc_rows,
    _artifact_read_rows,
    _review_report_rows,
    _deploy_rows,
)
