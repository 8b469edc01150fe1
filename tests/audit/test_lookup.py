"""The LookupEvents source with botocore's Stubber (moto does not implement lookup_events): pagination, the
2 requests/second limit on an injected clock, and back-off on a throttled page."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from kmsflow.audit.errors import AuditAwsError
from kmsflow.audit.usage.pipeline import build_report
from kmsflow.audit.usage.ratelimit import RateLimiter, call_with_backoff
from kmsflow.audit.usage.sources import CloudTrailLookup, LookupSettings
from kmsflow.lambdas.aws_clients import client

from . import factory as f

START = datetime(2025, 5, 1, tzinfo=UTC)
END = datetime(2025, 6, 1, tzinfo=UTC)
APP = f.assumed_role("App", "s1")


class FakeTime:
    """A clock that only moves when something sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def api_event(record: dict[str, Any]) -> dict[str, Any]:
    """An Events[] item of LookupEvents: the record is in CloudTrailEvent, as a JSON string."""
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true",
        "EventTime": datetime(2025, 5, 20, tzinfo=UTC),
        "EventSource": record["eventSource"],
        "Username": "App",
        "Resources": [],
        "CloudTrailEvent": json.dumps(record),
    }


def expected(token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        "StartTime": START,
        "EndTime": END,
        "MaxResults": 50,
    }
    if token:
        params["NextToken"] = token
    return params


def stubbed(region: str = f.REGION) -> tuple[Any, Stubber, list[float]]:
    """A CloudTrail client with a Stubber, and the list of (fake) times at which requests were made."""
    trail = client("cloudtrail", region=region)
    return trail, Stubber(trail), []


def source(trail: Any, fake: FakeTime, calls: list[float], **settings: Any) -> CloudTrailLookup:
    trail.meta.events.register("before-parameter-build.cloudtrail.LookupEvents", lambda **_: calls.append(fake.clock()))
    return CloudTrailLookup(
        lambda region: trail,
        [f.REGION],
        start=START,
        end=END,
        settings=LookupSettings(clock=fake.clock, sleep=fake.sleep, rng=random.Random(7), **settings),
    )


def test_two_pages_with_next_token_at_two_requests_per_second() -> None:
    fake = FakeTime()
    trail, stub, calls = stubbed()
    page1 = [api_event(f.kms_event("Decrypt", APP, key=f.key_arn(1))) for _ in range(50)]
    page2 = [api_event(f.kms_event("Encrypt", APP, key=f.key_arn(1))) for _ in range(3)]
    stub.add_response("lookup_events", {"Events": page1, "NextToken": "token-1"}, expected(None))
    stub.add_response("lookup_events", {"Events": page2, "NextToken": "token-2"}, expected("token-1"))
    stub.add_response("lookup_events", {"Events": []}, expected("token-2"))
    with stub:
        report = build_report([source(trail, fake, calls)])
        stub.assert_no_pending_responses()
    assert {(r.operation, r.count) for r in report.usage} == {("Decrypt", 50), ("Encrypt", 3)}
    assert report.sources.api_pages == 3
    assert calls == [1000.0, 1000.5, 1001.0]  # the limiter spaced the three requests 0.5 s apart
    assert fake.sleeps == [0.5, 0.5]


def test_throttled_page_is_retried_after_a_jittered_back_off() -> None:
    fake = FakeTime()
    trail, stub, calls = stubbed()
    stub.add_response(
        "lookup_events",
        {"Events": [api_event(f.kms_event("Decrypt", APP, key=f.key_arn(1)))], "NextToken": "t"},
        expected(),
    )
    stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400, expected_params=expected("t"))
    stub.add_response(
        "lookup_events", {"Events": [api_event(f.kms_event("Decrypt", APP, key=f.key_arn(1)))]}, expected("t")
    )
    with stub:
        report = build_report([source(trail, fake, calls)])
        stub.assert_no_pending_responses()
    assert report.usage[0].count == 2
    # sleeps: limiter before the 2nd request, the back-off after the throttle (first retry: uniform in [0, 0.5]),
    # then the limiter again if the back-off was shorter than the 0.5 s spacing.
    backoff = random.Random(7).uniform(0, 0.5)
    assert fake.sleeps[0] == 0.5
    assert fake.sleeps[1] == pytest.approx(backoff)
    assert len(calls) == 3
    assert all(b - a >= 0.5 for a, b in itertools.pairwise(calls))


def test_throttling_that_outlives_the_back_off_is_an_aws_error() -> None:
    fake = FakeTime()
    trail, stub, calls = stubbed()
    for _ in range(3):
        stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400, expected_params=expected())
    with stub, pytest.raises(AuditAwsError, match="still throttled"):
        build_report([source(trail, fake, calls, attempts=3)])
    assert len(calls) == 3
    assert len([s for s in fake.sleeps if s != 0.5]) >= 1


def test_other_errors_are_not_retried() -> None:
    fake = FakeTime()
    trail, stub, calls = stubbed()
    stub.add_client_error("lookup_events", "InvalidTimeRangeException", "bad range", 400, expected_params=expected())
    with stub, pytest.raises(AuditAwsError, match="InvalidTimeRangeException"):
        build_report([source(trail, fake, calls)])
    assert len(calls) == 1
    assert fake.sleeps == []


def test_unparsable_cloudtrail_event_is_a_skipped_record() -> None:
    fake = FakeTime()
    trail, stub, calls = stubbed()
    bad = api_event(f.kms_event("Decrypt", APP, key=f.key_arn(1)))
    bad["CloudTrailEvent"] = '{"eventSource": "kms.amazon'
    good = api_event(f.kms_event("Decrypt", APP, key=f.key_arn(1)))
    stub.add_response("lookup_events", {"Events": [bad, good]}, expected())
    with stub:
        report = build_report([source(trail, fake, calls)])
    assert report.sources.records_skipped == 1
    assert report.usage[0].count == 1
    assert not report.complete


def test_rate_limiter_alone() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2.0, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(5):
        limiter.wait()
        stamps.append(fake.now)
    assert stamps == [1000.0, 1000.5, 1001.0, 1001.5, 1002.0]
    fake.now += 10  # idle time is not banked: the next call goes at once, the one after waits again
    limiter.wait()
    limiter.wait()
    assert fake.now == 1012.5


def test_backoff_sleeps_are_full_jitter_and_capped() -> None:
    fake = FakeTime()
    failures = iter(range(4))

    def flaky() -> str:
        if next(failures, None) is not None:
            raise RuntimeError("busy")
        return "ok"

    assert (
        call_with_backoff(
            flaky, retryable=lambda e: True, attempts=5, base=1.0, cap=3.0, sleep=fake.sleep, rng=random.Random(1)
        )
        == "ok"
    )
    rng = random.Random(1)
    assert fake.sleeps == [rng.uniform(0, bound) for bound in (1.0, 2.0, 3.0, 3.0)]
