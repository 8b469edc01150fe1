"""The Lambda tasks of the cross-account share (handlers ``kmsflow.lambdas.snapshot_share.handlers.<name>``).

The order (DESIGN §5, issue 10): take the source snapshot; make it shareable (a copy in place under the region's
sharing key unless it is under one already, or unencrypted RDS/EBS); open access for one target copy role (one KMS
grant on the key of the shared snapshot, retiring principal = the revoke step's role; the share for that one
account); copy it in the target account as the target's copy role (two hops where AWS copies a shared snapshot
only within its region); revoke (unshare, retire the grant, delete the temporary copy) — after the copy is
available, and on any failure before the Fail state. Each task takes the job and returns it updated (see the copy
machine's handlers, whose source steps and family adapters these reuse); only named errors leave a task.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, cast

from kmsflow.lambdas import aws_clients
from kmsflow.lambdas.errors import (
    CopyFailed,
    IntermediateKeyMissing,
    RevocationIncomplete,
    SharedKeyNotUsable,
    SharedKeyNotYetUsable,
    SharingKeyMissing,
    SourceNotFound,
    TargetKeyNotUsable,
    TargetRoleNotAssumable,
    WorkflowError,
    aws_errors,
    error_code,
    named,
    remedy_for,
)
from kmsflow.lambdas.snapshot_copy import backoff
from kmsflow.lambdas.snapshot_copy import handlers as copy_steps
from kmsflow.lambdas.snapshot_copy.adapters import (
    AVAILABLE,
    FAILED,
    PENDING,
    RoleRef,
    SnapshotAdapter,
    SnapshotRecord,
    adapter_for,
)
from kmsflow.lambdas.snapshot_copy.job import TAG_EXECUTION, TAG_JOB_ID
from kmsflow.lambdas.snapshot_share import grants
from kmsflow.lambdas.snapshot_share.job import (
    Access,
    Hop,
    Revoked,
    Shared,
    ShareJob,
    declared_targets,
    describe,
    empty_revoked,
    hop_snapshot_id,
    job_tags,
    lineage_tags,
    output,
    parse_input,
    retiring_role,
    shareable_snapshot_id,
    sharing_keys,
    source_snapshot_id,
    target_snapshot_id,
)

#: Families whose shared snapshots AWS copies only within their region ("if the shared DB snapshot is encrypted,
#: you can only copy it in the same Region", RDS User Guide USER_CopySnapshot; "You can only copy a shared DB
#: cluster snapshot, whether encrypted or not, in the same AWS Region", Aurora User Guide aurora-copy-snapshot).
#: The value says whether that holds for unencrypted snapshots too. EBS copies a shared snapshot to any region.
SAME_REGION_SHARED_COPY: Mapping[str, bool] = {"rds": False, "aurora": True}

#: AWS error codes that mean "the role could not be assumed" (missing role, trust or external id mismatch).
_ASSUME_REFUSED = frozenset({"AccessDenied", "AccessDeniedException", "NoSuchEntity", "InvalidClientTokenId"})
#: Codes of a copy refused because the caller cannot use the shared snapshot's key (RDS answers at once; EBS
#: accepts the copy and fails it, "Given key ID is not accessible", seen in :func:`_hop_status`).
_KEY_REFUSED = frozenset({"KMSKeyNotAccessibleFault", "AccessDeniedException", "UnauthorizedOperation"})
#: Refusals of the shared key the target-copy step waits out (with the copy back-off: 30 s doubling, about 30
#: minutes in all) before it fails: KMS says a new grant is usable everywhere "usually" within five minutes
#: (KMS Developer Guide, "Eventual consistency").
MAX_KEY_REFUSALS = 6


def _job(event: Mapping[str, Any]) -> ShareJob:
    return cast(ShareJob, copy.deepcopy(dict(event)))


def _source_adapter(job: ShareJob) -> SnapshotAdapter:
    """The source account's adapter in the source region (copies in place stay there)."""
    region = job["source"]["region"]
    return adapter_for(job["source"]["family"], source_region=region, destination_region=region)


def _role(job: ShareJob) -> RoleRef:
    target = job["target"]
    return RoleRef(target["role_arn"], target["external_id"], session_name=f"kmsflow-share-{job['job_id']}")


def _target_adapter(job: ShareJob, *, source_region: str, region: str) -> SnapshotAdapter:
    """The target account's adapter (through its copy role) for a copy from ``source_region`` into ``region``."""
    return adapter_for(job["source"]["family"], source_region=source_region, destination_region=region, role=_role(job))


def _source_account() -> str:
    """This machine's account: the retiring role is one of its own step roles."""
    return retiring_role().split(":")[4]


# --- validate and source -----------------------------------------------------------------------------------------


def validate(event: Mapping[str, Any], context: Any) -> ShareJob:
    """Check the input (``event["input"]``) against the machine's declared targets and build the job."""
    return parse_input(event.get("input"), event.get("execution"), declared_targets())


def prepare_source(event: Mapping[str, Any], context: Any) -> ShareJob:
    """As the copy machine: snapshot the instance, cluster or volume once per job, or look up the snapshot."""
    job = _job(event)
    copy_steps.take_source(job["source"], _source_adapter(job), snapshot_id=source_snapshot_id(job), tags=job_tags(job))
    job["wait"] = backoff.initial()
    job["last_step"] = "prepare_source"
    return job


def check_source(event: Mapping[str, Any], context: Any) -> ShareJob:
    job = _job(event)
    job["wait"] = copy_steps.source_progress(job["source"], _source_adapter(job), job["wait"])
    job["last_step"] = "check_source"
    return job


# --- shareable ---------------------------------------------------------------------------------------------------


def _key_id(arn_or_id: str | None) -> str | None:
    """The bare key id of a key ARN (``.../key/<id>``) or id; None for None."""
    return None if arn_or_id is None else arn_or_id.rsplit("/", 1)[-1]


def prepare_shareable(event: Mapping[str, Any], context: Any) -> ShareJob:
    """Decide what is shared. A snapshot under the region's sharing key, or an unencrypted RDS or EBS snapshot
    (the target's copy encrypts it), is shared as it is; any other key is never opened to another account (and
    an AWS managed key cannot be shared at all), so the snapshot is first copied in place under the sharing key."""
    job = _job(event)
    source, adapter = job["source"], _source_adapter(job)
    region = source["region"]
    record = adapter.source_status(source["snapshot_id"])
    sharing_key = sharing_keys().get(region)
    if sharing_key is None:
        raise SharingKeyMissing(f"the machine has no sharing key in {region}, where the source snapshot is")
    if not record.encrypted or _key_id(record.kms_key_id) == _key_id(sharing_key):
        job["shared"] = _shared(record, created=False)
    else:
        target_id = shareable_snapshot_id(job)
        made = adapter.find_copy(target_id, job_id=job["job_id"])
        if made is None:
            made = adapter.copy(
                record, target_id=target_id, kms_key_arn=sharing_key, tags=job_tags(job), option_group_name=None
            )
        job["shared"] = _shared(made, created=True)
    job["wait"] = backoff.initial()
    job["last_step"] = "prepare_shareable"
    return job


def _shared(record: SnapshotRecord, *, created: bool) -> Shared:
    return Shared(
        region=record.region,
        snapshot_id=record.snapshot_id,
        snapshot_arn=record.arn,
        encrypted=record.encrypted,
        kms_key_id=record.kms_key_id,
        created=created,
        status=record.status,
    )


def check_shareable(event: Mapping[str, Any], context: Any) -> ShareJob:
    """Status of the temporary copy under the sharing key (a snapshot shared as it is is available already)."""
    job = _job(event)
    shared = job["shared"]
    record = _source_adapter(job).source_status(shared["snapshot_id"])
    if record.status == FAILED:
        raise CopyFailed(
            f"the copy {record.snapshot_id} under the sharing key in {record.region} is {record.raw_status}"
        )
    shared["status"] = record.status
    shared["kms_key_id"] = record.kms_key_id
    if record.status == PENDING:
        job["wait"] = backoff.next_wait(job["wait"], record.progress)
    job["last_step"] = "check_shareable"
    return job


# --- open access -------------------------------------------------------------------------------------------------


def _ref(shared: Shared) -> SnapshotRecord:
    return SnapshotRecord(
        region=shared["region"],
        snapshot_id=shared["snapshot_id"],
        arn=shared["snapshot_arn"],
        status=shared["status"],
        encrypted=shared["encrypted"],
        kms_key_id=shared["kms_key_id"],
    )


def _own_grants(job: ShareJob, key_arn: str) -> list[dict[str, Any]]:
    """This job's live grants on ``key_arn`` for the target's copy role (by name and grantee: ListGrants cannot
    filter by name, and a rerun must find what an earlier run created)."""
    region = key_arn.split(":")[3]
    kms = aws_clients.client("kms", region=region)
    name, grantee = grants.grant_name(job["job_id"]), job["target"]["role_arn"]
    found: list[dict[str, Any]] = []
    with aws_errors(action="list_grants", resource=f"KMS key {key_arn}", region=region):
        for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn):
            found += [g for g in page["Grants"] if g.get("Name") == name and g.get("GranteePrincipal") == grantee]
    return found


def open_access(event: Mapping[str, Any], context: Any) -> ShareJob:
    """One grant for the target copy role on the shared snapshot's key, then the share with the target account."""
    job = _job(event)
    shared, target = job["shared"], job["target"]
    key_arn = shared["kms_key_id"] if shared["encrypted"] else None
    access = Access(key_arn=key_arn)
    job["access"] = access
    existing: list[dict[str, Any]] = []
    if key_arn is not None:
        existing = _own_grants(job, key_arn)
        if existing:
            access["grant_id"] = str(existing[0]["GrantId"])
        else:
            region = key_arn.split(":")[3]
            with aws_errors(action="create_grant", resource=f"KMS key {key_arn}", region=region):
                response = aws_clients.client("kms", region=region).create_grant(
                    KeyId=key_arn,
                    GranteePrincipal=target["role_arn"],
                    RetiringPrincipal=retiring_role(),
                    Operations=list(grants.GRANT_OPERATIONS[job["source"]["family"]]),
                    Name=grants.grant_name(job["job_id"]),
                )
            access["grant_id"] = str(response["GrantId"])
    adapter, ref = _source_adapter(job), _ref(shared)
    # Shared with the account before this job, and so not ours to remove: unless the job made the snapshot, or
    # an earlier attempt of the job left its grant (a crash before its revocation: then the share is the job's
    # too). An unencrypted snapshot has no grant to tell; a share a crash left on it is kept (README).
    listed = target["account"] in adapter.shared_with(ref)
    access["shared_before"] = listed and not existing and not shared["created"]
    if not listed:
        adapter.share(ref, target["account"])
    access["shared"] = True
    job["wait"] = backoff.initial()
    job["last_step"] = "open_access"
    return job


# --- target copy -------------------------------------------------------------------------------------------------


def _assumable(job: ShareJob) -> None:
    """Assume the target copy role now, so that a refusal is named (and not mistaken for a refused copy)."""
    target = job["target"]
    refused = named(
        TargetRoleNotAssumable, f"role {target['role_arn']} of account {target['account']} refused to be assumed"
    )
    with aws_errors(
        action="assume_role",
        resource=f"role {target['role_arn']}",
        region=target["region"],
        codes=dict.fromkeys(_ASSUME_REFUSED, refused),
    ):
        aws_clients.session_for(
            region=target["region"],
            role_arn=target["role_arn"],
            external_id=target["external_id"],
            session_name=_role(job).session_name,
        )


def _target_key(job: ShareJob) -> dict[str, Any]:
    """The target key's metadata, read as the target copy role; it must be usable for the copy."""
    target = job["target"]
    region, key_id = target["region"], target["kms_key_id"]
    missing = named(TargetKeyNotUsable, f"KMS key {key_id} does not exist in {region} of account {target['account']}")
    codes = {
        "NotFoundException": missing,
        "InvalidArnException": missing,
        "AccessDeniedException": named(TargetKeyNotUsable, f"the target copy role may not describe {key_id}"),
    }
    client = aws_clients.client(
        "kms",
        region=region,
        role_arn=target["role_arn"],
        external_id=target["external_id"],
        session_name=_role(job).session_name,
    )
    with aws_errors(action="describe_key", resource=f"KMS key {key_id}", region=region, codes=codes):
        metadata: dict[str, Any] = client.describe_key(KeyId=key_id)["KeyMetadata"]
    try:
        copy_steps.require_usable_key(metadata, key_id=key_id, region=region)
    except WorkflowError as error:
        raise TargetKeyNotUsable(error.problem) from error
    return metadata


def _plan(job: ShareJob, metadata: Mapping[str, Any]) -> list[Hop]:
    """The copies to make in the target account: one, or two when AWS copies this shared snapshot only within its
    region (the first under the target key's replica in that region)."""
    shared, target = job["shared"], job["target"]
    final = Hop(region=target["region"], target_id=target_snapshot_id(job), kms_key_arn=str(metadata["Arn"]))
    needs_region = SAME_REGION_SHARED_COPY.get(job["source"]["family"])
    stays = needs_region is not None and (needs_region or shared["encrypted"])
    if not stays or shared["region"] == target["region"]:
        return [final]
    replica = _key_in_region(metadata, shared["region"])
    if replica is None:
        raise IntermediateKeyMissing(
            f"AWS copies a shared {job['source']['family']} snapshot only within {shared['region']}, and target key"
            f" {metadata['Arn']} has no replica there to encrypt that first copy"
        )
    first = Hop(region=shared["region"], target_id=hop_snapshot_id(job), kms_key_arn=replica)
    return [first, final]


def _key_in_region(metadata: Mapping[str, Any], region: str) -> str | None:
    """The ARN of the multi-Region key's primary or replica in ``region``; None if it has none there."""
    config = metadata.get("MultiRegionConfiguration") or {}
    keys = [config.get("PrimaryKey") or {}, *(config.get("ReplicaKeys") or [])]
    return next((str(k["Arn"]) for k in keys if k.get("Region") == region and k.get("Arn")), None)


def target_copy(event: Mapping[str, Any], context: Any) -> ShareJob:
    """Everything in the target account, as its copy role: check the key and plan the hops on the first call,
    then start or check the current hop; when the last is available, complete its lineage tags and delete the
    intermediate copy. ``{"action": "clean_up", "job": ...}`` (the failure path) removes this execution's
    incomplete copies instead."""
    if event.get("action") == "clean_up":
        return _clean_up_target(_job(event.get("job") or {}))
    job = _job(event)
    target = job["target"]
    if "hops" not in target:
        _assumable(job)
        metadata = _target_key(job)
        target["kms_key_arn"] = str(metadata["Arn"])
        target["hops"] = _plan(job, metadata)
    hops = target["hops"]
    record = _ref(job["shared"])
    for hop in hops:
        try:
            record, started = _advance(job, hop, record)
        except SharedKeyNotYetUsable as refused:
            return _refused(job, refused)
        if record.status != AVAILABLE:
            target["status"] = record.status
            job["wait"] = backoff.initial() if started else backoff.next_wait(job["wait"], record.progress)
            job["last_step"] = "target_copy"
            return job
    final = hops[-1]
    target["snapshot_id"], target["snapshot_arn"] = final["snapshot_id"], final["snapshot_arn"]
    adapter = _target_adapter(job, source_region=record.region, region=final["region"])
    _complete_tags(adapter, record, _copy_tags(job))
    for hop in hops[:-1]:
        _delete_own(_target_adapter(job, source_region=hop["region"], region=hop["region"]), hop, job)
    target["status"] = AVAILABLE
    job["last_step"] = "target_copy"
    return job


def _refused(job: ShareJob, refused: SharedKeyNotYetUsable) -> ShareJob:
    """Count a refusal of the shared key and come back after the next wait; fail after MAX_KEY_REFUSALS."""
    target = job["target"]
    refusals = int(target.get("key_refusals", 0)) + 1
    if refusals > MAX_KEY_REFUSALS:
        raise SharedKeyNotUsable(f"{refused.problem}; refused {refusals} times since the grant was created")
    target["key_refusals"] = refusals
    target["status"] = PENDING
    job["wait"] = backoff.next_wait(job["wait"], None)
    job["last_step"] = "target_copy"
    return job


def _copy_tags(job: ShareJob) -> dict[str, str]:
    """The user's options.tags, then the lineage (which wins)."""
    return {**job["options"]["tags"], **lineage_tags(job, _source_account())}


def _advance(job: ShareJob, hop: Hop, source: SnapshotRecord) -> tuple[SnapshotRecord, bool]:
    """The hop's copy now, and whether this call started it: found (a rerun, or an earlier call), else started
    from ``source``."""
    adapter = _target_adapter(job, source_region=source.region, region=hop["region"])
    record = adapter.find_copy(hop["target_id"], job_id=job["job_id"])
    started = record is None
    if record is None:
        record = _start(job, adapter, hop, source)
        hop["created"] = True
    if record.status == FAILED:
        # EBS accepts a copy whose source key it cannot use and then fails it ("Given key ID is not accessible"):
        # remove the failed copy of this job and let the state machine retry while the grant propagates.
        adapter.delete_snapshot(record)
        raise SharedKeyNotYetUsable(
            f"the copy {record.snapshot_id} in {record.region} of account {job['target']['account']} failed"
            f" ({record.raw_status}); it was deleted"
        )
    hop["snapshot_id"], hop["snapshot_arn"], hop["status"] = record.snapshot_id, record.arn, record.status
    return record, started


def _start(job: ShareJob, adapter: SnapshotAdapter, hop: Hop, source: SnapshotRecord) -> SnapshotRecord:
    try:
        return adapter.copy(
            source,
            target_id=hop["target_id"],
            kms_key_arn=hop["kms_key_arn"],
            tags=_copy_tags(job),
            option_group_name=None,
        )
    except WorkflowError as error:
        cause = error.__cause__
        if cause is not None and hasattr(cause, "response") and error_code(cause) in _KEY_REFUSED:
            raise SharedKeyNotYetUsable(
                f"account {job['target']['account']} could not use the key of {source.arn} yet ({error.problem})"
            ) from error
        raise


def _complete_tags(adapter: SnapshotAdapter, record: SnapshotRecord, wanted: Mapping[str, str]) -> None:
    """Add the lineage and user tags the copy lacks (a copy found by a rerun keeps its maker's execution tag)."""
    missing = {k: v for k, v in wanted.items() if k not in record.tags or (k != TAG_EXECUTION and record.tags[k] != v)}
    if missing:
        adapter.tag(record, missing)


def _delete_own(adapter: SnapshotAdapter, hop: Hop, job: ShareJob) -> bool:
    """Delete a copy this job made (its job tag says so); False if it is gone or not the job's."""
    if "snapshot_id" not in hop:
        return False
    try:
        record = adapter.copy_status(hop["snapshot_id"])
    except CopyFailed:
        return False
    if record.tags.get(TAG_JOB_ID) != job["job_id"]:
        return False
    return adapter.delete_snapshot(record)


def _clean_up_target(job: ShareJob) -> ShareJob:
    """On failure: delete this execution's copies in the target account that are not a finished final copy."""
    hops: list[Hop] = list(job.get("target", {}).get("hops") or [])
    revoked = job.setdefault("revoked", empty_revoked())
    for index, hop in enumerate(hops):
        if not hop.get("created") or "snapshot_id" not in hop:
            continue
        final = index == len(hops) - 1
        adapter = _target_adapter(job, source_region=hop["region"], region=hop["region"])
        try:
            record = adapter.copy_status(hop["snapshot_id"])
        except CopyFailed:
            continue
        if final and record.status == AVAILABLE:
            continue  # a finished copy is the target's now; a rerun finds it
        if record.tags.get(TAG_EXECUTION) == job["execution"]["id"] and adapter.delete_snapshot(record):
            revoked["deleted"].append(f"{job['target']['account']}:{record.region}:{record.snapshot_id}")
    return job


# --- revoke ------------------------------------------------------------------------------------------------------


def revoke(event: Mapping[str, Any], context: Any) -> ShareJob:
    """Remove every access this job opened: the share (unless the account was in it before), every grant of
    the job for the target role (found by name, so also one a crashed run created), and the temporary copy under
    the sharing key. Runs after the target copy is available, and on the failure path. Each part is tried even
    if another fails; RevocationIncomplete then lists what is left (the state machine retries it)."""
    job = _job(event)
    revoked = job.setdefault("revoked", empty_revoked())
    shared = job.get("shared")
    if shared is None:
        return job  # nothing was made shareable, so nothing was opened
    problems: list[str] = []
    _try(problems, "remove the share", lambda: _unshare(job, shared, revoked))
    _try(problems, "retire the grant", lambda: _retire(job, shared, revoked))
    _try(problems, "delete the temporary copy", lambda: _delete_temporary(job, shared, revoked))
    if problems:
        raise RevocationIncomplete(f"{describe(job)} could not " + "; ".join(problems))
    if "error" not in job:  # on the failure path, last_step keeps naming where the execution stopped
        job["last_step"] = "revoke"
    return job


def _try(problems: list[str], what: str, action: Callable[[], None]) -> None:
    try:
        action()
    except WorkflowError as error:
        problems.append(f"{what} ({error.problem})")


def _unshare(job: ShareJob, shared: Shared, revoked: Revoked) -> None:
    access = job.get("access")
    if access is not None and access.get("shared_before"):
        return  # shared with that account before this job: not ours to remove
    account = job["target"]["account"]
    adapter, ref = _source_adapter(job), _ref(shared)
    try:
        listed = account in adapter.shared_with(ref)
    except (SourceNotFound, CopyFailed):
        return
    if listed and adapter.unshare(ref, account):
        revoked["unshared"].append(f"{account}:{shared['snapshot_arn']}")


def _retire(job: ShareJob, shared: Shared, revoked: Revoked) -> None:
    key_arn = shared["kms_key_id"] if shared["encrypted"] else None
    if key_arn is None:
        return
    region = key_arn.split(":")[3]
    kms = aws_clients.client("kms", region=region)
    for grant in _own_grants(job, key_arn):
        with aws_errors(action="retire_grant", resource=f"grant {grant['GrantId']} of {key_arn}", region=region):
            try:
                kms.retire_grant(KeyId=key_arn, GrantId=grant["GrantId"])
            except Exception as error:
                if not (hasattr(error, "response") and error_code(error) == "NotFoundException"):
                    raise
        revoked["grants"].append(str(grant["GrantId"]))


def _delete_temporary(job: ShareJob, shared: Shared, revoked: Revoked) -> None:
    if not shared["created"]:
        return
    adapter = _source_adapter(job)
    try:
        record = adapter.source_status(shared["snapshot_id"])
    except SourceNotFound:
        return
    if record.tags.get(TAG_JOB_ID) == job["job_id"] and adapter.delete_snapshot(record):
        revoked["deleted"].append(f"{record.region}:{record.snapshot_id}")


# --- finish and failure ------------------------------------------------------------------------------------------


def finish(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The output; deletes the source snapshot the job made of an instance, cluster or volume if asked."""
    job = _job(event)
    source = job["source"]
    deleted = False
    if job["options"]["delete_source_snapshot"] and source.get("created"):
        adapter = _source_adapter(job)
        try:
            record = adapter.source_status(source["snapshot_id"])
            if record.tags.get(TAG_JOB_ID) == job["job_id"]:
                deleted = adapter.delete_snapshot(record)
        except SourceNotFound:
            deleted = True  # deleted by an earlier attempt of this step
    return output(job, deleted=deleted)


def on_failure(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """The Fail state's error and cause: what failed where, what the revocation removed, and what it could not."""
    raw = event.get("job")
    job: dict[str, Any] = raw if isinstance(raw, dict) else {}
    error_type, message = copy_steps.error_of(event.get("error"))
    step = _failed_step(job)
    remedy = "" if remedy_for(error_type) else "; read the task's log, fix the cause and start again"
    cause = f"{describe(job)} failed at step {step} with {error_type}: {message.rstrip('.')}{remedy}."
    revoked = job.get("revoked") if isinstance(job.get("revoked"), dict) else None
    if revoked is not None and any(revoked.values()):
        parts = [f"{name}: {', '.join(map(str, items))}" for name, items in revoked.items() if items]
        cause += " Revoked: " + "; ".join(parts) + "."
    for field, what in (("cleanup_error", "cleaning up the target"), ("revoke_error", "revoking access")):
        if isinstance(job.get(field), dict):
            left_type, left = copy_steps.error_of(job[field])
            cause += f" ACCESS MAY REMAIN: {what} failed with {left_type}: {left.rstrip('.')}."
    return {"error": error_type, "cause": cause}


#: The task after each task that has one successor (the checks loop until available).
_NEXT_STEP = {
    "validate": "prepare_source",
    "prepare_source": "check_source",
    "prepare_shareable": "check_shareable",
    "open_access": "target_copy",
    "revoke": "finish",
}


def _failed_step(job: Mapping[str, Any]) -> str:
    last = job.get("last_step")
    if last == "check_source":
        return "prepare_shareable" if job.get("source", {}).get("status") == AVAILABLE else "check_source"
    if last == "check_shareable":
        return "open_access" if job.get("shared", {}).get("status") == AVAILABLE else "check_shareable"
    if last == "target_copy":
        return "revoke" if job.get("target", {}).get("status") == AVAILABLE else "target_copy"
    if isinstance(last, str) and last in _NEXT_STEP:
        return _NEXT_STEP[last]
    return "validate"
