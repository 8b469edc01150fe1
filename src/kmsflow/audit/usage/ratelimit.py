"""A client-side request rate limit and exponential back-off with full jitter, with an injectable clock, sleep and
random source so that tests can watch every wait.

CloudTrail LookupEvents: "The rate of lookup requests is limited to two per second, per account, per Region. If
this limit is exceeded, a throttling error occurs."
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html). The limiter keeps the
report under that rate; the back-off handles throttling that happens anyway (another tool using the same
account). Full jitter: the n-th retry sleeps a uniform random time in [0, min(cap, base * 2**n)] (AWS
Architecture Blog, "Exponential Backoff And Jitter").

Note: clients made by :func:`kmsflow.lambdas.aws_clients.client` already retry throttling errors in botocore's
``standard`` mode; this back-off applies when those retries are used up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class RateLimiter:
    """At most ``rate`` calls per second: each :meth:`wait` returns no earlier than ``1/rate`` seconds after the
    previous one returned."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = max(self._clock(), self._next)
        self._next = now + self.interval


def call_with_backoff(
    call: Callable[[], T],
    *,
    retryable: Callable[[Exception], bool],
    limiter: RateLimiter | None = None,
    attempts: int = 5,
    base: float = 0.5,
    cap: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """``call()``, after ``limiter.wait()``; on an error for which ``retryable`` is true, sleep a full-jitter
    back-off and try again, ``attempts`` times in all; the last error propagates."""
    rng = rng or random.Random()
    for attempt in range(attempts):
        if limiter is not None:
            limiter.wait()
        try:
            return call()
        except Exception as err:
            if attempt == attempts - 1 or not retryable(err):
                raise
            sleep(rng.uniform(0.0, min(cap, base * 2**attempt)))
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
