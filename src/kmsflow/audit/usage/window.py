"""The report's time window: ``--since``/``--until`` as ISO 8601 or relative (``7d``, ``24h``), and the test of
an ``eventTime`` against it.

CloudTrail's ``eventTime`` is "the date and time the request was completed, in coordinated universal time (UTC)",
written like ``2014-03-06T21:22:54Z``
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
Strings of that one fixed format order like the times they stand for, so the window keeps its bounds in that
format and compares strings: no datetime per record. Any other spelling (fractions of seconds, an offset) is
parsed once and rewritten in the fixed format by :func:`canonical_time`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kmsflow.audit.errors import AuditInputError

#: ``YYYY-MM-DDTHH:MM:SSZ``, 20 characters: the form CloudTrail writes and the window compares.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIME_LENGTH = 20

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def format_time(moment: datetime) -> str:
    """A timezone-aware datetime in the fixed CloudTrail format (UTC); microseconds are dropped."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def canonical_time(text: str) -> str | None:
    """An ``eventTime`` in the fixed format, or ``None`` if it is not an ISO 8601 time.

    The fast path (already ``YYYY-MM-DDTHH:MM:SSZ``) only checks the separators; anything else is parsed. A time
    without a zone is taken as UTC, as CloudTrail writes UTC. Fractions of a second are truncated, so that
    ``...:54.900Z`` falls in the same second as ``...:54Z``.
    """
    if len(text) == TIME_LENGTH and text[19] == "Z" and text[10] == "T" and text[4] == "-" and text[13] == ":":
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


def parse_bound(text: str, *, now: datetime, option: str) -> datetime:
    """``--since``/``--until``: an ISO 8601 date or time (UTC if no zone is given) or ``N`` + ``s|m|h|d|w``
    meaning N units before ``now``."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AuditInputError(
            f"{option} {text!r} is neither an ISO 8601 time nor a relative time. Give e.g. 2025-01-31, "
            "2025-01-31T12:00:00Z, or 7d / 24h / 30m / 2w (that long before now)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class Window:
    """``since`` (inclusive) to ``until`` (exclusive), either open; as datetimes and as fixed-format strings."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise AuditInputError(
                f"the window is empty: --since {format_time(self.since)} is not before --until "
                f"{format_time(self.until)}. Swap them or widen the window."
            )

    @property
    def since_text(self) -> str | None:
        return format_time(self.since) if self.since is not None else None

    @property
    def until_text(self) -> str | None:
        return format_time(self.until) if self.until is not None else None

    def contains(self, event_time: str) -> bool:
        """Whether a fixed-format ``eventTime`` (see :func:`canonical_time`) is inside the window."""
        since, until = self.since_text, self.until_text
        return (since is None or event_time >= since) and (until is None or event_time < until)

    def as_json(self) -> dict[str, str | None]:
        return {"since": self.since_text, "until": self.until_text}


def window_from_options(since: str | None, until: str | None, *, now: datetime) -> Window:
    """The window the user asked for (open where an option is not given)."""
    return Window(
        since=parse_bound(since, now=now, option="--since") if since else None,
        until=parse_bound(until, now=now, option="--until") if until else None,
    )
