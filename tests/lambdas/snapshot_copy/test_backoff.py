"""Waiting between status checks: 30 s doubling to 10 min without progress figures, a projection with them."""

from __future__ import annotations

import pytest

from kmsflow.lambdas.snapshot_copy import backoff
from kmsflow.lambdas.snapshot_copy.backoff import JobWait


def test_waits_start_at_30_seconds_double_and_stop_at_10_minutes() -> None:
    waits = [backoff.initial()["seconds"]]
    for _ in range(8):
        waits.append(backoff.next_seconds(waits[-1]))
    assert waits == [30, 60, 120, 240, 480, 600, 600, 600, 600]


def test_a_wait_below_the_start_is_raised_to_it() -> None:
    assert backoff.next_seconds(0) == 60


@pytest.mark.parametrize("progress", [None, 0, 100], ids=["none", "zero", "hundred-while-pending"])
def test_without_usable_progress_the_wait_doubles(progress: int | None) -> None:
    wait = backoff.initial()
    seconds = []
    for _ in range(7):
        wait = backoff.next_wait(wait, progress)
        seconds.append(wait["seconds"])
    assert seconds == [60, 120, 240, 480, 600, 600, 600]
    assert wait["waited"] == 30 + 60 + 120 + 240 + 480 + 600 + 600


def test_the_waited_time_adds_up_the_waits() -> None:
    wait: JobWait = {"seconds": 240, "waited": 90, "progress": None}
    assert backoff.next_wait(wait, None)["waited"] == 330


def test_moving_progress_projects_the_remaining_time() -> None:
    # 25 % after 1,800 s: 5,400 s left; the next check comes after 60 % of that.
    wait: JobWait = {"seconds": 600, "waited": 1200, "progress": 10}
    assert backoff.next_wait(wait, 25) == {"seconds": 3240, "waited": 1800, "progress": 25}


def test_near_the_end_the_check_lands_on_the_projected_end() -> None:
    # 90 % after 9,000 s: 1,000 s left, at most NEAR_END_SECONDS: wait all of it.
    wait: JobWait = {"seconds": 3000, "waited": 6000, "progress": 50}
    assert backoff.next_wait(wait, 90)["seconds"] == 1000


def test_a_projection_is_capped_and_never_below_the_start() -> None:
    early: JobWait = {"seconds": 600, "waited": 3000, "progress": None}
    assert backoff.next_wait(early, 1)["seconds"] == backoff.MAX_PROJECTED_SECONDS
    late: JobWait = {"seconds": 30, "waited": 1000, "progress": 98}
    assert backoff.next_wait(late, 99)["seconds"] == backoff.INITIAL_SECONDS


def test_progress_that_did_not_move_is_no_information() -> None:
    """Stuck at 40 %: the projection would keep asking for short waits; the doubling takes over instead."""
    wait: JobWait = {"seconds": 120, "waited": 4000, "progress": 40}
    assert backoff.next_wait(wait, 40)["seconds"] == 240


def test_a_steady_six_hour_copy_needs_few_checks() -> None:
    """Linear progress in whole percent, as EBS and RDS report it: 9 checks where the 10-minute cap needs 40."""
    total, now, checks, wait = 6 * 3600, 0, 0, backoff.initial()
    while True:
        now += wait["seconds"]
        checks += 1
        if now >= total:
            break
        wait = backoff.next_wait(wait, int(100 * now / total))
    assert checks <= 10
    assert now - total < backoff.MAX_SECONDS  # noticed within 10 minutes of the end
