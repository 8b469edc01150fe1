"""The job document that travels through the state machine: validated input, deterministic ids, lineage, output.

Every task receives the whole job and returns it updated, so the job is the workflow's only state. Its
``job_id`` is a short hash of the normalized source and destination (never of the execution), so a rerun of
the same input derives the same snapshot identifiers and finds the work an earlier execution left behind
instead of starting a second copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, NamedTuple, NotRequired, TypedDict

import boto3

from kmsflow import __version__
from kmsflow.lambdas.errors import InvalidInput
from kmsflow.lambdas.snapshot_copy import backoff


class JobSource(TypedDict):
    """What to copy; ``created`` .. ``status`` are set by ``prepare_source`` and ``check_source``."""

    kind: str
    family: str
    id: str
    region: str
    created: NotRequired[bool]
    snapshot_id: NotRequired[str]
    snapshot_arn: NotRequired[str]
    kms_key_id: NotRequired[str | None]
    status: NotRequired[str]


class JobDestination(TypedDict):
    """Where to copy; ``kms_key_arn`` comes from ``check_destination_key``, the rest from ``start_copy``."""

    region: str
    kms_key_id: str
    kms_key_arn: NotRequired[str]
    snapshot_id: NotRequired[str]
    snapshot_arn: NotRequired[str]
    created: NotRequired[bool]
    status: NotRequired[str]


class JobOptions(TypedDict):
    """The input's options with their defaults filled in."""

    tags: dict[str, str]
    delete_source_snapshot: bool
    option_group_name: str | None


class JobExecution(TypedDict):
    """The execution that runs the job (``$$.Execution.Id`` and ``.Name``)."""

    id: str
    name: str


class Job(TypedDict):
    """The state every task receives and returns."""

    source: JobSource
    destination: JobDestination
    options: JobOptions
    execution: JobExecution
    job_id: str
    wait: backoff.JobWait
    #: The last task that completed; with the statuses it tells which task a failed execution stopped at.
    last_step: str


class Kind(NamedTuple):
    """What a source kind means: its family, whether it is already a snapshot, and how its ids look."""

    family: str
    service: str
    snapshot_given: bool
    arn_resource: str
    pattern: re.Pattern[str]
    allowed: str


_RDS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_RDS_SNAPSHOT_NAME = re.compile(r"(?:[a-z]+:)?[A-Za-z][A-Za-z0-9-]{0,254}")  # automated ones are "rds:<name>"
_VOLUME_ID = re.compile(r"vol-[0-9a-f]{8,17}")
_SNAPSHOT_ID = re.compile(r"snap-[0-9a-f]{8,17}")

KINDS: Final[Mapping[str, Kind]] = {
    "rds-instance": Kind("rds", "rds", False, "db", _RDS_NAME, "a DB instance identifier or its ARN"),
    "aurora-cluster": Kind("aurora", "rds", False, "cluster", _RDS_NAME, "a DB cluster identifier or its ARN"),
    "ebs-volume": Kind("ebs", "ec2", False, "volume", _VOLUME_ID, "a volume id (vol-...) or its ARN"),
    "rds-snapshot": Kind("rds", "rds", True, "snapshot", _RDS_SNAPSHOT_NAME, "a DB snapshot identifier or its ARN"),
    "aurora-cluster-snapshot": Kind(
        "aurora", "rds", True, "cluster-snapshot", _RDS_SNAPSHOT_NAME, "a DB cluster snapshot identifier or its ARN"
    ),
    "ebs-snapshot": Kind("ebs", "ec2", True, "snapshot", _SNAPSHOT_ID, "a snapshot id (snap-...) or its ARN"),
}

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d{12})?:(?P<resource>.+)"
)
_KEY_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:(?:key/[A-Za-z0-9-]{1,64}|alias/[A-Za-z0-9/_-]{1,250})"
)
_OPTION_GROUP = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,254}")
_TAG_CHARS = frozenset("_.:/=+-@")
MAX_USER_TAGS = 45  # RDS and EC2 allow 50 tags per resource; the lineage takes 5.

TOP_FIELDS = frozenset({"source", "destination", "options"})
SOURCE_FIELDS = frozenset({"kind", "id", "region"})
DESTINATION_FIELDS = frozenset({"region", "kms_key_id"})
OPTION_FIELDS = frozenset({"tags", "delete_source_snapshot", "option_group_name"})

TAG_JOB_ID = "kmsflow:job-id"
TAG_SOURCE_ARN = "kmsflow:source-arn"
TAG_SOURCE_KEY = "kmsflow:source-key"
TAG_EXECUTION = "kmsflow:execution"
TAG_VERSION = "kmsflow:version"


# --- Validation ---------------------------------------------------------------------------------------------


_MISSING: Final = object()


class _Problems:
    """Collects every problem of an input, so that one failed execution lists all of them at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, field: str, value: object, allowed: str) -> None:
        shown = "missing" if value is _MISSING else f"{_short(value)} received"
        self.items.append(f"{field}: {shown}, allowed: {allowed}")

    def raise_any(self) -> None:
        if self.items:
            raise InvalidInput("the execution input is invalid: " + "; ".join(self.items))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _section(problems: _Problems, doc: Mapping[str, Any], name: str, fields: frozenset[str]) -> dict[str, Any]:
    """A required object of the input; unknown fields are refused because a typo would be silently ignored."""
    value = doc.get(name, _MISSING)
    if not isinstance(value, dict):
        problems.add(name, value, f"an object with the fields {', '.join(sorted(fields))}")
        return {}
    for extra in sorted(set(value) - fields):
        problems.add(f"{name}.{extra}", value[extra], f"no such field; known: {', '.join(sorted(fields))}")
    return value


def _text(problems: _Problems, section: Mapping[str, Any], path: str, allowed: str) -> str | None:
    value = section.get(path.rsplit(".", 1)[-1], _MISSING)
    if isinstance(value, str) and value.strip():
        return value.strip()
    problems.add(path, value, allowed)
    return None


@lru_cache(maxsize=8)
def known_regions(service: str) -> frozenset[str]:
    """Regions that botocore knows for ``service`` in every partition (no network call)."""
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions(service, partition_name=partition)
    )


@lru_cache(maxsize=64)
def partition_of(region: str) -> str:
    """The partition (``aws``, ``aws-cn``, ``aws-us-gov``...) of a known region (cached: each lookup reads
    botocore's endpoint data, ~0.1 s)."""
    return str(boto3.session.Session().get_partition_for_region(region))


def _region(problems: _Problems, path: str, region: str | None, service: str) -> bool:
    if region is None:
        return False
    allowed = known_regions(service) & known_regions("kms")
    if region in allowed:
        return True
    problems.add(path, region, f"a region where {service} and kms exist, e.g. {', '.join(sorted(allowed)[:4])}, ...")
    return False


def _source_id(problems: _Problems, kind: Kind, raw: str, region: str | None) -> str | None:
    """The bare identifier of the source (an ARN is reduced to its id after checking its type and region)."""
    name = raw
    match = _ARN.fullmatch(raw)
    if raw.startswith("arn:"):
        resource_type, _, name = (match.group("resource") if match else "").replace("/", ":", 1).partition(":")
        if match is None or resource_type != kind.arn_resource or match.group("service") != kind.service:
            problems.add("source.id", raw, kind.allowed)
            return None
        if region is not None and match.group("region") != region:
            problems.add("source.id", raw, f"an ARN in source.region {region}, or a bare id")
            return None
    if not kind.pattern.fullmatch(name):
        problems.add("source.id", raw, kind.allowed)
        return None
    return name.lower()


def _key(problems: _Problems, raw: str | None, region: str | None) -> None:
    if raw is None:
        return
    match = _KEY_ARN.fullmatch(raw)
    allowed = "the ARN of a KMS key or alias in destination.region (arn:aws:kms:<region>:<account>:key/<id> or"
    allowed += " ...:alias/<name>); a bare key id or alias name cannot name a key of another region"
    if match is None:
        problems.add("destination.kms_key_id", raw, allowed)
    elif region is not None and match.group("region") != region:
        problems.add("destination.kms_key_id", raw, f"a key or alias ARN of destination.region {region}")


def _tags(problems: _Problems, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.add("options.tags", value, "an object of tag keys to string values")
        return {}
    if len(value) > MAX_USER_TAGS:
        problems.add("options.tags", f"{len(value)} tags", f"at most {MAX_USER_TAGS} tags (5 lineage tags are added)")
    for key, tag_value in value.items():
        if not _tag_text(key, 128) or key.lower().startswith(("aws:", "kmsflow:")):
            problems.add("options.tags key", key, "1-128 letters, digits, spaces or _.:/=+-@, not aws: or kmsflow:")
        elif not isinstance(tag_value, str) or (tag_value and not _tag_text(tag_value, 256)):
            problems.add(f"options.tags[{key!r}]", tag_value, "a string of 0-256 letters, digits, spaces or _.:/=+-@")
    return {str(key): str(tag_value) for key, tag_value in value.items()}


def _tag_text(text: object, limit: int) -> bool:
    """Tag text allowed by both RDS and EC2 (RDS is the stricter: Unicode letters, digits, spaces, _.:/=+-@)."""
    if not isinstance(text, str) or not 0 < len(text) <= limit:
        return False
    return all(char.isalnum() or char.isspace() or char in _TAG_CHARS for char in text)


def _options(problems: _Problems, value: object, kind: Kind | None) -> JobOptions:
    options = JobOptions(tags={}, delete_source_snapshot=False, option_group_name=None)
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
    options["option_group_name"] = _option_group(problems, value.get("option_group_name"), kind)
    return options


def _option_group(problems: _Problems, value: object, kind: Kind | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _OPTION_GROUP.fullmatch(value):
        problems.add("options.option_group_name", value, "an option group name (letters, digits, hyphens) or null")
        return None
    if kind is not None and kind.family != "rds":
        problems.add("options.option_group_name", value, "null: only RDS DB snapshot copies take an option group")
        return None
    return value


def _execution(problems: _Problems, value: object) -> JobExecution:
    if isinstance(value, dict) and isinstance(value.get("Id"), str) and isinstance(value.get("Name"), str):
        return JobExecution(id=value["Id"], name=value["Name"])
    problems.add("execution", value, "the state machine's $$.Execution object with Id and Name")
    return JobExecution(id="", name="")


class _Source(NamedTuple):
    kind_name: str | None
    kind: Kind | None
    id: str | None
    region: str | None


def _parse_source(problems: _Problems, section: Mapping[str, Any]) -> _Source:
    """Kind, normalized id and region of the source; the id's form depends on the kind."""
    kinds = "one of " + ", ".join(KINDS)
    kind_name = _text(problems, section, "source.kind", kinds)
    kind = KINDS.get(kind_name or "")
    if kind_name is not None and kind is None:
        problems.add("source.kind", kind_name, kinds)
    region = _text(problems, section, "source.region", "a region name")
    if not _region(problems, "source.region", region, kind.service if kind else "rds"):
        region = None
    raw_id = _text(problems, section, "source.id", kind.allowed if kind else "an id or ARN")
    source_id = _source_id(problems, kind, raw_id, region) if kind and raw_id else None
    return _Source(kind_name, kind, source_id, region)


def _parse_destination(
    problems: _Problems, section: Mapping[str, Any], source: _Source
) -> tuple[str | None, str | None]:
    """Region and key ARN of the destination, checked against the source's region and partition."""
    region = _text(problems, section, "destination.region", "a region name")
    if not _region(problems, "destination.region", region, source.kind.service if source.kind else "rds"):
        region = None
    elif source.region is not None and region is not None:
        _compare_regions(problems, source.region, region)
    key = _text(problems, section, "destination.kms_key_id", "a KMS key or alias ARN")
    _key(problems, key, region)
    return region, key


def parse_input(raw: object, execution: object) -> Job:
    """Validate an execution input and build the job; raise InvalidInput listing every bad field."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"the execution input is invalid: input: {_short(raw)} received, allowed: an object with source,"
            " destination and optional options"
        )
    problems = _Problems()
    for extra in sorted(set(raw) - TOP_FIELDS):
        problems.add(extra, raw[extra], "no such field; known: " + ", ".join(sorted(TOP_FIELDS)))
    source = _parse_source(problems, _section(problems, raw, "source", SOURCE_FIELDS))
    dst_region, key = _parse_destination(problems, _section(problems, raw, "destination", DESTINATION_FIELDS), source)
    options = _options(problems, raw.get("options", _MISSING), source.kind)
    run = _execution(problems, execution)
    problems.raise_any()
    if not (source.kind_name and source.kind and source.id and source.region and dst_region and key):
        raise InvalidInput("the execution input is invalid: source or destination is incomplete")
    return Job(
        source=JobSource(kind=source.kind_name, family=source.kind.family, id=source.id, region=source.region),
        destination=JobDestination(region=dst_region, kms_key_id=key),
        options=options,
        execution=run,
        job_id=compute_job_id(source.kind_name, source.id, source.region, dst_region, key),
        wait=backoff.initial(),
        last_step="validate",
    )


def _compare_regions(problems: _Problems, source: str, destination: str) -> None:
    if source == destination:
        problems.add(
            "destination.region", destination, "a region other than source.region (this copies across regions)"
        )
    elif partition_of(source) != partition_of(destination):
        problems.add("destination.region", destination, f"a region of the same partition as {source}")


# --- Deterministic ids ----------------------------------------------------------------------------------------


def compute_job_id(kind: str, source_id: str, source_region: str, destination_region: str, kms_key_id: str) -> str:
    """16 hex digits of SHA-256 over the normalized source and destination: same input, same job, same ids.

    The execution is deliberately left out: a rerun must find what an earlier execution made. 64 bits keep
    the identifiers short (``kmsflow-<job_id>`` fits every RDS limit) with no practical risk of collision.
    """
    canonical = json.dumps(
        {"kind": kind, "id": source_id, "from": source_region, "to": destination_region, "key": kms_key_id},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


#: The prefix of every snapshot identifier kmsflow makes: the workflow roles may create, copy into, tag and
#: delete only RDS and Aurora snapshots named with it (kmsflow.constructs.workflows.snapshot_access).
SNAPSHOT_PREFIX = "kmsflow-"


def source_snapshot_id(job: Job) -> str:
    """Identifier of the source snapshot a job makes of an instance, cluster or volume (RDS: its name)."""
    return f"{SNAPSHOT_PREFIX}{job['job_id']}-src"


def copy_snapshot_id(job: Job) -> str:
    """Identifier of the job's copy in the destination region (RDS: its name; EBS: its Name tag)."""
    return f"{SNAPSHOT_PREFIX}{job['job_id']}"


# --- Lineage and output ---------------------------------------------------------------------------------------


def job_tags(job: Job) -> dict[str, str]:
    """The tag that marks a snapshot as this job's own (the only proof that kmsflow may delete it)."""
    return {TAG_JOB_ID: job["job_id"]}


def lineage_tags(job: Job) -> dict[str, str]:
    """Where a copy comes from: job, source snapshot ARN, source key, execution and kmsflow version."""
    source = job["source"]
    return {
        TAG_JOB_ID: job["job_id"],
        TAG_SOURCE_ARN: source.get("snapshot_arn") or "unknown",
        TAG_SOURCE_KEY: source.get("kms_key_id") or "none",
        TAG_EXECUTION: job["execution"]["id"],
        TAG_VERSION: __version__,
    }


def copy_tags(job: Job) -> dict[str, str]:
    """The tags a copy is created with: the user's options.tags, then the lineage (which wins)."""
    return {**job["options"]["tags"], **lineage_tags(job)}


def output(job: Job, *, deleted: bool, kms_key_id: str) -> dict[str, Any]:
    """The execution's output: where the copy is and under which key, and what became of the source."""
    source, destination = job["source"], job["destination"]
    return {
        "source": {
            "kind": source["kind"],
            "id": source["id"],
            "region": source["region"],
            "snapshot_arn": source.get("snapshot_arn"),
            "kms_key_id": source.get("kms_key_id"),
            "deleted": deleted,
        },
        "destination": {
            "region": destination["region"],
            "snapshot_id": destination.get("snapshot_id"),
            "snapshot_arn": destination.get("snapshot_arn"),
            "kms_key_id": kms_key_id,
        },
        "job_id": job["job_id"],
        "execution": job["execution"],
    }


# --- Failure ----------------------------------------------------------------------------------------------------


def _part(job: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A section of a job that may be a raw, invalid input: the section if it is an object, else empty."""
    value = job.get(name)
    return value if isinstance(value, dict) else {}


#: The task after each task that has one successor; the two checks loop until their status is available.
_NEXT_STEP = {
    "validate": "prepare_source",
    "prepare_source": "check_source",
    "check_destination_key": "start_copy",
    "start_copy": "check_copy",
}


def failed_step(job: Mapping[str, Any]) -> str:
    """The task a failed job stopped at: the one after its ``last_step`` (Catch passes the failed task's input).

    A check that completed with ``pending`` is followed by itself, with ``available`` by the next task. Without
    ``last_step`` (a raw input, or a state that lost it) the step is read from how far the document got.
    """
    source, destination = _part(job, "source"), _part(job, "destination")
    last = job.get("last_step")
    if last == "check_source":
        return "check_destination_key" if source.get("status") == "available" else "check_source"
    if last == "check_copy":
        return "finish" if destination.get("status") == "available" else "check_copy"
    if isinstance(last, str) and last in _NEXT_STEP:
        return _NEXT_STEP[last]
    return _step_from_fields(job, source, destination)


def _step_from_fields(job: Mapping[str, Any], source: Mapping[str, Any], destination: Mapping[str, Any]) -> str:
    if "job_id" not in job:
        return "validate"
    if "snapshot_arn" not in source:
        return "prepare_source"
    if "kms_key_arn" not in destination:
        return "check_source" if source.get("status") != "available" else "check_destination_key"
    if "snapshot_id" not in destination:
        return "start_copy"
    return "check_copy" if destination.get("status") != "available" else "finish"


def describe(job: Mapping[str, Any]) -> str:
    """A short name of the job's work for messages, from a job or a raw (possibly invalid) input."""
    source, destination = _part(job, "source"), _part(job, "destination")
    what = f"{source.get('kind', '?')} {source.get('id', '?')} in {source.get('region', '?')}"
    return f"The copy of {what} to {destination.get('region', '?')}"
