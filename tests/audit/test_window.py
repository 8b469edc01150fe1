"""The time window: option parsing and the string comparison of event times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kmsflow.audit.errors import AuditInputError
from kmsflow.audit.usage.window import Window, canonical_time, parse_bound, window_from_options

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", datetime(2025, 5, 25, 12, tzinfo=UTC)),
        ("24h", datetime(2025, 5, 31, 12, tzinfo=UTC)),
        ("30m", datetime(2025, 6, 1, 11, 30, tzinfo=UTC)),
        ("2w", datetime(2025, 5, 18, 12, tzinfo=UTC)),
        ("2025-05-01", datetime(2025, 5, 1, tzinfo=UTC)),
        ("2025-05-01T10:00:00Z", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T12:00:00+02:00", datetime(2025, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_bound(text: str, expected: datetime) -> None:
    assert parse_bound(text, now=NOW, option="--since") == expected


def test_parse_bound_rejects_garbage_with_the_option_name() -> None:
    with pytest.raises(AuditInputError, match=r"--until 'yesterday'"):
        parse_bound("yesterday", now=NOW, option="--until")


def test_empty_window_is_refused() -> None:
    with pytest.raises(AuditInputError, match="window is empty"):
        window_from_options("1d", "2d", now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-05-20T20:45:00Z", "2025-05-20T20:45:00Z"),
        ("2025-05-20T20:45:00.900Z", "2025-05-20T20:45:00Z"),
        ("2025-05-20T22:45:00+02:00", "2025-05-20T20:45:00Z"),
        ("2025-05-20T20:45:00", "2025-05-20T20:45:00Z"),
        ("May 20th", None),
        ("", None),
    ],
)
def test_canonical_time(text: str, expected: str | None) -> None:
    assert canonical_time(text) == expected


def test_window_since_inclusive_until_exclusive() -> None:
    window = Window(datetime(2025, 5, 20, tzinfo=UTC), datetime(2025, 5, 21, tzinfo=UTC))
    assert window.contains("2025-05-20T00:00:00Z")
    assert window.contains("2025-05-20T23:59:59Z")
    assert not window.contains("2025-05-21T00:00:00Z")
    assert not window.contains("2025-05-19T23:59:59Z")
    assert Window().contains("1999-01-01T00:00:00Z")
