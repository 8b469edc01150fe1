"""Retries of KMS calls: one explicit policy (full-jitter exponential back-off, bounded by attempts and a
deadline) instead of botocore's, so that every retry is seen and counted.

Clients made by :func:`kmsflow.envelope.kms_client.kms_client` have botocore's retries off
(``total_max_attempts`` 1), so the two never multiply: one :func:`call_with_retries` attempt is one HTTP request.

Which errors are retried (an allow-list; anything else is raised at once):

* **Throttling** - ``ThrottlingException`` is the code KMS answers when the request rate exceeds a request quota
  ("You have exceeded the rate at which you may call KMS", AWS re:Post knowledge center
  ``kms-throttlingexception-error``; KMS Developer Guide, "Request quotas"). HTTP 429 and the other codes
  botocore's ``standard`` mode treats as throttling for any service (``Throttling``, ``TooManyRequestsException``,
  ``RequestThrottledException``, ``ThrottledException``; botocore/retries/standard.py,
  ``ThrottledRetryableChecker``) are treated the same.
* **Transient KMS errors** - the KMS API model (botocore/data/kms/2014-11-01/service-2.json) documents three as
  retryable: ``KMSInternalException`` ("The request can be retried"), ``DependencyTimeoutException`` ("You can
  retry the request") and ``KeyUnavailableException`` ("You can retry the request").
* **Transient HTTP errors** - botocore's ``TransientRetryableChecker``: codes ``RequestTimeout``,
  ``RequestTimeoutException``, ``PriorRequestNotComplete``, HTTP 500/502/503/504 (``InternalFailure``,
  ``ServiceUnavailable``), and connection errors (``botocore.exceptions.ConnectionError``: connect/read timeouts,
  refused or closed connections; ``HTTPClientError``).

Not retried: ``LimitExceededException`` (KMS uses it for quotas on resources - keys, aliases, grants - that time
does not fix; botocore's standard mode retries it as a throttle, which is why its retries are off),
``AccessDeniedException``, ``NotFoundException``, ``DisabledException``, ``KMSInvalidStateException``,
``InvalidCiphertextException``, ``IncorrectKeyException``, ``InvalidKeyUsageException``, ``ValidationException``,
credential errors, and everything else not listed above.
"""

from __future__ import annotations

import random as _random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from kmsflow.envelope.exceptions import ConfigurationError, KmsError

T = TypeVar("T")

#: Codes that mean "too many requests": retried, and counted as throttles.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException", "TooManyRequestsException"}
)

#: Codes of transient failures: retried.
TRANSIENT_CODES = frozenset(
    {
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)

#: HTTP statuses retried whatever the code (throttling: 429; transient: 5xx gateways and servers).
THROTTLING_STATUSES = frozenset({429})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one KMS operation.

    Attempt ``n`` (1-based) that fails with a retryable error is followed by a sleep of
    ``random() * min(max_delay, base_delay * 2 ** (n - 1))`` seconds ("full jitter": concurrent clients that were
    throttled together spread out instead of retrying in lock-step). The operation gives up after
    ``max_attempts`` attempts, or when the next sleep would end more than ``deadline`` seconds after the first
    attempt started. ``sleep``, ``random`` and ``clock`` are injectable for tests."""

    max_attempts: int = 8
    base_delay: float = 0.05
    max_delay: float = 2.0
    deadline: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(
                f"RetryPolicy max_attempts must be at least 1 (the first attempt counts), not {self.max_attempts}: "
                "pass max_attempts=1 for no retries"
            )
        delays = {"base_delay": self.base_delay, "max_delay": self.max_delay, "deadline": self.deadline}
        negative = {name: value for name, value in delays.items() if value < 0}
        if negative:
            raise ConfigurationError(
                f"RetryPolicy base_delay, max_delay and deadline must not be negative; got {negative}: pass 0 or more "
                "seconds"
            )

    def backoff(self, attempt: int) -> float:
        """The sleep after failed attempt ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return self.random() * ceiling


#: The policy used when none is given.
DEFAULT_POLICY = RetryPolicy()


@dataclass
class RetryStats:
    """Counters of KMS traffic, shared by every operation that reports to it; thread-safe.

    ``calls``: operations started; ``attempts``: requests sent (= KMS calls billed or throttled);
    ``retries``: attempts after the first; ``throttles``: attempts answered with a throttling error;
    ``failures``: operations that raised; ``errors``: error code -> attempts that failed with it."""

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    throttles: int = 0
    failures: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _add(
        self, *, calls: int = 0, attempts: int = 0, retries: int = 0, throttles: int = 0, failures: int = 0
    ) -> None:
        with self._lock:
            self.calls += calls
            self.attempts += attempts
            self.retries += retries
            self.throttles += throttles
            self.failures += failures

    def _error(self, code: str) -> None:
        with self._lock:
            self.errors[code] += 1

    def snapshot(self) -> dict[str, int]:
        """The counters at one instant (consistent with each other)."""
        with self._lock:
            return {
                "calls": self.calls,
                "attempts": self.attempts,
                "retries": self.retries,
                "throttles": self.throttles,
                "failures": self.failures,
            }


class KmsCallError(KmsError):
    """A KMS operation failed for good: the message names the operation, the key, the AWS error code and the
    number of attempts; the attributes carry the same for callers."""

    def __init__(self, operation: str, key_id: str, code: str, detail: str, attempts: int, *, why: str) -> None:
        self.operation = operation
        self.key_id = key_id
        self.code = code
        self.attempts = attempts
        self.retryable = why != "not retryable"
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        super().__init__(f"KMS {operation} on {key_id} failed: {code}: {detail} ({why}; {tries})")


def classify(error: Exception) -> tuple[str, str, bool, bool]:
    """``(code, detail, retryable, throttle)`` of an exception raised by a botocore call."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code") or "Unknown")
        detail = str(info.get("Message") or "(no message)")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        throttle = code in THROTTLING_CODES or status in THROTTLING_STATUSES
        retryable = throttle or code in TRANSIENT_CODES or status in TRANSIENT_STATUSES
        return code, detail, retryable, throttle
    if isinstance(error, BotocoreConnectionError | HTTPClientError):
        return type(error).__name__, str(error), True, False
    return type(error).__name__, str(error), False, False


def call_with_retries(
    policy: RetryPolicy | None, stats: RetryStats | None, operation: str, fn: Callable[[], T], *, key_id: str
) -> T:
    """Run ``fn`` (one KMS request) under ``policy``, counting into ``stats``; raise :class:`KmsCallError` (a
    :class:`KmsError`) naming ``operation``, ``key_id`` and the last error code when it fails for good."""
    policy = policy or DEFAULT_POLICY
    stats = stats if stats is not None else RetryStats()
    stats._add(calls=1)
    started = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        stats._add(attempts=1, retries=1 if attempt > 1 else 0)
        try:
            return fn()
        except (ClientError, BotoCoreError) as error:
            code, detail, retryable, throttle = classify(error)
            stats._error(code)
            if throttle:
                stats._add(throttles=1)
            if not retryable:
                stats._add(failures=1)
                raise KmsCallError(operation, key_id, code, detail, attempt, why="not retryable") from error
            delay = policy.backoff(attempt)
            out_of_time = policy.clock() + delay - started > policy.deadline
            if attempt >= policy.max_attempts or out_of_time:
                stats._add(failures=1)
                why = "retry deadline reached" if out_of_time else "retry attempts exhausted"
                raise KmsCallError(operation, key_id, code, detail, attempt, why=why) from error
        policy.sleep(delay)
