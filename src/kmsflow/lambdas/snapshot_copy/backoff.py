"""Waiting between status checks: doubling from 30 s to 10 min while nothing says how far the work is, and a
projection from the reported progress once something does.

A snapshot of a small volume is ready in minutes, a cross-region copy of a large one in hours. Step Functions
bills a Standard workflow per state transition and every status check costs three (Wait, check, Choice), so
the number of checks is the cost:

* **No usable progress** (none reported, 0 %, 100 % while still pending, or the same figure as at the last
  check): the wait doubles from 30 s and is capped at 10 min. Doubling keeps the first answers quick; the cap
  bounds how late a finished copy is noticed when there is nothing better to go on.
* **Progress moved** (RDS ``PercentProgress``, EBS ``Progress``): the time still needed is projected from the
  time waited so far, ``waited * (100 - p) / p``. Near the end (at most :data:`NEAR_END_SECONDS` left) the next
  check lands on the projected end; before that it comes after :data:`PROJECTION_SHARE` of the projection,
  so that a projection from early, coarse figures (integer percent) is corrected before it can overshoot,
  and never later than :data:`MAX_PROJECTED_SECONDS`, which bounds how late a copy whose progress jumps
  ahead is noticed.

With steadily reported progress, a six-hour copy takes 9 checks instead of the 40 that a 10-minute cap alone
needs (``bench/workflow_bench.py`` measures both). The state machine's Wait state reads ``wait.seconds``;
``wait.waited`` and ``wait.progress`` carry what the projection needs from one check to the next.
"""

from __future__ import annotations

import math
from typing import TypedDict

INITIAL_SECONDS = 30
#: The cap of the doubling, used while no progress is reported.
MAX_SECONDS = 600
#: The share of the projected remaining time waited before checking again.
PROJECTION_SHARE = 0.6
#: The longest wait a projection may ask for.
MAX_PROJECTED_SECONDS = 2 * 3600
#: Projected remaining time at or below which the next check is placed at the projected end itself.
NEAR_END_SECONDS = 2 * MAX_SECONDS


class JobWait(TypedDict):
    """The next wait (``seconds``), the seconds waited so far for the same thing, and the last progress seen."""

    seconds: int
    waited: int
    progress: int | None


def initial() -> JobWait:
    """The ``wait`` of a job that has just started waiting for something."""
    return {"seconds": INITIAL_SECONDS, "waited": 0, "progress": None}


def next_seconds(current: int) -> int:
    """The doubled wait, after a check that found the work pending with no usable progress."""
    return min(max(current, INITIAL_SECONDS) * 2, MAX_SECONDS)


def next_wait(wait: JobWait, progress: int | None) -> JobWait:
    """The wait after a check that found the work still pending and reported ``progress`` percent (or none)."""
    waited = wait["waited"] + wait["seconds"]
    if progress is None or not 0 < progress < 100 or progress == wait["progress"]:
        seconds = next_seconds(wait["seconds"])
    else:
        remaining = waited * (100 - progress) / progress
        share = remaining if remaining <= NEAR_END_SECONDS else remaining * PROJECTION_SHARE
        seconds = math.ceil(min(max(share, INITIAL_SECONDS), MAX_PROJECTED_SECONDS))
    return {"seconds": seconds, "waited": waited, "progress": progress}
