"""Waiting between status checks: 30 s, doubling, capped at 600 s."""

from __future__ import annotations

from kmsflow.lambdas.snapshot_copy import backoff


def test_waits_start_at_30_seconds_double_and_stop_at_10_minutes() -> None:
    waits = [backoff.initial()["seconds"]]
    for _ in range(8):
        waits.append(backoff.next_seconds(waits[-1]))
    assert waits == [30, 60, 120, 240, 480, 600, 600, 600, 600]


def test_a_wait_below_the_start_is_raised_to_it() -> None:
    assert backoff.next_seconds(0) == 60
