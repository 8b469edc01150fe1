"""A virtual clock: time that moves only when something waits, so hours of waiting cost no real time.

The clock starts at a fixed instant (by default: now, whole seconds, UTC) and moves forward only through
:meth:`VirtualClock.advance` (alias :meth:`VirtualClock.sleep`). Code that should read it instead of the
wall clock is patched *where it reads time*, never globally: :meth:`VirtualClock.patch_module` replaces,
inside one module, the names bound to ``time``, ``datetime`` (module or class) or ``time.time`` /
``time.sleep`` / ``time.monotonic`` with stand-ins that read or advance this clock. The rest of the process
(pytest, botocore's request signing, jsii) keeps real time.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import threading
import time as _time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any
from unittest import mock

UTC = _dt.UTC


class VirtualClock:
    """Virtual UTC time: ``now()`` is ``start`` plus everything ``advance()`` added."""

    def __init__(self, start: _dt.datetime | None = None) -> None:
        if start is None:
            start = _dt.datetime.now(UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("VirtualClock start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self.datetime_class = _virtual_datetime_class(self)

    @property
    def start(self) -> _dt.datetime:
        return self._start

    @property
    def elapsed(self) -> float:
        """Virtual seconds since ``start``."""
        return self._elapsed

    def now(self) -> _dt.datetime:
        """The virtual time, timezone-aware (UTC)."""
        return self._start + _dt.timedelta(seconds=self._elapsed)

    def time(self) -> float:
        """The virtual time as seconds since the epoch, like :func:`time.time`."""
        return self.now().timestamp()

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move the clock forward; never backward."""
        if seconds < 0:
            raise ValueError(f"the clock cannot go back ({seconds} s)")
        with self._lock:
            self._elapsed += float(seconds)

    sleep = advance

    def after(self, seconds: float) -> _dt.datetime:
        """The virtual instant ``seconds`` from now."""
        return self.now() + _dt.timedelta(seconds=seconds)

    @contextmanager
    def patch_module(self, *modules: ModuleType | str) -> Iterator[None]:
        """Make ``modules`` read this clock: their module-level ``time``/``datetime`` names are replaced for
        the duration of the ``with`` block (and restored after). Handles ``import time``, ``import datetime``,
        ``from datetime import datetime`` and ``from time import time, sleep, monotonic``."""
        stand_ins: dict[int, Any] = {
            id(_time): _TimeModule(self),
            id(_dt): _DatetimeModule(self),
            id(_dt.datetime): self.datetime_class,
            id(_time.time): self.time,
            id(_time.sleep): self.advance,
            id(_time.monotonic): self.monotonic,
        }
        with ExitStack() as stack:
            for module in modules:
                target = importlib.import_module(module) if isinstance(module, str) else module
                for name, value in list(vars(target).items()):
                    if id(value) in stand_ins and not name.startswith("__"):
                        stack.enter_context(mock.patch.object(target, name, stand_ins[id(value)]))
            yield


class _TimeModule:
    """Stands in for the ``time`` module: ``time``, ``time_ns``, ``monotonic`` and ``sleep`` are virtual."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self.time = clock.time
        self.sleep = clock.advance
        self.monotonic = clock.monotonic

    def time_ns(self) -> int:
        return int(self._clock.time() * 1_000_000_000)

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


class _DatetimeModule:
    """Stands in for the ``datetime`` module: its ``datetime`` class reads the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.datetime = clock.datetime_class

    def __getattr__(self, name: str) -> Any:
        return getattr(_dt, name)


class _DatetimeMeta(type):
    # isinstance(x, <virtual datetime>) stays true for every real datetime.
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _dt.datetime)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _dt.datetime)


def _virtual_datetime_class(clock: VirtualClock) -> type[_dt.datetime]:
    class VirtualDatetime(_dt.datetime, metaclass=_DatetimeMeta):
        """``datetime.datetime`` whose ``now``/``utcnow``/``today`` read the virtual clock (naive = UTC)."""

        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
            current = clock.now()
            return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)

        @classmethod
        def utcnow(cls) -> _dt.datetime:  # type: ignore[override]
            return clock.now().replace(tzinfo=None)

        @classmethod
        def today(cls) -> _dt.datetime:  # type: ignore[override]
            return clock.now().replace(tzinfo=None)

    return VirtualDatetime
