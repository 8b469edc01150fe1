"""The Lambda tasks of the cross-region snapshot copy (handlers ``kmsflow.lambdas.snapshot_copy.handlers.<name>``).

Each task is invoked with the current state as payload and returns the whole next state (LambdaInvoke with
``payloadResponseOnly``): ``validate`` turns the execution input into the job; every later task takes the job
and returns it updated; ``finish`` returns the execution's output and ``on_failure`` the Fail state's error and
cause. The tasks only sequence the work: the job document (:mod:`.job`) and the family adapters (:mod:`.adapters`)
do it. A task raises only named :mod:`kmsflow.lambdas.errors` classes, which Retry and Catch match by name.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, cast

from kmsflow.lambdas import aws_clients
from kmsflow.lambdas.errors import (
    CopyFailed,
    DestinationKeyDisabled,
    DestinationKeyNotAccessible,
    DestinationKeyNotFound,
    DestinationKeyNotSymmetric,
    DestinationKeyWrongRegion,
    SourceNotFound,
    SourceNotReady,
    SourceSnapshotFailed,
    UnencryptedSourceNotSupported,
    aws_errors,
    named,
    remedy_for,
)
from kmsflow.lambdas.snapshot_copy import backoff
from kmsflow.lambdas.snapshot_copy.adapters import (
    AVAILABLE,
    FAILED,
    PENDING,
    SnapshotAdapter,
    SnapshotRecord,
    adapter_for,
)
from kmsflow.lambdas.snapshot_copy.job import (
    KINDS,
    TAG_EXECUTION,
    TAG_JOB_ID,
    Job,
    JobSource,
    copy_snapshot_id,
    copy_tags,
    describe,
    failed_step,
    job_tags,
    lineage_tags,
    output,
    parse_input,
    source_snapshot_id,
)

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"


def _job(event: Mapping[str, Any]) -> Job:
    """The job a task received, copied: tasks return a new state and never alter their input."""
    return cast(Job, copy.deepcopy(dict(event)))


def _adapter(job: Job) -> SnapshotAdapter:
    return adapter_for(
        job["source"]["family"], source_region=job["source"]["region"], destination_region=job["destination"]["region"]
    )


# --- validate --------------------------------------------------------------------------------------------------


def validate(event: Mapping[str, Any], context: Any) -> Job:
    """Check the execution input (``event["input"]``) and build the job; InvalidInput names every bad field."""
    return parse_input(event.get("input"), event.get("execution"))


# --- source ----------------------------------------------------------------------------------------------------


def prepare_source(event: Mapping[str, Any], context: Any) -> Job:
    """Snapshot the instance, cluster or volume once per job (a rerun reuses it), or look up the given snapshot."""
    job = _job(event)
    take_source(job["source"], _adapter(job), snapshot_id=source_snapshot_id(job), tags=job_tags(job))
    job["wait"] = backoff.initial()
    job["last_step"] = "prepare_source"
    return job


def take_source(source: JobSource, adapter: SnapshotAdapter, *, snapshot_id: str, tags: Mapping[str, str]) -> None:
    """Fill ``source`` with its snapshot: made once as ``snapshot_id`` (tagged ``tags``) from an instance, cluster
    or volume, or the given snapshot looked up. Shared by every workflow that starts from a source."""
    created = not KINDS[source["kind"]].snapshot_given
    if created:
        record = adapter.create_source_snapshot(source["id"], snapshot_id=snapshot_id, tags=tags)
    else:
        record = adapter.resolve_source_snapshot(source["id"])
    _require_copyable(adapter, record)
    source["created"] = created
    source["snapshot_id"] = record.snapshot_id
    source["snapshot_arn"] = record.arn
    source["kms_key_id"] = record.kms_key_id
    source["status"] = record.status


def _require_copyable(adapter: SnapshotAdapter, record: SnapshotRecord) -> None:
    """Refuse now a source that its service can never copy under the destination key (unencrypted Aurora)."""
    if not record.encrypted and not adapter.encrypts_unencrypted:
        raise UnencryptedSourceNotSupported(
            f"{adapter.family} snapshot {record.snapshot_id} in {record.region} is not encrypted"
        )


def check_source(event: Mapping[str, Any], context: Any) -> Job:
    """Status of the source snapshot; while it is pending, the next wait follows its progress (``backoff``)."""
    job = _job(event)
    job["wait"] = source_progress(job["source"], _adapter(job), job["wait"])
    job["last_step"] = "check_source"
    return job


def source_progress(source: JobSource, adapter: SnapshotAdapter, wait: backoff.JobWait) -> backoff.JobWait:
    """Update ``source``'s status and key from its snapshot; the next wait while it is pending (else ``wait``)."""
    record = adapter.source_status(source["snapshot_id"])
    if record.status == FAILED:
        raise SourceSnapshotFailed(f"source snapshot {record.snapshot_id} in {record.region} is {record.raw_status}")
    source["status"] = record.status
    source["kms_key_id"] = record.kms_key_id
    return backoff.next_wait(wait, record.progress) if record.status == PENDING else wait


# --- destination key -------------------------------------------------------------------------------------------


def check_destination_key(event: Mapping[str, Any], context: Any) -> Job:
    """The destination key must exist in the destination region, be enabled and encrypt symmetrically."""
    job = _job(event)
    destination = job["destination"]
    region, key_id = destination["region"], destination["kms_key_id"]
    missing = named(DestinationKeyNotFound, f"KMS key {key_id} does not exist in {region}")
    codes = {
        "NotFoundException": missing,
        "InvalidArnException": missing,
        "AccessDeniedException": named(
            DestinationKeyNotAccessible, f"the key-check step's role may not describe {key_id}"
        ),
    }
    with aws_errors(action="describe_key", resource=f"KMS key {key_id}", region=region, codes=codes):
        metadata = aws_clients.client("kms", region=region).describe_key(KeyId=key_id)["KeyMetadata"]
    require_usable_key(metadata, key_id=key_id, region=region)
    destination["kms_key_arn"] = metadata["Arn"]
    job["last_step"] = "check_destination_key"
    return job


def require_usable_key(metadata: Mapping[str, Any], *, key_id: str, region: str) -> None:
    """Region, state and kind of the key, in that order; each failure is its own named error."""
    arn = str(metadata["Arn"])
    key_region = arn.split(":")[3]
    if key_region != region:
        raise DestinationKeyWrongRegion(f"KMS key {key_id} is {arn}, a key of {key_region}, not of {region}")
    state = metadata.get("KeyState", "Unknown")
    if state != "Enabled":
        raise DestinationKeyDisabled(f"KMS key {arn} in {region} is {state}, not Enabled")
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    # SYMMETRIC_DEFAULT admits no usage but ENCRYPT_DECRYPT (moto omits KeyUsage for keys created without it).
    usage = metadata.get("KeyUsage") or (ENCRYPT_DECRYPT if spec == SYMMETRIC_DEFAULT else None)
    if spec != SYMMETRIC_DEFAULT or usage != ENCRYPT_DECRYPT:
        raise DestinationKeyNotSymmetric(
            f"KMS key {arn} in {region} has key spec {spec} and usage {usage}, not a symmetric encryption key"
        )


# --- copy ------------------------------------------------------------------------------------------------------


def start_copy(event: Mapping[str, Any], context: Any) -> Job:
    """Start the copy under the destination key, unless the job's copy exists already (a rerun): never two copies."""
    job = _job(event)
    destination, adapter = job["destination"], _adapter(job)
    target_id = copy_snapshot_id(job)
    record = adapter.find_copy(target_id, job_id=job["job_id"])
    started = record is None
    if record is None:
        source = adapter.source_status(job["source"]["snapshot_id"])
        if source.status != AVAILABLE:
            raise SourceNotReady(f"source snapshot {source.snapshot_id} in {source.region} is {source.raw_status}")
        record = adapter.copy(
            source,
            target_id=target_id,
            kms_key_arn=destination["kms_key_arn"],
            tags=copy_tags(job),
            option_group_name=job["options"]["option_group_name"],
        )
    destination["snapshot_id"] = record.snapshot_id
    destination["snapshot_arn"] = record.arn
    # Made by this execution: by this call, or by an earlier attempt of it that Step Functions retried.
    maker = record.tags.get(TAG_EXECUTION)
    destination["created"] = maker == job["execution"]["id"] or (maker is None and started)
    destination["status"] = record.status
    job["wait"] = backoff.initial()
    job["last_step"] = "start_copy"
    return job


def check_copy(event: Mapping[str, Any], context: Any) -> Job:
    """Status of the copy; while it is pending, the next wait follows its progress (``backoff``)."""
    job = _job(event)
    destination = job["destination"]
    record = _adapter(job).copy_status(destination["snapshot_id"])
    if record.status == FAILED:
        raise CopyFailed(f"copy {record.snapshot_id} in {record.region} is {record.raw_status}")
    destination["status"] = record.status
    if record.status == PENDING:
        job["wait"] = backoff.next_wait(job["wait"], record.progress)
    job["last_step"] = "check_copy"
    return job


# --- finish ----------------------------------------------------------------------------------------------------


def finish(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Complete the lineage tags, delete the source snapshot if asked and the job made it, return the output."""
    job = _job(event)
    adapter = _adapter(job)
    record = adapter.copy_status(job["destination"]["snapshot_id"])
    if record.status != AVAILABLE:
        raise CopyFailed(
            f"copy {record.snapshot_id} in {record.region} is {record.raw_status} at the last step; nothing deleted",
            remedy="start the same input again: it waits for the copy",
        )
    _complete_tags(adapter, record, job)
    deleted = _delete_source(adapter, job)
    return output(job, deleted=deleted, kms_key_id=record.kms_key_id or job["destination"]["kms_key_arn"])


def _complete_tags(adapter: SnapshotAdapter, record: SnapshotRecord, job: Job) -> None:
    """Add missing lineage tags (a copy found by a rerun keeps its maker's) and the user's tags as asked."""
    wanted = {key: value for key, value in lineage_tags(job).items() if key not in record.tags}
    wanted.update({key: value for key, value in job["options"]["tags"].items() if record.tags.get(key) != value})
    if wanted:
        adapter.tag(record, wanted)


def _delete_source(adapter: SnapshotAdapter, job: Job) -> bool:
    """Delete the source snapshot only if asked, made by this job (its tag says so) and the copy is available."""
    source = job["source"]
    if not (job["options"]["delete_source_snapshot"] and source.get("created")):
        return False
    try:
        record = adapter.source_status(source["snapshot_id"])
    except SourceNotFound:
        return True  # deleted by an earlier attempt of this step
    if record.tags.get(TAG_JOB_ID) != job["job_id"]:
        return False
    adapter.delete_snapshot(record)
    return True


# --- failure ---------------------------------------------------------------------------------------------------

#: Remedies of errors that Step Functions or Lambda raise rather than kmsflow.
_OTHER_REMEDIES = {
    "States.Timeout": "the execution ran out of time while waiting; check the snapshot's progress and start the"
    " same input again: it resumes and finds its own work",
}
_GENERIC_REMEDY = "read the task's log for the details, fix the cause and start the same input again: it resumes"


def on_failure(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """The Fail state's error and cause; deletes the copy only if this execution made it and it is not available."""
    raw_job = event.get("job")
    job: Mapping[str, Any] = raw_job if isinstance(raw_job, dict) else {}
    error_type, message = error_of(event.get("error"))
    step = failed_step(job)
    cleanup = _remove_incomplete_copy(cast(Job, job)) if _made_a_copy(job) else ""
    remedy = "" if remedy_for(error_type) else f"; {_OTHER_REMEDIES.get(error_type, _GENERIC_REMEDY)}"
    cause = f"{describe(job)} failed at step {step} with {error_type}: {message.rstrip('.')}{remedy}.{cleanup}"
    return {"error": error_type, "cause": cause}


def error_of(error: object) -> tuple[str, str]:
    """errorType and errorMessage from a Catch's ``{"Error", "Cause"}`` (Cause is the Lambda's error as JSON)."""
    if not isinstance(error, dict):
        return "UnknownError", "no error details were passed to the failure handler"
    name = str(error.get("Error") or "UnknownError")
    cause = error.get("Cause")
    try:
        details = json.loads(cause) if isinstance(cause, str) else {}
    except json.JSONDecodeError:
        details = {}
    if not isinstance(details, dict):
        details = {}
    message = details.get("errorMessage") or (cause if isinstance(cause, str) and cause else "no message")
    return str(details.get("errorType") or name), str(message)


def _made_a_copy(job: Mapping[str, Any]) -> bool:
    destination = job.get("destination")
    return isinstance(destination, dict) and destination.get("created") is True and "snapshot_id" in destination


def _remove_incomplete_copy(job: Job) -> str:
    """Delete this execution's copy unless it is available; the sentence that says what happened to it."""
    destination = job["destination"]
    snapshot_id, region = destination["snapshot_id"], destination.get("region", "?")
    try:
        adapter = _adapter(job)
        record = adapter.copy_status(snapshot_id)
        if record.status == AVAILABLE:
            return f" The copy {snapshot_id} in {region} is available and was kept."
        if record.tags.get(TAG_EXECUTION) != job["execution"]["id"]:
            return f" The copy {snapshot_id} in {region} was kept: this execution did not make it."
        adapter.delete_snapshot(record)
    except CopyFailed:
        return ""  # already gone
    except Exception as error:  # the failure handler must word a cause whatever happens here
        return f" The incomplete copy {snapshot_id} in {region} could not be removed ({error}); delete it by hand."
    return f" The incomplete copy {snapshot_id} in {region}, made by this execution, was deleted."
