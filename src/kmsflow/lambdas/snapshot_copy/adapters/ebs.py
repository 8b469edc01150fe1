"""EBS snapshots: AWS chooses their ids, so the job finds its own snapshots by the ``kmsflow:job-id`` tag.

Tags are set in the same call that makes a snapshot (``TagSpecifications``), so a snapshot the job made always
carries its tag, even when the Lambda dies right after the call: the tag is the deterministic identifier that
RDS gets from names. ``Name`` carries the readable id (``kmsflow-<job_id>`` / ``...-src``) for people.
A cross-region copy is asked for in the destination region with ``SourceRegion``; boto3 presigns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from kmsflow.lambdas.errors import (
    CopyFailed,
    CopyQuotaExceeded,
    ErrorFactory,
    SourceNotFound,
    SourceNotReady,
    aws_errors,
    error_code,
    named,
)
from kmsflow.lambdas.snapshot_copy.adapters import (
    AVAILABLE,
    FAILED,
    PENDING,
    ClientCache,
    RoleRef,
    SnapshotRecord,
    SnapshotRef,
    percent,
    tag_list,
    tag_map,
)
from kmsflow.lambdas.snapshot_copy.job import TAG_JOB_ID, partition_of

#: EBS snapshot states in the workflow's vocabulary ("recoverable" means deleted into the Recycle Bin).
_STATUS = {"completed": AVAILABLE, "pending": PENDING, "recovering": PENDING, "error": FAILED, "recoverable": FAILED}
_PREFERENCE = {AVAILABLE: 0, PENDING: 1, FAILED: 2}
#: The snapshot attribute that lists the accounts allowed to create volumes from (and copy) a snapshot.
_SHARE_ATTRIBUTE = "createVolumePermission"
_NOT_FOUND = frozenset({"InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed"})
#: Too many pending snapshots of one volume, or CreateSnapshot calls on it: transient, retried like copy quotas.
_VOLUME_LIMITS = ("ConcurrentSnapshotLimitExceeded", "SnapshotCreationPerVolumeRateExceeded")


def snapshot_arn(region: str, snapshot_id: str) -> str:
    """The ARN of an EBS snapshot (EBS snapshot ARNs carry no account id)."""
    return f"arn:{partition_of(region)}:ec2:{region}::snapshot/{snapshot_id}"


class EbsAdapter:
    """EBS snapshots between a source and a destination region."""

    family = "ebs"
    encrypts_unencrypted = True

    def __init__(self, *, source_region: str, destination_region: str, role: RoleRef | None = None) -> None:
        self.source_region = source_region
        self.destination_region = destination_region
        self.role = role
        self._ec2 = ClientCache("ec2", role)

    # -- reading --------------------------------------------------------------------------------------------------

    def _record(self, region: str, item: Mapping[str, Any]) -> SnapshotRecord:
        encrypted = bool(item.get("Encrypted"))
        state = str(item.get("State", ""))
        return SnapshotRecord(
            region=region,
            snapshot_id=item["SnapshotId"],
            arn=snapshot_arn(region, item["SnapshotId"]),
            status=_STATUS.get(state, PENDING),
            encrypted=encrypted,
            kms_key_id=item.get("KmsKeyId") if encrypted else None,
            tags=tag_map(item.get("Tags")),
            raw_status=state,
            progress=percent(item.get("Progress")),
        )

    def _describe(self, region: str, snapshot_id: str) -> SnapshotRecord | None:
        with aws_errors(action="describe_snapshots", resource=f"EBS snapshot {snapshot_id}", region=region):
            try:
                items = self._ec2(region).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
            except ClientError as error:
                if error_code(error) in _NOT_FOUND:
                    return None
                raise
        return self._record(region, items[0]) if items else None

    def _find(self, region: str, tags: Mapping[str, str], **filters: str) -> SnapshotRecord | None:
        """The account's snapshot in ``region`` with those tags (and filters): available first, then pending."""
        wanted = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
        wanted += [{"Name": name, "Values": [value]} for name, value in filters.items()]
        with aws_errors(action="describe_snapshots", resource=f"snapshots tagged {dict(tags)}", region=region):
            pages = self._ec2(region).get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=wanted)
            items = [item for page in pages for item in page["Snapshots"]]
        if not items:
            return None
        records = [self._record(region, item) for item in sorted(items, key=_newest_first)]
        return min(records, key=lambda record: _PREFERENCE[record.status])

    def resolve_source_snapshot(self, snapshot_id: str) -> SnapshotRecord:
        record = self._describe(self.source_region, snapshot_id)
        if record is None:
            raise SourceNotFound(f"EBS snapshot {snapshot_id} does not exist in {self.source_region} (or is not yours)")
        return record

    def source_status(self, snapshot_id: str) -> SnapshotRecord:
        record = self._describe(self.source_region, snapshot_id)
        if record is None:
            raise SourceNotFound(
                f"source EBS snapshot {snapshot_id} disappeared from {self.source_region} before the copy was made",
                remedy="find out who deleted it, then start the same input again: the workflow makes a new one",
            )
        return record

    def copy_status(self, snapshot_id: str) -> SnapshotRecord:
        record = self._describe(self.destination_region, snapshot_id)
        if record is None:
            raise CopyFailed(f"copy EBS snapshot {snapshot_id} no longer exists in {self.destination_region}")
        return record

    def find_copy(self, target_id: str, *, job_id: str) -> SnapshotRecord | None:
        # By Name as well: a copy in place (the share's) sits in the region of the job's own source snapshot.
        return self._find(self.destination_region, {TAG_JOB_ID: job_id, "Name": target_id})

    # -- writing --------------------------------------------------------------------------------------------------

    def create_source_snapshot(self, resource_id: str, *, snapshot_id: str, tags: Mapping[str, str]) -> SnapshotRecord:
        existing = self._find(self.source_region, tags, **{"volume-id": resource_id})
        if existing is not None:
            return existing
        volume = f"EBS volume {resource_id}"
        codes: dict[str, ErrorFactory] = {
            "InvalidVolume.NotFound": named(SourceNotFound, f"{volume} does not exist in {self.source_region}"),
            "InvalidVolumeID.Malformed": named(SourceNotFound, f"{volume} is not a volume id"),
            "IncorrectState": named(SourceNotReady, f"{volume} in {self.source_region} cannot be snapshotted now"),
        }
        codes.update(
            {code: named(CopyQuotaExceeded, f"{volume} has too many pending snapshots") for code in _VOLUME_LIMITS}
        )
        specification = {"ResourceType": "snapshot", "Tags": tag_list({**tags, "Name": snapshot_id})}
        with aws_errors(action="create_snapshot", resource=volume, region=self.source_region, codes=codes):
            item = self._ec2(self.source_region).create_snapshot(
                VolumeId=resource_id,
                Description=f"{snapshot_id}: kmsflow source snapshot",
                TagSpecifications=[specification],
            )
        return self._record(self.source_region, item)

    def copy(
        self,
        source: SnapshotRecord,
        *,
        target_id: str,
        kms_key_arn: str,
        tags: Mapping[str, str],
        option_group_name: str | None,
    ) -> SnapshotRecord:
        """Copy encrypted under the destination key (``Encrypted=True`` also encrypts an unencrypted source)."""
        target = f"copy of EBS snapshot {source.snapshot_id} to {self.destination_region}"
        codes: dict[str, ErrorFactory] = {
            "ResourceLimitExceeded": named(CopyQuotaExceeded, f"too many snapshot copies to {self.destination_region}"),
            "InvalidSnapshot.NotFound": named(SourceNotFound, f"source EBS snapshot {source.snapshot_id} is gone"),
            "IncorrectState": named(SourceNotReady, f"source EBS snapshot {source.snapshot_id} is not completed"),
        }
        specification = {"ResourceType": "snapshot", "Tags": tag_list({**tags, "Name": target_id})}
        with aws_errors(action="copy_snapshot", resource=target, region=self.destination_region, codes=codes):
            response = self._ec2(self.destination_region).copy_snapshot(
                SourceRegion=source.region,
                SourceSnapshotId=source.snapshot_id,
                Encrypted=True,
                KmsKeyId=kms_key_arn,
                Description=f"{target_id}: copy of {source.arn}"[:255],
                TagSpecifications=[specification],
            )
        # Describe may not see a fresh copy for a few seconds; what the call returned is enough until check_copy.
        new_id = response["SnapshotId"]
        return SnapshotRecord(
            region=self.destination_region,
            snapshot_id=new_id,
            arn=snapshot_arn(self.destination_region, new_id),
            status=PENDING,
            encrypted=True,
            kms_key_id=kms_key_arn,
            tags=tag_map(response.get("Tags")) or dict(tags),
            raw_status="pending",
        )

    def tag(self, ref: SnapshotRef, tags: Mapping[str, str]) -> None:
        with aws_errors(action="create_tags", resource=f"EBS snapshot {ref.snapshot_id}", region=ref.region):
            self._ec2(ref.region).create_tags(Resources=[ref.snapshot_id], Tags=tag_list(tags))

    def delete_snapshot(self, ref: SnapshotRef) -> bool:
        with aws_errors(action="delete_snapshot", resource=f"EBS snapshot {ref.snapshot_id}", region=ref.region):
            try:
                self._ec2(ref.region).delete_snapshot(SnapshotId=ref.snapshot_id)
            except ClientError as error:
                if error_code(error) in _NOT_FOUND:
                    return False
                raise
        return True

    # -- sharing ----------------------------------------------------------------------------------------------------

    def shared_with(self, ref: SnapshotRef) -> list[str]:
        with aws_errors(
            action="describe_snapshot_attribute", resource=f"EBS snapshot {ref.snapshot_id}", region=ref.region
        ):
            permissions = (
                self._ec2(ref.region)
                .describe_snapshot_attribute(SnapshotId=ref.snapshot_id, Attribute=_SHARE_ATTRIBUTE)
                .get("CreateVolumePermissions", [])
            )
        return sorted(p.get("UserId") or p.get("Group", "") for p in permissions)

    def share(self, ref: SnapshotRef, account: str) -> None:
        self._modify_share(ref, "add", account)

    def unshare(self, ref: SnapshotRef, account: str) -> bool:
        try:
            self._modify_share(ref, "remove", account)
        except SourceNotFound:
            return False
        return True

    def _modify_share(self, ref: SnapshotRef, operation: str, account: str) -> None:
        resource = f"EBS snapshot {ref.snapshot_id}"
        codes: dict[str, ErrorFactory] = {
            code: named(SourceNotFound, f"{resource} does not exist in {ref.region}") for code in _NOT_FOUND
        }
        with aws_errors(action="modify_snapshot_attribute", resource=resource, region=ref.region, codes=codes):
            self._ec2(ref.region).modify_snapshot_attribute(
                SnapshotId=ref.snapshot_id, Attribute=_SHARE_ATTRIBUTE, OperationType=operation, UserIds=[account]
            )


def _newest_first(item: Mapping[str, Any]) -> float:
    """Sort key putting the most recently started snapshot first."""
    started = item.get("StartTime")
    return -started.timestamp() if started is not None else 0.0
