"""Snapshots that take time in moto: a small, documented patch (DESIGN §8, "extend moto in the test support").

moto 5.2.5 makes every snapshot usable at once: ``DBSnapshot`` and ``DBClusterSnapshot`` set
``status = "available"`` (moto/rds/models.py, ``DBClusterSnapshot.__init__`` l. 998-999, ``DBSnapshot.__init__``
l. 1904) and the EBS ``Snapshot`` sets ``status = "completed"`` with a constant ``progress`` of ``"100%"``
(moto/ec2/models/elastic_block_store.py l. 329 and 356-358). A workflow that polls for availability therefore
never waits. While :meth:`SnapshotTimings.install` is active:

* the backend methods that create or copy a snapshot (``RDSBackend.create_db_snapshot``/``copy_db_snapshot``/
  ``create_db_cluster_snapshot``/``copy_db_cluster_snapshot``, ``EBSBackend.create_snapshot``/``copy_snapshot``)
  stamp the new snapshot with the virtual time it started and the duration configured for its kind and
  operation (and set its create time to the virtual time);
* the ``status`` and progress attributes of the three snapshot classes become properties: until the virtual
  clock passes *start + duration* they report the busy state (RDS and Aurora: ``creating``, copies
  ``copying``; EBS: ``pending`` for both) and a proportional ``PercentProgress``/``Progress``; after it, what
  moto stored (``available``/``completed``, 100). Any other status moto sets later (e.g. on deletion) wins.

The serializer reads these attributes with ``getattr`` (moto/core/serialize.py, ``XFormedAttributePicker``),
so every API that returns a snapshot (Describe*, Create*, Copy*) and the EC2 ``status`` filter see the same
state. Snapshots made before ``install`` or with no duration configured behave as in moto. Not modelled:
AWS refusing to copy a source that is not yet available, and copy quotas (inject those with ``Faults``).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, get_args
from unittest import mock

from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.models.elastic_block_store import Snapshot as EbsSnapshot
from moto.rds.models import DBClusterSnapshot, DBSnapshot, RDSBackend

from tests.support.virtual_clock import VirtualClock

SnapshotKind = Literal["rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"]
Operation = Literal["create", "copy"]
KINDS: tuple[SnapshotKind, ...] = get_args(SnapshotKind)

#: Attribute that holds the stamp on a moto snapshot object.
_STAMP = "_kmsflow_progress"


@dataclass(frozen=True)
class _Kind:
    snapshot_class: type
    backend_class: type
    create_method: str
    copy_method: str
    done: str  # the status moto stores: the one reported once the duration has passed
    busy: dict[Operation, str]
    progress_attribute: str
    progress_format: Callable[[int], Any]


_KINDS: dict[SnapshotKind, _Kind] = {
    "rds-snapshot": _Kind(
        DBSnapshot,
        RDSBackend,
        "create_db_snapshot",
        "copy_db_snapshot",
        "available",
        {"create": "creating", "copy": "copying"},
        "percent_progress",
        int,
    ),
    "aurora-cluster-snapshot": _Kind(
        DBClusterSnapshot,
        RDSBackend,
        "create_db_cluster_snapshot",
        "copy_db_cluster_snapshot",
        "available",
        {"create": "creating", "copy": "copying"},
        "percent_progress",
        int,
    ),
    "ebs-snapshot": _Kind(
        EbsSnapshot,
        EBSBackend,
        "create_snapshot",
        "copy_snapshot",
        "completed",
        {"create": "pending", "copy": "pending"},
        "progress",
        lambda percent: f"{percent}%",
    ),
}


@dataclass(frozen=True)
class _Stamp:
    started: _dt.datetime
    seconds: float
    busy: str


def linear_progress(fraction: float) -> int:
    """Progress as the share of the duration that has passed, in whole percent (how EBS and RDS report it)."""
    return int(fraction * 100)


def silent_progress(fraction: float) -> int:
    """No progress until the end: 0 % throughout (RDS copies often report this for most of their time)."""
    return 0


class SnapshotTimings:
    """How long snapshots of each kind take, in virtual seconds (0, moto's behaviour, unless set), and how their
    progress is reported while they are busy (:attr:`progress_curve`: the passed share of the duration -> percent;
    :func:`linear_progress` unless set)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._seconds: dict[tuple[SnapshotKind, Operation], float] = {}
        self.progress_curve: Callable[[float], int] = linear_progress

    def set_duration(self, kind: SnapshotKind, seconds: float, *, copy_seconds: float | None = None) -> None:
        """New snapshots of ``kind`` take ``seconds``; copies take ``copy_seconds`` (default: ``seconds``)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown snapshot kind {kind!r}; expected one of {KINDS}")
        if seconds < 0 or (copy_seconds is not None and copy_seconds < 0):
            raise ValueError("durations must not be negative")
        self._seconds[kind, "create"] = seconds
        self._seconds[kind, "copy"] = seconds if copy_seconds is None else copy_seconds

    def duration(self, kind: SnapshotKind, operation: Operation) -> float:
        return self._seconds.get((kind, operation), 0.0)

    @contextmanager
    def install(self) -> Iterator[SnapshotTimings]:
        """Patch moto's snapshot classes and backends (see the module docstring) until the block ends."""
        with ExitStack() as stack:
            for kind_name, kind in _KINDS.items():
                patch = functools.partial(mock.patch.object, kind.snapshot_class, create=True)
                stack.enter_context(patch("status", self._status_property(kind)))
                stack.enter_context(patch(kind.progress_attribute, self._progress_property(kind)))
                operations: tuple[tuple[Operation, str], ...] = (
                    ("create", kind.create_method),
                    ("copy", kind.copy_method),
                )
                for operation, method in operations:
                    original = getattr(kind.backend_class, method)
                    wrapper = self._stamping(original, kind_name, operation)
                    stack.enter_context(mock.patch.object(kind.backend_class, method, wrapper))
            yield self

    def _stamping(
        self, original: Callable[..., Any], kind_name: SnapshotKind, operation: Operation
    ) -> Callable[..., Any]:
        kind = _KINDS[kind_name]

        @functools.wraps(original)
        def wrapper(backend: Any, *args: Any, **kwargs: Any) -> Any:
            snapshot = original(backend, *args, **kwargs)
            seconds = self.duration(kind_name, operation)
            if seconds > 0:
                now = self.clock.now()
                vars(snapshot)[_STAMP] = _Stamp(now, seconds, kind.busy[operation])
                if isinstance(snapshot, EbsSnapshot):
                    snapshot.start_time = now
                else:
                    snapshot.created = now
                    if operation == "create" and isinstance(snapshot, DBSnapshot):
                        snapshot.original_snapshot_create_time = now
            return snapshot

        return wrapper

    def _fraction(self, snapshot: Any) -> float | None:
        """How far the stamped operation has got (0..1), or None when it is over or was never stamped."""
        stamp: _Stamp | None = vars(snapshot).get(_STAMP)
        if stamp is None:
            return None
        fraction = (self.clock.now() - stamp.started).total_seconds() / stamp.seconds
        return fraction if fraction < 1 else None

    def _status_property(self, kind: _Kind) -> property:
        def get(snapshot: Any) -> Any:
            stored = vars(snapshot).get("status")
            if stored == kind.done and self._fraction(snapshot) is not None:
                return vars(snapshot)[_STAMP].busy
            return stored

        def set_(snapshot: Any, value: Any) -> None:
            vars(snapshot)["status"] = value

        return property(get, set_)

    def _progress_property(self, kind: _Kind) -> property:
        def get(snapshot: Any) -> Any:
            fraction = self._fraction(snapshot)
            busy = fraction is not None and vars(snapshot).get("status") == kind.done
            return kind.progress_format(self.progress_curve(fraction) if busy and fraction is not None else 100)

        def set_(snapshot: Any, value: Any) -> None:
            pass  # moto's constant 100 (DBClusterSnapshot.__init__); the property computes it

        return property(get, set_)
