"""One adapter per resource family behind one small interface, so the steps never branch on the service.

RDS DB instance snapshots, Aurora DB cluster snapshots and EBS snapshots differ in API names, identifier rules
(RDS names are chosen by the caller, EBS ids by AWS), status words and what a copy can do (Aurora cannot
encrypt an unencrypted snapshot while copying). Each adapter hides that behind :class:`SnapshotAdapter` and
returns :class:`SnapshotRecord` values with one status vocabulary: ``available``, ``pending``, ``failed``.

Adapters create their boto3 clients lazily through :mod:`kmsflow.lambdas.aws_clients` (never at import time)
and raise only :class:`~kmsflow.lambdas.errors.WorkflowError` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kmsflow.lambdas import aws_clients

AVAILABLE = "available"
PENDING = "pending"
FAILED = "failed"


@dataclass(frozen=True)
class SnapshotRef:
    """Enough to name a snapshot to its service: region, id (RDS: name) and ARN."""

    region: str
    snapshot_id: str
    arn: str


@dataclass(frozen=True)
class SnapshotRecord(SnapshotRef):
    """What the steps need to know about a snapshot, in one vocabulary for every family."""

    status: str
    encrypted: bool
    kms_key_id: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    raw_status: str = ""
    engine: str | None = None
    option_group: str | None = None
    #: Percent done as the service reports it (RDS ``PercentProgress``, EBS ``Progress``); None if it does not.
    progress: int | None = None


@dataclass(frozen=True)
class RoleRef:
    """A role that an adapter's clients act through (another account's, for the share's target copy)."""

    role_arn: str
    external_id: str | None = None
    session_name: str = "kmsflow"


class SnapshotAdapter(Protocol):
    """The operations the workflow needs from a snapshot family, between one source and one destination region,
    in one account (the caller's, or ``role``'s when the adapter was made with one).

    ``resolve_source_snapshot`` and ``source_status`` work in the source region; ``copy``, ``copy_status`` and
    ``find_copy`` in the destination region; ``tag``, ``delete_snapshot`` and the sharing calls wherever the
    reference points. A copy may stay in its region (source region = destination region).
    """

    family: str
    #: Whether a copy with a KMS key of an unencrypted snapshot gives an encrypted copy (false for Aurora).
    encrypts_unencrypted: bool

    def resolve_source_snapshot(self, snapshot_id: str) -> SnapshotRecord:
        """The given source snapshot; SourceNotFound if it does not exist."""
        ...

    def create_source_snapshot(self, resource_id: str, *, snapshot_id: str, tags: Mapping[str, str]) -> SnapshotRecord:
        """A snapshot of the instance, cluster or volume, made once per job: an existing one is returned."""
        ...

    def source_status(self, snapshot_id: str) -> SnapshotRecord:
        """The source snapshot now; SourceNotFound if it disappeared."""
        ...

    def copy(
        self,
        source: SnapshotRecord,
        *,
        target_id: str,
        kms_key_arn: str,
        tags: Mapping[str, str],
        option_group_name: str | None,
    ) -> SnapshotRecord:
        """Start the cross-region copy under ``kms_key_arn`` (boto3 presigns the request for the source region)."""
        ...

    def copy_status(self, snapshot_id: str) -> SnapshotRecord:
        """The copy now; CopyFailed if it disappeared."""
        ...

    def find_copy(self, target_id: str, *, job_id: str) -> SnapshotRecord | None:
        """The job's copy in the destination region if one exists (any state); TargetConflict if another job's."""
        ...

    def tag(self, ref: SnapshotRef, tags: Mapping[str, str]) -> None:
        """Add or overwrite ``tags`` on the snapshot."""
        ...

    def delete_snapshot(self, ref: SnapshotRef) -> bool:
        """Delete the snapshot; False if it was already gone."""
        ...

    def shared_with(self, ref: SnapshotRef) -> list[str]:
        """The accounts the snapshot is shared with (RDS ``restore`` attribute, EBS ``createVolumePermission``)."""
        ...

    def share(self, ref: SnapshotRef, account: str) -> None:
        """Share the snapshot with ``account`` (never ``all``); ShareQuotaExceeded if its service allows no more."""
        ...

    def unshare(self, ref: SnapshotRef, account: str) -> bool:
        """Stop sharing the snapshot with ``account``; False if the snapshot is gone."""
        ...


class ClientCache:
    """boto3 clients of one service per region (through ``role`` when given), made on first use so that nothing
    connects at import."""

    def __init__(self, service: str, role: RoleRef | None = None) -> None:
        self._service = service
        self._role = role
        self._clients: dict[str, Any] = {}

    def __call__(self, region: str) -> Any:
        if region not in self._clients:
            role = self._role
            self._clients[region] = (
                aws_clients.client(self._service, region=region)
                if role is None
                else aws_clients.client(
                    self._service,
                    region=region,
                    role_arn=role.role_arn,
                    external_id=role.external_id,
                    session_name=role.session_name,
                )
            )
        return self._clients[region]


def percent(value: object) -> int | None:
    """A progress figure as an int: ``42`` and ``"42%"`` give 42; anything else (absent, garbled) gives None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().rstrip("%").isdigit():
        return int(value.strip().rstrip("%"))
    return None


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as AWS's ``[{"Key": "k", "Value": "v"}]``."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """AWS's ``[{"Key": "k", "Value": "v"}]`` as ``{"k": "v"}``."""
    return {item["Key"]: item.get("Value", "") for item in tags or []}


def adapter_for(
    family: str, *, source_region: str, destination_region: str, role: RoleRef | None = None
) -> SnapshotAdapter:
    """The adapter of a family (``rds``, ``aurora`` or ``ebs``) between two regions (the same one for a copy in
    place), acting as the caller or, with ``role``, as that role (the share's target copy)."""
    from kmsflow.lambdas.snapshot_copy.adapters.aurora_cluster import AuroraClusterAdapter
    from kmsflow.lambdas.snapshot_copy.adapters.ebs import EbsAdapter
    from kmsflow.lambdas.snapshot_copy.adapters.rds_instance import RdsInstanceAdapter

    adapters: dict[str, type[RdsInstanceAdapter | AuroraClusterAdapter | EbsAdapter]] = {
        "rds": RdsInstanceAdapter,
        "aurora": AuroraClusterAdapter,
        "ebs": EbsAdapter,
    }
    if family not in adapters:
        raise ValueError(f"unknown snapshot family {family!r}; known: {', '.join(adapters)}")
    return adapters[family](source_region=source_region, destination_region=destination_region, role=role)
