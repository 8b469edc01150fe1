"""RDS DB instance snapshots; also the shared code of the RDS family (Aurora differs only in names and rules).

RDS names snapshots by caller-chosen identifiers, so the job's deterministic ids are the snapshots' names and
"does the job's copy exist?" is one Describe call. A cross-region copy names its source by ARN and lets boto3
presign the request for the source region (``SourceRegion``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from kmsflow.lambdas.errors import (
    CopyFailed,
    CopyQuotaExceeded,
    DestinationKeyNotAccessible,
    ErrorFactory,
    OptionGroupRequired,
    ShareQuotaExceeded,
    SnapshotQuotaExceeded,
    SourceNotFound,
    SourceNotReady,
    TargetConflict,
    WorkflowError,
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
from kmsflow.lambdas.snapshot_copy.job import TAG_JOB_ID


@dataclass(frozen=True)
class RdsApi:
    """The names that differ between DB snapshots and DB cluster snapshots (same shapes otherwise)."""

    parent_label: str
    snapshot_label: str
    create: str
    describe: str
    copy: str
    delete: str
    parent_param: str
    snapshot_param: str
    source_param: str
    target_param: str
    list_key: str
    item_key: str
    arn_field: str
    encrypted_field: str
    parent_not_found: str
    parent_bad_state: str
    snapshot_not_found: str
    snapshot_exists: str
    snapshot_bad_state: str
    modify_attribute: str
    describe_attributes: str
    attributes_result: str
    attributes_list: str


RDS_INSTANCE_API = RdsApi(
    parent_label="DB instance",
    snapshot_label="DB snapshot",
    create="create_db_snapshot",
    describe="describe_db_snapshots",
    copy="copy_db_snapshot",
    delete="delete_db_snapshot",
    parent_param="DBInstanceIdentifier",
    snapshot_param="DBSnapshotIdentifier",
    source_param="SourceDBSnapshotIdentifier",
    target_param="TargetDBSnapshotIdentifier",
    list_key="DBSnapshots",
    item_key="DBSnapshot",
    arn_field="DBSnapshotArn",
    encrypted_field="Encrypted",
    parent_not_found="DBInstanceNotFound",
    parent_bad_state="InvalidDBInstanceState",
    snapshot_not_found="DBSnapshotNotFound",
    snapshot_exists="DBSnapshotAlreadyExists",
    snapshot_bad_state="InvalidDBSnapshotState",
    modify_attribute="modify_db_snapshot_attribute",
    describe_attributes="describe_db_snapshot_attributes",
    attributes_result="DBSnapshotAttributesResult",
    attributes_list="DBSnapshotAttributes",
)

#: The snapshot attribute that lists the accounts allowed to copy or restore a manual snapshot.
RESTORE_ATTRIBUTE = "restore"

#: RDS snapshot statuses in the workflow's vocabulary; unknown ones count as pending (the overall timeout bounds them).
_STATUS = {
    "available": AVAILABLE,
    "creating": PENDING,
    "copying": PENDING,
    "pending": PENDING,
    "modifying": PENDING,
    "upgrading": PENDING,
    "failed": FAILED,
    "error": FAILED,
    "deleting": FAILED,
    "deleted": FAILED,
}

#: Identifier prefixes of snapshots that RDS or AWS Backup made, and the SnapshotType that describes them.
_SNAPSHOT_TYPES = {"rds:": "automated", "awsbackup:": "awsbackup"}


def rds_status(raw: str) -> str:
    """``available`` / ``pending`` / ``failed`` for an RDS snapshot status."""
    if raw.startswith("incompatible"):
        return FAILED
    return _STATUS.get(raw, PENDING)


def snapshot_quota(region: str, resource: str) -> ErrorFactory:
    """RDS answers both of its snapshot limits with ``SnapshotQuotaExceeded``; only the message tells them apart.

    "Cannot copy more than N snapshots across regions" is the transient concurrent-copy limit (retried);
    "Cannot create more than N manual snapshots" is the account's snapshot count (a person must act).
    """

    def build(detail: str) -> WorkflowError:
        text = detail.lower()
        if "copy" in text or "copies" in text or "across regions" in text:
            return CopyQuotaExceeded(f"too many snapshot copies to {region} are in progress for {resource} ({detail})")
        return SnapshotQuotaExceeded(f"the manual snapshot quota of {region} is full for {resource} ({detail})")

    return build


class RdsFamilyAdapter:
    """Snapshots of the RDS family between a source and a destination region; ``api`` holds the names."""

    api: RdsApi = RDS_INSTANCE_API
    family = "rds"
    encrypts_unencrypted = True

    def __init__(self, *, source_region: str, destination_region: str, role: RoleRef | None = None) -> None:
        self.source_region = source_region
        self.destination_region = destination_region
        self.role = role
        self._rds = ClientCache("rds", role)

    # -- reading --------------------------------------------------------------------------------------------------

    def _label(self, snapshot_id: str) -> str:
        return f"{self.api.snapshot_label} {snapshot_id}"

    def _describe(self, region: str, snapshot_id: str) -> dict[str, Any] | None:
        """The snapshot's description, or None if no snapshot has that identifier in ``region``."""
        params: dict[str, Any] = {self.api.snapshot_param: snapshot_id}
        for prefix, snapshot_type in _SNAPSHOT_TYPES.items():
            if snapshot_id.startswith(prefix):
                params["SnapshotType"] = snapshot_type
        with aws_errors(action=self.api.describe, resource=self._label(snapshot_id), region=region):
            try:
                response = getattr(self._rds(region), self.api.describe)(**params)
            except ClientError as error:
                if error_code(error) == self.api.snapshot_not_found:
                    return None
                raise
        items: list[dict[str, Any]] = response.get(self.api.list_key, [])
        return items[0] if items else None

    def _record(self, region: str, item: Mapping[str, Any]) -> SnapshotRecord:
        encrypted = bool(item.get(self.api.encrypted_field))
        return SnapshotRecord(
            region=region,
            snapshot_id=item[self.api.snapshot_param],
            arn=item[self.api.arn_field],
            status=rds_status(str(item.get("Status", ""))),
            encrypted=encrypted,
            kms_key_id=item.get("KmsKeyId") if encrypted else None,
            tags=tag_map(item.get("TagList")),
            raw_status=str(item.get("Status", "")),
            engine=item.get("Engine"),
            option_group=item.get("OptionGroupName"),
            progress=percent(item.get("PercentProgress")),
        )

    def _own(self, record: SnapshotRecord, job_id: str) -> SnapshotRecord:
        """The record if it is the job's (or carries no job tag: made, then crashed before tagging)."""
        owner = record.tags.get(TAG_JOB_ID)
        if owner is not None and owner != job_id:
            raise TargetConflict(
                f"{self._label(record.snapshot_id)} in {record.region} belongs to kmsflow job {owner}, not {job_id}"
            )
        return record

    def resolve_source_snapshot(self, snapshot_id: str) -> SnapshotRecord:
        item = self._describe(self.source_region, snapshot_id)
        if item is None:
            raise SourceNotFound(f"{self._label(snapshot_id)} does not exist in {self.source_region}")
        return self._record(self.source_region, item)

    def source_status(self, snapshot_id: str) -> SnapshotRecord:
        item = self._describe(self.source_region, snapshot_id)
        if item is None:
            raise SourceNotFound(
                f"source {self._label(snapshot_id)} disappeared from {self.source_region} before the copy was made",
                remedy="find out who deleted it, then start the same input again: the workflow makes a new one",
            )
        return self._record(self.source_region, item)

    def copy_status(self, snapshot_id: str) -> SnapshotRecord:
        item = self._describe(self.destination_region, snapshot_id)
        if item is None:
            raise CopyFailed(f"copy {self._label(snapshot_id)} no longer exists in {self.destination_region}")
        return self._record(self.destination_region, item)

    def find_copy(self, target_id: str, *, job_id: str) -> SnapshotRecord | None:
        item = self._describe(self.destination_region, target_id)
        return None if item is None else self._own(self._record(self.destination_region, item), job_id)

    # -- writing --------------------------------------------------------------------------------------------------

    def _create_codes(self, resource_id: str) -> dict[str, ErrorFactory]:
        parent = f"{self.api.parent_label} {resource_id}"
        return {
            self.api.parent_not_found: named(SourceNotFound, f"{parent} does not exist in {self.source_region}"),
            self.api.parent_bad_state: named(
                SourceNotReady, f"{parent} in {self.source_region} cannot be snapshotted in its current state"
            ),
            "SnapshotQuotaExceeded": snapshot_quota(self.source_region, parent),
        }

    def create_source_snapshot(self, resource_id: str, *, snapshot_id: str, tags: Mapping[str, str]) -> SnapshotRecord:
        job_id = tags[TAG_JOB_ID]
        existing = self._describe(self.source_region, snapshot_id)
        if existing is not None:
            return self._own(self._record(self.source_region, existing), job_id)
        params = {self.api.parent_param: resource_id, self.api.snapshot_param: snapshot_id, "Tags": tag_list(tags)}
        codes = self._create_codes(resource_id)
        with aws_errors(
            action=self.api.create, resource=self._label(snapshot_id), region=self.source_region, codes=codes
        ):
            try:
                response = getattr(self._rds(self.source_region), self.api.create)(**params)
            except ClientError as error:
                if error_code(error) == self.api.snapshot_exists:  # a concurrent run of the same job was first
                    return self.resolve_source_snapshot(snapshot_id)
                raise
        return self._record(self.source_region, response[self.api.item_key])

    def _copy_params(
        self,
        source: SnapshotRecord,
        target_id: str,
        kms_key_arn: str,
        tags: Mapping[str, str],
        option_group: str | None,
    ) -> dict[str, Any]:
        """Arguments of the copy call: source by ARN, the destination key, no tags copied, lineage tags set;
        ``SourceRegion`` (boto3 presigns the request for it) only when the copy leaves the source's region."""
        params = {
            self.api.source_param: source.arn,
            self.api.target_param: target_id,
            "KmsKeyId": kms_key_arn,
            "CopyTags": False,
            "Tags": tag_list(tags),
        }
        if source.region != self.destination_region:
            params["SourceRegion"] = source.region
        return params

    def copy(
        self,
        source: SnapshotRecord,
        *,
        target_id: str,
        kms_key_arn: str,
        tags: Mapping[str, str],
        option_group_name: str | None,
    ) -> SnapshotRecord:
        params = self._copy_params(source, target_id, kms_key_arn, tags, option_group_name)
        target = f"{self._label(target_id)} in {self.destination_region}"
        codes: dict[str, ErrorFactory] = {
            self.api.snapshot_not_found: named(SourceNotFound, f"source {self._label(source.snapshot_id)} is gone"),
            self.api.snapshot_bad_state: named(
                SourceNotReady, f"source {self._label(source.snapshot_id)} is not ready"
            ),
            "KMSKeyNotAccessibleFault": named(
                DestinationKeyNotAccessible, f"RDS cannot use key {kms_key_arn} for {target}"
            ),
            "SnapshotQuotaExceeded": snapshot_quota(self.destination_region, target),
        }
        with aws_errors(action=self.api.copy, resource=target, region=self.destination_region, codes=codes):
            try:
                response = getattr(self._rds(self.destination_region), self.api.copy)(**params)
            except ClientError as error:
                if error_code(error) == self.api.snapshot_exists:  # a concurrent run of the same job was first
                    found = self.find_copy(target_id, job_id=tags[TAG_JOB_ID])
                    if found is not None:
                        return found
                raise
        return self._record(self.destination_region, response[self.api.item_key])

    def tag(self, ref: SnapshotRef, tags: Mapping[str, str]) -> None:
        with aws_errors(action="add_tags_to_resource", resource=self._label(ref.snapshot_id), region=ref.region):
            self._rds(ref.region).add_tags_to_resource(ResourceName=ref.arn, Tags=tag_list(tags))

    def delete_snapshot(self, ref: SnapshotRef) -> bool:
        with aws_errors(action=self.api.delete, resource=self._label(ref.snapshot_id), region=ref.region):
            try:
                getattr(self._rds(ref.region), self.api.delete)(**{self.api.snapshot_param: ref.snapshot_id})
            except ClientError as error:
                if error_code(error) == self.api.snapshot_not_found:
                    return False
                raise
        return True

    # -- sharing ----------------------------------------------------------------------------------------------------

    def shared_with(self, ref: SnapshotRef) -> list[str]:
        gone = named(SourceNotFound, f"{self._label(ref.snapshot_id)} does not exist in {ref.region}")
        with aws_errors(
            action=self.api.describe_attributes,
            resource=self._label(ref.snapshot_id),
            region=ref.region,
            codes={self.api.snapshot_not_found: gone},
        ):
            result = getattr(self._rds(ref.region), self.api.describe_attributes)(
                **{self.api.snapshot_param: ref.snapshot_id}
            )[self.api.attributes_result]
        return sorted(
            value
            for attribute in result.get(self.api.attributes_list, [])
            if attribute.get("AttributeName") == RESTORE_ATTRIBUTE
            for value in attribute.get("AttributeValues", [])
        )

    def share(self, ref: SnapshotRef, account: str) -> None:
        codes: dict[str, ErrorFactory] = {
            "SharedSnapshotQuotaExceeded": named(
                ShareQuotaExceeded, f"{self._label(ref.snapshot_id)} in {ref.region} is shared with 20 accounts already"
            )
        }
        self._modify_share(ref, {"ValuesToAdd": [account]}, codes)

    def unshare(self, ref: SnapshotRef, account: str) -> bool:
        gone = named(SourceNotFound, f"{self._label(ref.snapshot_id)} does not exist in {ref.region}")
        try:
            self._modify_share(ref, {"ValuesToRemove": [account]}, {self.api.snapshot_not_found: gone})
        except SourceNotFound:
            return False
        return True

    def _modify_share(self, ref: SnapshotRef, change: Mapping[str, Any], codes: Mapping[str, ErrorFactory]) -> None:
        with aws_errors(
            action=self.api.modify_attribute, resource=self._label(ref.snapshot_id), region=ref.region, codes=codes
        ):
            getattr(self._rds(ref.region), self.api.modify_attribute)(
                **{self.api.snapshot_param: ref.snapshot_id, "AttributeName": RESTORE_ATTRIBUTE, **change}
            )


class RdsInstanceAdapter(RdsFamilyAdapter):
    """RDS DB instance snapshots: an unencrypted one is encrypted by copying it with a key; option groups apply."""

    def _copy_params(
        self,
        source: SnapshotRecord,
        target_id: str,
        kms_key_arn: str,
        tags: Mapping[str, str],
        option_group: str | None,
    ) -> dict[str, Any]:
        params = super()._copy_params(source, target_id, kms_key_arn, tags, option_group)
        if option_group:
            params["OptionGroupName"] = option_group
        elif source.region != self.destination_region and self.role is None:
            # Only a copy to another region must carry the option group; a copy made through another account's
            # role cannot read the source account's option groups (AWS itself refuses such a copy if needed).
            self._require_no_option_group(source)
        return params

    def _require_no_option_group(self, source: SnapshotRecord) -> None:
        """Refuse early what AWS refuses late: a snapshot whose option group holds persistent or permanent
        options (Oracle/SQL Server TDE...) needs a target option group when it changes region."""
        group = source.option_group
        if not group or group.startswith("default:"):
            return
        with aws_errors(action="describe_option_groups", resource=f"option group {group}", region=source.region):
            groups = self._rds(source.region).describe_option_groups(OptionGroupName=group).get("OptionGroupsList", [])
        options = [option for found in groups for option in found.get("Options", [])]
        sticky = sorted(str(o.get("OptionName")) for o in options if o.get("Persistent") or o.get("Permanent"))
        if sticky:
            raise OptionGroupRequired(
                f"{self._label(source.snapshot_id)} in {source.region} uses option group {group} with persistent or"
                f" permanent options ({', '.join(sticky)}), which a copy to {self.destination_region} must carry"
            )
