"""Waiting between status checks: start at 30 s, double after every check that finds the work pending, cap at 10 min.

A snapshot of a small volume is ready in minutes, a cross-region copy of a large one in hours. Doubling keeps
the first answers quick and the number of status calls (and Lambda invocations) logarithmic in the wait;
the cap bounds how late a finished copy is noticed. The state machine's Wait state reads ``wait.seconds``.
"""

from __future__ import annotations

INITIAL_SECONDS = 30
MAX_SECONDS = 600


def initial() -> dict[str, int]:
    """The ``wait`` of a job that has just started waiting for something."""
    return {"seconds": INITIAL_SECONDS}


def next_seconds(current: int) -> int:
    """The wait before the next status check, after one that found the work still pending."""
    return min(max(current, INITIAL_SECONDS) * 2, MAX_SECONDS)
