"""kmsflow's configuration: the pydantic model of ``kmsflow.yaml`` and its loader with precise errors.

Loading happens in two passes. The first is structural (pydantic, strict: unknown fields, wrong types and
missing fields are errors). The second checks meaning against kmsflow's tables (key specs, roles, aliases,
account and region names). Every issue of both passes is collected and raised together as one
:class:`~kmsflow.errors.ConfigError` naming the file, the line, the path (``keys[2].rotation_days``), the
value received and what is allowed.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kmsflow.config_checks import principal_lists, semantic_issues
from kmsflow.config_yaml import Loc, YamlDocument, did_you_mean, format_path, load_yaml
from kmsflow.errors import ConfigError, ConfigIssue
from kmsflow.keyspec import KeySettings, SettingProblem, resolve_key_settings

#: The file ``app.py`` reads when no ``-c config=PATH`` is given.
DEFAULT_CONFIG = "kmsflow.yaml"

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,62}$")]

#: An acknowledgment's reason must say something: "ok" is not a reason a security reviewer accepts.
MIN_REASON_LENGTH = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AccountConfig(_Strict):
    """A named AWS account. ``id`` is a quoted 12-digit string (YAML would drop a leading zero)."""

    id: str
    description: str = ""


class ServiceUsersConfig(_Strict):
    principals: list[str]
    services: list[str]


class CrossAccountConfig(_Strict):
    account: str
    principals: list[str] = []
    via_services: list[str] = []


class OrganizationConfig(_Strict):
    id: Annotated[str, Field(pattern=r"^o-[a-z0-9]{10,32}$")]
    via_services: list[str] = []


class StatementConfig(_Strict):
    """A free key-policy statement in IAM JSON form (checked by the same guards as generated ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)

    Sid: Annotated[str, Field(pattern=r"^[A-Za-z0-9]+$")] | None = None
    Effect: Literal["Allow", "Deny"]
    Principal: Literal["*"] | dict[Literal["AWS", "Service", "Federated"], str | list[str]]
    Action: str | list[str]
    Resource: str | list[str] = "*"
    Condition: dict[str, dict[str, str | bool | list[str]]] | None = None


class PolicyConfig(_Strict):
    """``mode: default`` (account root + IAM decides) or ``mode: custom`` (roles below)."""

    mode: Literal["default", "custom"] = "default"
    root_access: Literal["admin", "full"] = "admin"
    administrators: list[str] = []
    users: list[str] = []
    service_users: ServiceUsersConfig | None = None
    signers: list[str] = []
    verifiers: list[str] = []
    public_key_encrypters: list[str] = []
    mac_users: list[str] = []
    cross_account: list[CrossAccountConfig] = []
    organizations: list[OrganizationConfig] = []
    statements: list[StatementConfig] = []
    separation_reason: str | None = None


class AcknowledgmentConfig(_Strict):
    """A cdk-nag finding accepted for one key, with the reason a reviewer reads in the template metadata."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9.]+::[A-Za-z0-9.]+-[A-Za-z0-9]+(\[.+\])?$")]
    reason: Annotated[str, Field(min_length=MIN_REASON_LENGTH)]


class KeyConfig(_Strict):
    """One customer managed key. ``name`` is its construct id: renaming it replaces the key."""

    name: Name
    account: str
    region: str
    description: str = ""
    aliases: list[str] = []
    spec: str = "SYMMETRIC_DEFAULT"
    usage: str | None = None
    rotation: bool | None = None
    rotation_days: int | None = None
    deletion_window_days: int | None = None
    origin: str | None = None
    multi_region: bool | None = None
    replicas: list[str] = []
    enabled: bool = True
    policy: PolicyConfig = PolicyConfig()
    tags: dict[str, str] = {}
    acknowledgments: list[AcknowledgmentConfig] = []

    @property
    def is_multi_region(self) -> bool:
        """Replicas make a key multi-region even when ``multi_region`` is not written."""
        return bool(self.multi_region or self.replicas)

    def settings(self) -> tuple[KeySettings | None, list[SettingProblem]]:
        """The key's settings after defaults, or the problems of the spec table (``keyspec``)."""
        return resolve_key_settings(
            spec=self.spec,
            usage=self.usage,
            rotation=self.rotation,
            rotation_days=self.rotation_days,
            deletion_window_days=self.deletion_window_days,
            origin=self.origin,
            multi_region=self.is_multi_region,
        )


class SubscriptionConfig(_Strict):
    """Where alarm notices go: an SNS subscription."""

    protocol: Literal["email", "https", "sqs", "lambda"]
    endpoint: str


class AlarmsConfig(_Strict):
    """Alarms on dangerous key changes and on the KMS request rate."""

    subscriptions: list[SubscriptionConfig] = []
    #: Accounts whose principals may receive grants without an alarm; default: every declared account.
    organization_accounts: list[str] | None = None
    #: AccessDenied answers from KMS in 5 minutes that raise the alarm.
    access_denied_threshold: Annotated[int, Field(ge=1)] = 10
    #: Share (percent) of the symmetric cryptographic request quota that raises the alarm.
    request_quota_percent: Annotated[int, Field(ge=1, le=100)] = 80


class LogBucketConfig(_Strict):
    """Lifecycle of the trail's log bucket (``None``: never)."""

    transition_to_glacier_days: Annotated[int, Field(ge=1)] | None = 90
    expire_days: Annotated[int, Field(ge=1)] | None = 2557


class AuditConfig(_Strict):
    """The CloudTrail audit of every KMS call (one trail, in the audit account's home region)."""

    account: str
    region: str
    trail_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")] = "kmsflow-audit"
    organization_trail: bool = False
    #: The AWS Organizations id, required for an organization trail (its bucket policy names it).
    organization_id: Annotated[str, Field(pattern=r"^o-[a-z0-9]{10,32}$")] | None = None
    #: CloudWatch Logs retention, one of the values CloudWatch Logs accepts.
    log_retention_days: int = 365
    #: Accounts whose own trail (same name, in this region) delivers into this account's bucket. Default
    #: (``None``): every other account that holds a key or runs a workflow. Ignored by an organization trail.
    member_accounts: list[str] | None = None
    #: Also deliver the trail to an encrypted CloudWatch Logs group (the metric-filter alarms need it).
    #: Whoever may read that group (logs:GetLogEvents, FilterLogEvents) reads the events decrypted.
    cloudwatch_logs: bool = True
    administrators: list[str] = []
    auditors: list[str] = []
    bucket: LogBucketConfig = LogBucketConfig()
    alarms: AlarmsConfig = AlarmsConfig()


class SnapshotCopyConfig(_Strict):
    """A snapshot-copy state machine in one (account, region), copying to the destination regions."""

    account: str
    region: str
    #: Regions whose snapshots, instances, clusters and volumes it may read; default: its own region.
    source_regions: list[str] = []
    destination_regions: list[str]
    #: Names of kmsflow keys (``keys[].name``) it may copy into, each of (or replicated into) a destination
    #: region of the same account; the keys' grant helpers give the workflow's roles what the copy needs.
    destination_keys: list[str]
    administrators: list[str] = []
    timeout_hours: Annotated[int, Field(ge=1, le=168)] = 24
    subscriptions: list[SubscriptionConfig] = []


class ShareTargetConfig(_Strict):
    """An account a snapshot-share machine may copy snapshots into, in which regions, under which of its keys."""

    account: str
    regions: list[str]
    #: Names of kmsflow keys (``keys[].name``) of the target account, together placed in every target region; their
    #: grant helpers give the target's copy role what the copy needs.
    keys: list[str]
    #: The ``sts:ExternalId`` the source presents to the target's copy role; default
    #: ``kmsflow-share-<source account id>-<source region code>`` (kmsflow.stacks.naming.share_external_id).
    external_id: str | None = None


class SnapshotShareConfig(_Strict):
    """A snapshot-share state machine in one (account, region): grant-and-copy into the target accounts."""

    account: str
    region: str
    #: Regions whose snapshots, instances, clusters and volumes it may share; default: its own region.
    source_regions: list[str] = []
    #: Names of symmetric kmsflow keys of the machine's account, exactly one placed in each source region: snapshots
    #: are re-encrypted under them before they are shared (only these keys are ever opened, by per-copy grants).
    sharing_keys: list[str]
    targets: list[ShareTargetConfig]
    administrators: list[str] = []
    timeout_hours: Annotated[int, Field(ge=1, le=168)] = 24
    subscriptions: list[SubscriptionConfig] = []


class WorkflowsConfig(_Strict):
    """The workflows. A snapshot_copy and a snapshot_share in the same (account, region) share one workflows stack
    (one workflow key, one notices topic): its administrators and subscriptions are those of both, deduplicated."""

    snapshot_copy: list[SnapshotCopyConfig] = []
    snapshot_share: list[SnapshotShareConfig] = []


#: A GitHub repository ``owner/name`` (the owner: letters, digits and '-'; the name: letters, digits, '.', '_', '-').
REPOSITORY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$"
#: A branch name, written exactly (no wildcards: the CI role's trust names it exactly).
BRANCH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,243}$"
#: A CodeConnections (or its former name, CodeStar Connections) connection ARN.
CONNECTION_ARN_PATTERN = (
    r"^arn:aws(-cn|-us-gov)?:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class StageConfig(_Strict):
    """One deployment stage: a GitHub Environment (approval rules live there) and, with ``codepipeline``, a pipeline
    stage. ``deploys`` names places ``<account>:<region>`` (every stack the app builds there) or stack names
    (``kmsflow-keys-security-primary``)."""

    name: Name
    deploys: list[str]
    #: A manual approval before this stage (CodePipeline); with GitHub Actions, the environment's protection rules.
    approval: bool = False


class GithubConfig(_Strict):
    """GitHub Actions delivery: the ``kmsflow-ci-<account>`` stack (kmsflow.stacks.naming.ci_stack_name) in
    ``account``, holding the GitHub OIDC provider and the deploy role that workflows of ``repository`` assume
    (from ``branch``, or from a job in one of the stages' GitHub Environments, named as the stages).

    The CI stack is not part of any stage: it is what deploys the stages, so it is deployed by hand once (and
    after a change of repository, branch or stages) with ``cdk deploy kmsflow-ci-<account>`` and an
    administrator's credentials. The deploy role may only assume the CDK bootstrap roles (default qualifier
    ``hnb659fds``) of the stages' accounts and regions; each of those must be bootstrapped trusting ``account``.

    A job that names an environment gets the subject ``repo:<repository>:environment:<stage>`` whatever branch it
    runs on: restrict each environment's deployment branches to ``branch`` in the repository's settings."""

    account: str
    #: Where the CI stack's CloudFormation stack lives (its resources are global IAM ones); default: the first
    #: region under ``regions:``.
    region: str | None = None
    repository: Annotated[str, Field(pattern=REPOSITORY_PATTERN)]
    branch: Annotated[str, Field(pattern=BRANCH_PATTERN)] = "main"


class CodePipelineConfig(_Strict):
    """AWS CodePipeline delivery (CDK Pipelines): the ``kmsflow-pipeline-<account>-<region>`` stack
    (kmsflow.stacks.naming.pipeline_stack_name) in ``account`` and ``region``, whose pipeline builds ``branch`` of
    ``repository`` from the CodeConnections connection ``connection_arn``, reviews every stage's assembly
    (``kmsflow review``, failing on a high finding) and deploys the stages in order, each after a manual approval
    if it has ``approval: true``.

    With this section, every stack the app builds is synthesized inside the ``cdk.Stage`` of the stage that
    deploys it (nested assembly ``cdk.out/assembly-<stage>``; stack names unchanged), and a stack that uses a key
    of an earlier stage reads the key's ARN from SSM at deploy time (kmsflow.constructs.keys.stage_reference).
    The pipeline stack is deployed by hand once (``cdk deploy kmsflow-pipeline-<account>-<region>``), then
    updates itself; every stage's account and region must be bootstrapped trusting ``account``."""

    account: str
    region: str
    connection_arn: Annotated[str, Field(pattern=CONNECTION_ARN_PATTERN)]
    repository: Annotated[str, Field(pattern=REPOSITORY_PATTERN)]
    branch: Annotated[str, Field(pattern=BRANCH_PATTERN)] = "main"


class PipelineConfig(_Strict):
    """Delivery stage by stage: every stack the app builds is deployed by exactly one stage, in an order where a
    replica comes after its primary, a workflow after its keys, a share target after its keys, an audit member
    after the central audit stack (kmsflow.plan.dependencies). Without ``pipeline:``, no delivery stack is built."""

    stages: list[StageConfig]
    github: GithubConfig | None = None
    codepipeline: CodePipelineConfig | None = None


class KmsflowConfig(_Strict):
    """The whole file. Later capabilities (audit, workflows, pipeline) add their sections here."""

    version: Literal[1]
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"
    accounts: dict[Name, AccountConfig]
    regions: dict[Name, Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]]
    tags: dict[str, str] = {}
    keys: list[KeyConfig] = []
    audit: AuditConfig | None = None
    workflows: WorkflowsConfig = WorkflowsConfig()
    pipeline: PipelineConfig | None = None

    def account_id(self, name: str) -> str:
        return self.accounts[name].id

    @property
    def account_ids(self) -> dict[str, str]:
        """Account name -> account id, for resolving principal references."""
        return {name: account.id for name, account in self.accounts.items()}

    def region_code(self, name: str) -> str:
        return self.regions[name]

    def key_accounts(self) -> list[str]:
        """Account names that hold a key (replicas included) or run a workflow, in declaration order."""
        workflows = self.workflows
        names = [k.account for k in self.keys] + [f.account for f in workflows.snapshot_copy]
        names += [f.account for f in workflows.snapshot_share]
        # Targets hold their declared keys already; their copy roles make KMS calls too.
        names += [t.account for f in workflows.snapshot_share for t in f.targets]
        return list(dict.fromkeys(names))

    def policy_principals(self) -> dict[str, list[str]]:
        """Principal references that key policies name directly, each with where (``keys[data]``,
        ``audit``, ``workflows.snapshot_copy[0]``). KMS refuses a policy whose principal does not exist
        (``MalformedPolicyDocumentException``), so these roles and users must exist before ``cdk deploy``.
        Account roots always exist; kmsflow's own workflow roles are named by ``aws:PrincipalArn`` instead."""
        named: dict[str, list[str]] = {}

        def add(refs: list[str], where: str) -> None:
            for ref in refs:
                if not ref.endswith(":root"):
                    named.setdefault(ref, []).append(where)

        for key in self.keys:
            p = key.policy
            if p.mode == "default":
                continue
            where = f"keys[{key.name}]"
            for _, _, refs in principal_lists(p):
                add(refs, where)
            for access in p.cross_account:
                add(access.principals, where)
        if self.audit is not None:
            add(self.audit.administrators + self.audit.auditors, "audit")
        for index, flow in enumerate(self.workflows.snapshot_copy):
            add(flow.administrators, f"workflows.snapshot_copy[{index}]")
        for index, share in enumerate(self.workflows.snapshot_share):
            add(share.administrators, f"workflows.snapshot_share[{index}]")
        return {ref: list(dict.fromkeys(places)) for ref, places in named.items()}

    def audit_members(self) -> list[str]:
        """Account names whose own trail delivers into the audit account's bucket (see ``member_accounts``)."""
        audit = self.audit
        if audit is None or audit.organization_trail:
            return []
        if audit.member_accounts is not None:
            return list(dict.fromkeys(audit.member_accounts))
        return [name for name in self.key_accounts() if name != audit.account]

    def unaudited_accounts(self) -> list[str]:
        """Accounts that hold a key or run a workflow and whose KMS calls no trail of this configuration
        records (an organization trail records every account of the organization)."""
        audit = self.audit
        if audit is not None and audit.organization_trail:
            return []
        covered = {audit.account, *self.audit_members()} if audit is not None else set()
        return [name for name in self.key_accounts() if name not in covered]


def load_config(path: str | Path) -> KmsflowConfig:
    """Read, parse and check ``path``; raise :class:`ConfigError` listing every issue."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(source, [ConfigIssue("", f"cannot read the file: {err.strerror or err}")]) from err
    return parse_config(text, source)


def parse_config(text: str, source: str = DEFAULT_CONFIG) -> KmsflowConfig:
    """Parse configuration ``text`` (``source`` names it in messages).

    Every independent problem is reported in one run, sorted by line: the shape errors, and, when the only
    shape errors are unknown fields (a misspelt field does not hide the rest), the meaning checks of the file
    without those fields."""
    doc = load_yaml(text, source)
    unquoted = _unquoted_ids(doc)
    issues = [ConfigIssue(format_path(loc), unquoted_account_id(doc.raw[loc]), doc.lines.get(loc)) for loc in unquoted]
    config: KmsflowConfig | None
    try:
        config = KmsflowConfig.model_validate(doc.data)
    except ValidationError as err:
        shape = [(loc, message) for loc, message in _issues(err, doc) if loc not in unquoted]
        issues += [ConfigIssue(format_path(loc), message, _line(doc.lines, loc)) for loc, message in shape]
        config = _without_unknown_fields(doc.data, err)
        if config is None:
            raise ConfigError(source, _sorted(issues)) from None
        # What held an unknown field may read differently without it (a statement without its misspelt
        # NotPrincipal): a problem of that very object is the unknown field's consequence, not a second cause.
        consequences = {format_path(tuple(e["loc"][:-1])) for e in err.errors(include_url=False)}
    else:
        consequences = set()
    issues += [
        ConfigIssue(path, message, _line(doc.lines, _loc(path)))
        for path, message in semantic_issues(config)
        if path not in consequences
    ]
    if issues:
        raise ConfigError(source, _sorted(issues))
    return config


def unquoted_account_id(written: str) -> str:
    """One rule for every account id: quoted. YAML reads unquoted digits as a number (and drops leading zeros,
    or reads 0-prefixed digits as octal), so whether an unquoted id survives depends on its digits."""
    return (
        f"account id {written} is not quoted; write every account id quoted, e.g. id: '{written}' (YAML reads "
        "unquoted digits as a number, dropping leading zeros or reading 0-prefixed digits as octal)"
    )


def _unquoted_ids(doc: YamlDocument) -> list[Loc]:
    """The ``accounts.<name>.id`` scalars written as bare digits (other unquoted text is checked as an id)."""
    return [
        loc
        for loc, raw in doc.raw.items()
        if len(loc) == 3 and loc[0] == "accounts" and loc[2] == "id" and loc not in doc.quoted and raw.isdigit()
    ]


def _without_unknown_fields(data: dict[str, Any], err: ValidationError) -> KmsflowConfig | None:
    """The configuration without the unknown fields ``err`` reports, if those were its only shape errors."""
    errors = err.errors(include_url=False)
    if any(error["type"] != "extra_forbidden" for error in errors):
        return None
    trimmed = copy.deepcopy(data)
    for error in errors:
        *parent, field = error["loc"]
        container: Any = trimmed
        for part in parent:
            container = container[part]
        container.pop(field, None)
    try:
        return KmsflowConfig.model_validate(trimmed)
    except ValidationError:
        return None


def _sorted(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """By line, then path (issues without a line last), as a reader goes through the file; the same message at
    several paths (one misspelt region name used by every key) is one root cause: reported once, at its first
    place, naming the others."""
    ordered = sorted(issues, key=lambda issue: (issue.line is None, issue.line or 0, issue.path))
    by_message: dict[str, list[ConfigIssue]] = {}
    for issue in ordered:
        by_message.setdefault(issue.message, []).append(issue)
    merged = []
    for same in by_message.values():
        first, others = same[0], same[1:]
        if others:
            where = ", ".join(f"{o.path} (line {o.line})" if o.line else o.path for o in others)
            first = ConfigIssue(first.path, f"{first.message} (the same at {where})", first.line)
        merged.append(first)
    return merged


_PATH_PART = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def _loc(path: str) -> Loc:
    return tuple(int(i) if i else name for i, name in _PATH_PART.findall(path))


def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest part of ``loc`` present in the file (a missing field: its parent)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


#: pydantic's marker in an error location for a dict *key* that failed (an account or region name).
_DICT_KEY = "[key]"


def _issues(err: ValidationError, doc: YamlDocument) -> list[tuple[Loc, str]]:
    """One message per failing value. A value that fails every member of a union (``str | list[str]``)
    makes pydantic report once per member, under the member's type name: those become one message."""
    grouped: dict[tuple[Loc, bool], list[Any]] = {}
    for error in err.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and _is_type_tag(p)))
        is_key = _DICT_KEY in loc
        loc = tuple(p for p in loc if p != _DICT_KEY)
        grouped.setdefault((loc, is_key), []).append(error)
    return [(loc, _describe(errors, loc, is_key, doc.raw.get(loc))) for (loc, is_key), errors in grouped.items()]


def _is_type_tag(part: str) -> bool:
    return part in {"str", "int", "bool", "list[str]"} or part.startswith(("literal[", "dict[", "list[", "function-"))


def _describe(errors: list[Any], loc: Loc, is_key: bool, raw: str | None) -> str:
    first = errors[0]
    kind, value = first["type"], first.get("input")
    if kind == "extra_forbidden":
        fields = _fields_at(loc[:-1])
        allowed = ", ".join(fields) or "none"
        suggestion = did_you_mean(str(loc[-1]), fields)
        return f"unknown field {loc[-1]!r}{suggestion}; allowed here: {allowed}; check the spelling or remove it"
    if kind == "missing":
        return f"required field {loc[-1]!r} is missing; add it"
    if loc[:1] == ("accounts",) and loc[-1:] == ("id",) and not isinstance(value, str):
        return unquoted_account_id(raw if raw is not None else str(value))
    if kind == "list_type" and isinstance(value, str):
        return f"got {value!r}, a single value where a list is expected; write a list: {loc[-1]}: [{value}]"
    if kind == "literal_error":
        return f"got {value!r}; {_lower_first(first['msg'])}"
    if kind == "string_pattern_mismatch":
        topic = "name" if is_key else "regions" if loc[:1] == ("regions",) else loc[-1] if loc else ""
        if topic == "id":
            topic = "organization_id" if "organizations" in loc else "acknowledgment_id"
        hint = _PATTERN_HINTS.get(topic, "use letters, digits and the punctuation the field's README entry lists")
        return f"got {value!r}, which is not allowed here; {hint}"
    got = f"got {value!r} ({type(value).__name__})"
    if len(errors) > 1:
        expected = "; or ".join(dict.fromkeys(_lower_first(e["msg"]) for e in errors))
        return f"{got}; expected one of: {expected}"
    return f"{got}; {_lower_first(first['msg'])}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


_PATTERN_HINTS: dict[int | str, str] = {
    "name": "use letters, digits and '-', starting with a letter (at most 63 characters)",
    "trail_name": "a trail name has 3 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "organization_id": "an organization id looks like 'o-a1b2c3d4e5' ('o-' and 10 to 32 lower-case letters or digits)",
    "Sid": "statement ids allow only letters and digits",
    "regions": "write an AWS region code such as 'eu-west-1'",
    "repository": "write the repository as 'owner/name' (the owner: letters, digits and '-'; the name: letters, "
    "digits, '.', '_' and '-')",
    "branch": "write one branch name exactly (letters, digits, '.', '_', '/', '-'; no wildcards)",
    "connection_arn": "write a CodeConnections connection ARN, e.g. 'arn:aws:codeconnections:eu-west-1:111111111111:"
    "connection/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b'",
    "acknowledgment_id": "an acknowledgment id looks like 'AwsSolutions::AwsSolutions-KMS5' (as cdk-nag prints it "
    "after 'Acknowledge with')",
}


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The field names allowed at ``loc`` (for "unknown field" messages)."""
    model: Any = KmsflowConfig
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is not None:  # otherwise ``part`` is a key of a dict field (an account name): stay
            model = _inner_model(field.annotation)
    return list(model.model_fields) if model is not None else []


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside ``list[X]``, ``X | None`` or ``dict[str, X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
