"""The virtual clock, and its patch of the modules that should read it."""

from __future__ import annotations

import datetime as dt
import time
import types

import pytest

from tests.support.virtual_clock import VirtualClock

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def test_time_moves_only_when_advanced() -> None:
    clock = VirtualClock(START)
    assert clock.now() == START
    clock.advance(90)
    clock.sleep(0.5)
    assert clock.elapsed == 90.5
    assert clock.now() == START + dt.timedelta(seconds=90.5)
    assert clock.time() == START.timestamp() + 90.5
    assert clock.after(10) == START + dt.timedelta(seconds=100.5)


def test_the_clock_never_goes_back_and_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="cannot go back"):
        VirtualClock(START).advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(dt.datetime(2030, 1, 1))


def test_the_default_start_is_now_in_whole_seconds() -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = VirtualClock().start
    assert start.microsecond == 0
    assert before <= start <= dt.datetime.now(dt.UTC)


def _module() -> types.ModuleType:
    """A module that reads time in every way a handler might."""
    module = types.ModuleType("reader")
    module.time = time  # type: ignore[attr-defined]
    module.dt = dt  # type: ignore[attr-defined]
    module.datetime = dt.datetime  # type: ignore[attr-defined]
    module.sleep = time.sleep  # type: ignore[attr-defined]
    module.monotonic = time.monotonic  # type: ignore[attr-defined]
    module.now = time.time  # type: ignore[attr-defined]
    return module


def test_patch_module_makes_a_module_read_the_clock_and_restores_it() -> None:
    clock = VirtualClock(START)
    module = _module()
    with clock.patch_module(module):
        module.sleep(3600)
        module.time.sleep(60)
        assert clock.elapsed == 3660
        assert module.time.time() == module.now() == START.timestamp() + 3660
        assert module.monotonic() == module.time.monotonic() == 3660
        assert module.datetime.now(dt.UTC) == module.dt.datetime.now(dt.UTC) == clock.now()
        assert module.datetime.now() == clock.now().replace(tzinfo=None)  # naive means UTC
        assert module.datetime.utcnow() == clock.now().replace(tzinfo=None)
        # Everything else is the real module, and real datetimes still pass isinstance checks.
        assert module.dt.timedelta is dt.timedelta
        assert module.time.perf_counter is time.perf_counter
        assert isinstance(dt.datetime(2020, 1, 1), module.datetime)
        assert module.datetime(2020, 1, 1) == dt.datetime(2020, 1, 1)
    assert module.time is time
    assert module.dt is dt
    assert module.datetime is dt.datetime
    assert module.sleep is time.sleep
    assert module.now is time.time


def test_patch_module_accepts_dotted_names() -> None:
    clock = VirtualClock(START)
    with clock.patch_module("tests.support.test_virtual_clock"):
        assert time.time() == START.timestamp()  # this module's `time` is the stand-in
    assert isinstance(time, types.ModuleType)  # the real module again
