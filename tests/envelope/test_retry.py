"""Retries of KMS calls: full-jitter back-off, the attempt and deadline bounds, what is and is not retried, the
counters, and botocore's own retries off (one HTTP request per attempt) - with injected throttling on moto."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from moto import mock_aws

from kmsflow.envelope.exceptions import KmsError
from kmsflow.envelope.kms_client import CLIENT_CONFIG, kms_client
from kmsflow.envelope.kms_keyring import KmsKeyring
from kmsflow.envelope.retry import KmsCallError, RetryPolicy, RetryStats, call_with_retries, classify
from kmsflow.envelope.suites import COMMITTING
from tests.envelope.refusals import configuration_error
from tests.support.sfn_harness import Faults
from tests.support.virtual_clock import VirtualClock

REGION = "eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def client_error(code: str, status: int = 400, operation: str = "GenerateDataKey") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} happened"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class Script:
    """A KMS call that fails with the given errors in order, then answers ``result``; counts its calls."""

    def __init__(self, *errors: Exception, result: str = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class FakeTime:
    """Injected sleep and clock: sleeping advances the clock; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def policy(fake: FakeTime, *, draw: Callable[[], float] = lambda: 1.0, **overrides: Any) -> RetryPolicy:
    return RetryPolicy(sleep=fake.sleep, clock=fake.clock, random=draw, **overrides)


# ------------------------------------------------------------------------------------------ the policy


def test_full_jitter_backoff_doubles_up_to_max_delay() -> None:
    fake = FakeTime()
    retry = policy(fake, base_delay=0.05, max_delay=0.3, max_attempts=8, deadline=100)
    script = Script(*[client_error("ThrottlingException") for _ in range(6)])
    stats = RetryStats()
    assert call_with_retries(retry, stats, "GenerateDataKey", script, key_id=KEY) == "ok"
    # random() = 1.0: each sleep is its ceiling min(max_delay, base * 2^(n-1))
    assert fake.sleeps == pytest.approx([0.05, 0.1, 0.2, 0.3, 0.3, 0.3])
    assert (script.calls, stats.attempts, stats.retries, stats.throttles, stats.calls) == (7, 7, 6, 6, 1)


def test_jitter_draws_scale_each_ceiling() -> None:
    fake = FakeTime()
    draws = iter([0.5, 0.25, 0.0])
    retry = policy(fake, draw=lambda: next(draws), base_delay=1.0, max_delay=10.0)
    script = Script(*[client_error("KMSInternalException", 500) for _ in range(3)])
    call_with_retries(retry, None, "Decrypt", script, key_id=KEY)
    assert fake.sleeps == pytest.approx([0.5, 0.5, 0.0])


def test_gives_up_after_max_attempts_naming_operation_key_and_code() -> None:
    fake = FakeTime()
    script = Script(*[client_error("ThrottlingException") for _ in range(10)])
    stats = RetryStats()
    with pytest.raises(KmsError) as caught:
        call_with_retries(policy(fake, max_attempts=4), stats, "GenerateDataKey", script, key_id=KEY)
    assert script.calls == 4
    assert len(fake.sleeps) == 3  # no sleep after the last attempt
    assert str(caught.value) == (
        f"KMS GenerateDataKey on {KEY} failed: ThrottlingException: ThrottlingException happened "
        "(retry attempts exhausted; 4 attempts)"
    )
    assert isinstance(caught.value, KmsCallError)
    assert (caught.value.operation, caught.value.key_id, caught.value.code) == (
        "GenerateDataKey",
        KEY,
        "ThrottlingException",
    )
    assert stats.snapshot() == {"calls": 1, "attempts": 4, "retries": 3, "throttles": 4, "failures": 1}


def test_deadline_stops_before_a_sleep_that_would_cross_it() -> None:
    fake = FakeTime()
    # ceilings 1, 2, 4, 8: elapsed after sleeps 1, 3, 7; the next sleep (8) would end at 15 > 10
    retry = policy(fake, base_delay=1.0, max_delay=100, max_attempts=100, deadline=10)
    script = Script(*[client_error("ThrottlingException") for _ in range(50)])
    with pytest.raises(KmsError, match=r"retry deadline reached; 4 attempts"):
        call_with_retries(retry, None, "Decrypt", script, key_id=KEY)
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert fake.now == 7.0


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("KMSInternalException", 500),
        ("DependencyTimeoutException", 503),
        ("KeyUnavailableException", 500),
        ("RequestTimeoutException", 408),
        ("SomethingNew", 503),  # 5xx whatever the code
        ("SlowDown", 429),  # 429 is throttling whatever the code
    ],
)
def test_retryable_errors_are_retried(code: str, status: int) -> None:
    fake = FakeTime()
    script = Script(client_error(code, status))
    assert call_with_retries(policy(fake), None, "Decrypt", script, key_id=KEY) == "ok"
    assert script.calls == 2


@pytest.mark.parametrize(
    "code",
    [
        "LimitExceededException",
        "AccessDeniedException",
        "NotFoundException",
        "DisabledException",
        "KMSInvalidStateException",
        "InvalidCiphertextException",
        "IncorrectKeyException",
        "InvalidKeyUsageException",
        "ValidationException",
        "UnrecognizedClientException",
    ],
)
def test_non_retryable_errors_make_one_call(code: str) -> None:
    fake = FakeTime()
    script = Script(client_error(code))
    stats = RetryStats()
    with pytest.raises(KmsError) as caught:
        call_with_retries(policy(fake), stats, "Decrypt", script, key_id=KEY)
    assert script.calls == 1
    assert fake.sleeps == []
    assert str(caught.value) == f"KMS Decrypt on {KEY} failed: {code}: {code} happened (not retryable; 1 attempt)"
    assert (stats.attempts, stats.retries, stats.failures, stats.errors[code]) == (1, 0, 1, 1)


def test_connection_errors_are_retried_credentials_errors_are_not() -> None:
    fake = FakeTime()
    script = Script(
        EndpointConnectionError(endpoint_url="https://kms.eu-west-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://kms.eu-west-1.amazonaws.com"),
    )
    assert call_with_retries(policy(fake), None, "Decrypt", script, key_id=KEY) == "ok"
    assert script.calls == 3
    no_credentials = Script(NoCredentialsError())
    with pytest.raises(KmsError, match="NoCredentialsError: Unable to locate credentials"):
        call_with_retries(policy(fake), None, "Decrypt", no_credentials, key_id=KEY)
    assert no_credentials.calls == 1


def test_classify() -> None:
    assert classify(client_error("ThrottlingException")) == (
        "ThrottlingException",
        "ThrottlingException happened",
        True,
        True,
    )
    assert classify(client_error("LimitExceededException")) == (
        "LimitExceededException",
        "LimitExceededException happened",
        False,
        False,
    )
    assert classify(ValueError("x")) == ("ValueError", "x", False, False)


def test_policy_validation() -> None:
    assert configuration_error(lambda: RetryPolicy(max_attempts=0)) == (
        "RetryPolicy max_attempts must be at least 1 (the first attempt counts), not 0: pass max_attempts=1 for no "
        "retries"
    )
    assert configuration_error(lambda: RetryPolicy(deadline=-1, base_delay=-0.5)) == (
        "RetryPolicy base_delay, max_delay and deadline must not be negative; got {'base_delay': -0.5, "
        "'deadline': -1}: pass 0 or more seconds"
    )


def test_stats_are_thread_safe() -> None:
    stats = RetryStats()

    def work() -> None:
        fake = FakeTime()  # one clock per thread: a shared fake clock would let other threads' sleeps run out
        # this thread's deadline (the stats are what is shared)
        for _ in range(500):
            call_with_retries(policy(fake), stats, "Decrypt", Script(client_error("ThrottlingException")), key_id=KEY)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.snapshot() == {"calls": 4000, "attempts": 8000, "retries": 4000, "throttles": 4000, "failures": 0}


# ------------------------------------------------------------------------------------- against moto KMS


@pytest.fixture
def key_arn() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("kms", region_name=REGION).create_key(Description="retry")["KeyMetadata"]["Arn"]


class Flaky:
    """A KMS client whose calls raise ClientError ThrottlingException with probability ``share`` (seeded), else
    go to the real (moto-backed) client."""

    def __init__(self, client: Any, share: float, seed: int) -> None:
        self.client = client
        self.share = share
        self.rng = random.Random(seed)
        self.injected = 0
        self.passed = 0
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            if self.rng.random() < self.share:
                self.injected += 1
                raise client_error("ThrottlingException", operation=name)
            self.passed += 1
            return method(**kwargs)

        return call


def test_thirty_percent_throttled_calls_succeed_and_every_retry_is_counted(key_arn: str) -> None:
    fake = FakeTime()
    flaky = Flaky(kms_client(REGION), share=0.3, seed=7)
    stats = RetryStats()
    keyring = KmsKeyring(key_arn, client=flaky, retry=policy(fake, max_attempts=10), stats=stats)
    for i in range(100):
        data_key = keyring.on_encrypt(COMMITTING, {"n": str(i)})
        assert keyring.on_decrypt(COMMITTING, {"n": str(i)}, data_key.encrypted) == data_key.plaintext
    assert flaky.passed == 200
    assert 40 <= flaky.injected <= 120  # 30 % of ~286 draws: the seed gives a fixed number
    assert stats.snapshot() == {
        "calls": 200,
        "attempts": 200 + flaky.injected,
        "retries": flaky.injected,
        "throttles": flaky.injected,
        "failures": 0,
    }
    assert len(fake.sleeps) == flaky.injected


def test_botocore_does_not_retry_inside_our_attempts(key_arn: str) -> None:
    """Throttling injected at the HTTP boundary (moto's stub): each of our attempts is exactly one request."""
    client = kms_client(REGION)
    sent: list[str] = []
    client.meta.events.register("request-created.kms", lambda request, operation_name, **_: sent.append(operation_name))
    faults = Faults(VirtualClock(), seed=3)
    faults.add("ThrottlingException", service="kms", scope="all", times=2)
    fake = FakeTime()
    stats = RetryStats()
    with faults.install():
        keyring = KmsKeyring(key_arn, client=client, retry=policy(fake), stats=stats)
        keyring.on_encrypt(COMMITTING, {})
        # all requests throttled: three attempts, three requests
        faults.add("ThrottlingException", service="kms", scope="all")
        with pytest.raises(KmsError, match=r"GenerateDataKey .*ThrottlingException.*3 attempts"):
            KmsKeyring(key_arn, client=client, retry=policy(fake, max_attempts=3), stats=stats).on_encrypt(
                COMMITTING, {}
            )
    assert sent == ["GenerateDataKey"] * 6
    assert faults.injected == {"kms.GenerateDataKey:ThrottlingException": 5}
    assert stats.snapshot() == {"calls": 2, "attempts": 6, "retries": 4, "throttles": 5, "failures": 1}


def test_http_level_thirty_percent_throttling(key_arn: str) -> None:
    client = kms_client(REGION)
    requests: list[str] = []
    client.meta.events.register("request-created.kms", lambda operation_name, **_: requests.append(operation_name))
    faults = Faults(VirtualClock(), seed=11)
    faults.throttle(0.3, service="kms", scope="all")
    stats = RetryStats()
    with faults.install():
        keyring = KmsKeyring(key_arn, client=client, retry=policy(FakeTime(), max_attempts=10), stats=stats)
        for _ in range(50):
            keyring.on_encrypt(COMMITTING, {"purpose": "test"})
    injected = sum(faults.injected.values())
    assert injected > 0
    assert len(requests) == stats.attempts == 50 + injected
    assert stats.throttles == stats.retries == injected


def test_client_config_turns_botocore_retries_off() -> None:
    assert CLIENT_CONFIG.retries == {"total_max_attempts": 1, "mode": "standard"}
    with mock_aws():
        client = kms_client(REGION)
        assert client.meta.config.retries["total_max_attempts"] == 1
        assert client.meta.region_name == REGION
        assert client.meta.config.connect_timeout == 5
        assert client.meta.config.read_timeout == 15
