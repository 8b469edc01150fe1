"""The share job: validated input, the machine's declared targets, deterministic ids in both accounts, output.

Like Workflows I's job (:mod:`kmsflow.lambdas.snapshot_copy.job`, whose source parsing and tag rules this module
reuses), the job is the execution's only state and its ``job_id`` hashes the normalized input, never the execution:
a rerun derives the same snapshot names in the source account (``kmsflow-<job_id>-src``, ``-share``), the same
grant name and the same target names (``kmsflow-<job_id>``, ``-hop``), so it finds what an earlier run made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from kmsflow.lambdas.errors import InvalidInput, TargetNotDeclared
from kmsflow.lambdas.snapshot_copy import backoff
from kmsflow.lambdas.snapshot_copy.job import (
    _MISSING,
    SNAPSHOT_PREFIX,
    TAG_EXECUTION,
    TAG_JOB_ID,
    TAG_SOURCE_ARN,
    TAG_SOURCE_KEY,
    TAG_VERSION,
    JobExecution,
    JobSource,
    _execution,
    _parse_source,
    _part,
    _Problems,
    _region,
    _section,
    _short,
    _tags,
    _text,
    partition_of,
)

#: Environment variables the construct sets on every share function (see SnapshotShareWorkflow).
ENV_TARGETS = "KMSFLOW_SHARE_TARGETS"
ENV_SHARING_KEYS = "KMSFLOW_SHARING_KEYS"
ENV_RETIRING_ROLE = "KMSFLOW_RETIRING_ROLE"

TAG_SOURCE_ACCOUNT = "kmsflow:source-account"
TAG_TARGET_KEY = "kmsflow:target-key"

TOP_FIELDS = frozenset({"source", "target", "options"})
SOURCE_FIELDS = frozenset({"kind", "id", "region"})
TARGET_FIELDS = frozenset({"account", "region", "kms_key_id"})
OPTION_FIELDS = frozenset({"tags", "delete_source_snapshot"})

_ACCOUNT = re.compile(r"\d{12}")
_KEY_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?:key/[A-Za-z0-9-]{1,64}|alias/[A-Za-z0-9/_-]{1,250})"
)


class Shared(TypedDict):
    """The snapshot that is shared: the source itself, or a copy of it in place under the sharing key."""

    region: str
    snapshot_id: str
    snapshot_arn: str
    encrypted: bool
    kms_key_id: str | None
    #: True when this job made it (a temporary copy, deleted by the revocation).
    created: bool
    status: str


class Hop(TypedDict):
    """One copy in the target account: the final one, or the first of two (AWS copies a shared RDS or Aurora
    snapshot only within its region)."""

    region: str
    #: The deterministic name (RDS: the identifier; EBS: the Name tag) that a rerun finds the copy by.
    target_id: str
    kms_key_arn: str
    #: The copy's id once it exists (EBS chooses it; RDS: the target id).
    snapshot_id: NotRequired[str]
    snapshot_arn: NotRequired[str]
    created: NotRequired[bool]
    status: NotRequired[str]


class Target(TypedDict):
    """Where the copy goes; ``role_arn`` and ``external_id`` come from the machine's declared targets."""

    account: str
    region: str
    kms_key_id: str
    role_arn: str
    external_id: str | None
    kms_key_arn: NotRequired[str]
    hops: NotRequired[list[Hop]]
    #: How often the target was refused the shared key so far (grants take effect within minutes).
    key_refusals: NotRequired[int]
    snapshot_id: NotRequired[str]
    snapshot_arn: NotRequired[str]
    status: NotRequired[str]


class Access(TypedDict):
    """What ``open_access`` opened: the grant (on the key of the shared snapshot) and the share."""

    key_arn: str | None
    grant_id: NotRequired[str]
    #: The target account was in the share before this job: the revocation leaves it there.
    shared_before: NotRequired[bool]
    shared: NotRequired[bool]


class Revoked(TypedDict):
    grants: list[str]
    unshared: list[str]
    deleted: list[str]


class ShareOptions(TypedDict):
    tags: dict[str, str]
    delete_source_snapshot: bool


class ShareJob(TypedDict):
    source: JobSource
    target: Target
    options: ShareOptions
    execution: JobExecution
    job_id: str
    wait: backoff.JobWait
    last_step: str
    shared: NotRequired[Shared]
    access: NotRequired[Access]
    revoked: NotRequired[Revoked]


class DeclaredTarget(TypedDict):
    regions: list[str]
    roles: dict[str, str]
    external_id: str | None


# --- What the machine was deployed with ----------------------------------------------------------------------


def _env_json(name: str) -> Any:
    raw = os.environ.get(name)
    if raw is None:
        raise InvalidInput(f"the function's environment lacks {name}", remedy="deploy the share machine's stack again")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise InvalidInput(f"{name} is not JSON ({err})", remedy="deploy the share machine's stack again") from err


def declared_targets() -> dict[str, DeclaredTarget]:
    """Target account id -> its regions, copy role per region and external id (``KMSFLOW_SHARE_TARGETS``)."""
    return dict(_env_json(ENV_TARGETS))


def sharing_keys() -> dict[str, str]:
    """Source region -> the ARN of the sharing key there (``KMSFLOW_SHARING_KEYS``)."""
    return {str(region): str(arn) for region, arn in _env_json(ENV_SHARING_KEYS).items()}


def retiring_role() -> str:
    """The ARN of the revoke step's role: the retiring principal of every grant this machine creates."""
    value = os.environ.get(ENV_RETIRING_ROLE)
    if not value:
        raise InvalidInput(f"the function's environment lacks {ENV_RETIRING_ROLE}", remedy="deploy the stack again")
    return value


# --- Validation ---------------------------------------------------------------------------------------------


def _options(problems: _Problems, value: object) -> ShareOptions:
    options = ShareOptions(tags={}, delete_source_snapshot=False)
    if value is _MISSING or value is None:
        return options
    if not isinstance(value, dict):
        problems.add("options", value, "an object with the optional fields " + ", ".join(sorted(OPTION_FIELDS)))
        return options
    for extra in sorted(set(value) - OPTION_FIELDS):
        problems.add(f"options.{extra}", value[extra], "no such option; known: " + ", ".join(sorted(OPTION_FIELDS)))
    if "tags" in value:
        options["tags"] = _tags(problems, value["tags"])
    delete = value.get("delete_source_snapshot", False)
    if isinstance(delete, bool):
        options["delete_source_snapshot"] = delete
    else:
        problems.add("options.delete_source_snapshot", delete, "true or false")
    return options


def _parse_target(
    problems: _Problems, section: Mapping[str, Any], source_region: str | None, service: str
) -> tuple[str | None, str | None, str | None]:
    account = section.get("account", _MISSING)
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        problems.add("target.account", account, "a 12-digit account id in a string")
        account = None
    region = _text(problems, section, "target.region", "a region name")
    if not _region(problems, "target.region", region, service):
        region = None
    elif source_region is not None and region is not None and partition_of(source_region) != partition_of(region):
        problems.add("target.region", region, f"a region of the same partition as {source_region}")
        region = None
    key = _text(problems, section, "target.kms_key_id", "a KMS key or alias ARN of the target account and region")
    if key is not None:
        match = _KEY_ARN.fullmatch(key)
        allowed = (
            "the ARN of a KMS key or alias of target.account in target.region (arn:aws:kms:<region>:<account>:key/<id>"
            " or ...:alias/<name>); a bare key id or alias name cannot name another account's key"
        )
        if match is None:
            problems.add("target.kms_key_id", key, allowed)
        elif (account is not None and match.group("account") != account) or (
            region is not None and match.group("region") != region
        ):
            problems.add("target.kms_key_id", key, f"a key or alias ARN of account {account} in {region}")
    return account, region, key


def parse_input(raw: object, execution: object, targets: Mapping[str, DeclaredTarget]) -> ShareJob:
    """Validate an execution input against the machine's declared targets; InvalidInput lists every bad field,
    TargetNotDeclared says that the account or region is not one this machine may share with."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"the execution input is invalid: input: {_short(raw)} received, allowed: an object with source, target"
            " and optional options"
        )
    problems = _Problems()
    for extra in sorted(set(raw) - TOP_FIELDS):
        problems.add(extra, raw[extra], "no such field; known: " + ", ".join(sorted(TOP_FIELDS)))
    source = _parse_source(problems, _section(problems, raw, "source", SOURCE_FIELDS))
    service = source.kind.service if source.kind else "rds"
    account, region, key = _parse_target(
        problems, _section(problems, raw, "target", TARGET_FIELDS), source.region, service
    )
    options = _options(problems, raw.get("options", _MISSING))
    run = _execution(problems, execution)
    problems.raise_any()
    if not (source.kind_name and source.kind and source.id and source.region and account and region and key):
        raise InvalidInput("the execution input is invalid: source or target is incomplete")
    declared = targets.get(account)
    if declared is None:
        known = ", ".join(sorted(targets)) or "none"
        raise TargetNotDeclared(
            f"target.account {account} is not a declared target of this machine (declared: {known})"
        )
    if region not in declared["regions"] or region not in declared["roles"]:
        raise TargetNotDeclared(
            f"target.region {region} is not declared for account {account} (declared: {', '.join(declared['regions'])})"
        )
    return ShareJob(
        source=JobSource(kind=source.kind_name, family=source.kind.family, id=source.id, region=source.region),
        target=Target(
            account=account,
            region=region,
            kms_key_id=key,
            role_arn=declared["roles"][region],
            external_id=declared.get("external_id"),
        ),
        options=options,
        execution=run,
        job_id=compute_job_id(source.kind_name, source.id, source.region, account, region, key),
        wait=backoff.initial(),
        last_step="validate",
    )


# --- Deterministic ids ----------------------------------------------------------------------------------------


def compute_job_id(kind: str, source_id: str, source_region: str, account: str, region: str, key: str) -> str:
    """16 hex digits of SHA-256 over the normalized source and target (see the copy job's ``compute_job_id``);
    ``share`` in the hash keeps a share's ids apart from a copy's of the same source."""
    canonical = json.dumps(
        {
            "share": 1,
            "kind": kind,
            "id": source_id,
            "from": source_region,
            "account": account,
            "to": region,
            "key": key,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def source_snapshot_id(job: ShareJob) -> str:
    """The snapshot the job makes of an instance, cluster or volume (source account)."""
    return f"{SNAPSHOT_PREFIX}{job['job_id']}-src"


def shareable_snapshot_id(job: ShareJob) -> str:
    """The temporary copy in place under the sharing key (source account), deleted by the revocation."""
    return f"{SNAPSHOT_PREFIX}{job['job_id']}-share"


def target_snapshot_id(job: ShareJob) -> str:
    """The final copy in the target account and region."""
    return f"{SNAPSHOT_PREFIX}{job['job_id']}"


def hop_snapshot_id(job: ShareJob) -> str:
    """The first of two copies in the target account (in the shared snapshot's region), deleted at the end."""
    return f"{SNAPSHOT_PREFIX}{job['job_id']}-hop"


# --- Lineage and output ---------------------------------------------------------------------------------------


def job_tags(job: ShareJob) -> dict[str, str]:
    return {TAG_JOB_ID: job["job_id"]}


def lineage_tags(job: ShareJob, source_account: str) -> dict[str, str]:
    """Where a target copy comes from: source account, source snapshot ARN and key, target key, execution."""
    source = job["source"]
    return {
        TAG_JOB_ID: job["job_id"],
        TAG_SOURCE_ACCOUNT: source_account,
        TAG_SOURCE_ARN: source.get("snapshot_arn") or "unknown",
        TAG_SOURCE_KEY: source.get("kms_key_id") or "none",
        TAG_TARGET_KEY: job["target"].get("kms_key_arn") or job["target"]["kms_key_id"],
        TAG_EXECUTION: job["execution"]["id"],
        TAG_VERSION: _version(),
    }


def _version() -> str:
    from kmsflow import __version__

    return __version__


def empty_revoked() -> Revoked:
    return Revoked(grants=[], unshared=[], deleted=[])


def output(job: ShareJob, *, deleted: bool) -> dict[str, Any]:
    """The execution's output: the target copy, what was shared and how, and what the revocation removed."""
    source, target = job["source"], job["target"]
    shared = job.get("shared")
    return {
        "source": {
            "kind": source["kind"],
            "id": source["id"],
            "region": source["region"],
            "snapshot_arn": source.get("snapshot_arn"),
            "kms_key_id": source.get("kms_key_id"),
            "deleted": deleted,
        },
        "shared": {
            "snapshot_arn": shared["snapshot_arn"] if shared else None,
            "kms_key_id": shared["kms_key_id"] if shared else None,
            "temporary": shared["created"] if shared else False,
        },
        "target": {
            "account": target["account"],
            "region": target["region"],
            "snapshot_id": target.get("snapshot_id"),
            "snapshot_arn": target.get("snapshot_arn"),
            "kms_key_id": target.get("kms_key_arn") or target["kms_key_id"],
            # Each copy made in the target account: one, or two where AWS copies a shared snapshot only within
            # its region (the first, under the target key's replica there, deleted once the second is available).
            "hops": [
                {"region": hop["region"], "snapshot_id": hop.get("snapshot_id"), "kms_key_id": hop["kms_key_arn"]}
                for hop in target.get("hops", [])
            ],
        },
        "revoked": job.get("revoked") or empty_revoked(),
        "job_id": job["job_id"],
        "execution": job["execution"],
    }


def describe(job: Mapping[str, Any]) -> str:
    """A short name of the job's work for messages, from a job or a raw (possibly invalid) input."""
    source, target = _part(job, "source"), _part(job, "target")
    what = f"{source.get('kind', '?')} {source.get('id', '?')} in {source.get('region', '?')}"
    return f"The share of {what} with account {target.get('account', '?')} in {target.get('region', '?')}"
