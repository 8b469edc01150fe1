"""Where records come from: CloudTrail log files in a local directory or in S3, or the LookupEvents API.

Each source yields *units*, one per file or API page, so that a bad file is named and skipped without stopping
the others, and so that only one file's records are in memory at a time.

Facts used:

- A log file is "a JSON text file in compressed gzip format" named
  ``AccountID_CloudTrail_RegionName_YYYYMMDDTHHmmZ_UniqueString.json.gz``, holding one JSON object whose
  ``Records`` list holds the events (CloudTrail log file examples,
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html). In S3 it is
  stored as ``bucket/prefix/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>``
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-find-log-files.html); organization
  trails add the organization ID: ``AWSLogs/<o-id>/<account>/CloudTrail/...``.
- Digest files (log file integrity validation) are also ``.json.gz``, under
  ``AWSLogs/<account>/CloudTrail-Digest/...`` (``AWSLogs/<o-id>/<account>/CloudTrail-Digest/...`` for organization
  trails) and named ``<account>_CloudTrail-Digest_<region>_...json.gz``
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html).
  They hold no events: they are ignored (counted as ``files_ignored``), not reported as bad. So are Insights
  event files (``CloudTrail-Insight``): they describe unusual activity, not API calls.
- LookupEvents: ``LookupAttributes`` with ``AttributeKey: EventSource``; ``StartTime``/``EndTime``;
  ``MaxResults`` at most 50; ``NextToken`` for the next page; events "that occurred in a Region within the last
  90 days"; each event's ``CloudTrailEvent`` is "a JSON string that contains a representation of the event";
  two requests per second per account per Region (API reference,
  https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html and
  https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_Event.html).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from kmsflow.audit.errors import AuditAwsError, AuditInputError
from kmsflow.audit.usage.ratelimit import RateLimiter, call_with_backoff
from kmsflow.audit.usage.records import KMS_SOURCE

LOG_SUFFIXES = (".json.gz", ".json")
IGNORED_FOLDERS = frozenset({"CloudTrail-Digest", "CloudTrail-Insight"})
LOOKUP_PAGE_SIZE = 50
LOOKUP_RATE = 2.0
LOOKUP_MAX_DAYS = 90
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)


class LogFile(NamedTuple):
    """A readable log file and its records."""

    name: str
    records: list[Any]


class BadLog(NamedTuple):
    """A file that is not a readable CloudTrail log file, and why."""

    name: str
    reason: str


class IgnoredLog(NamedTuple):
    """A digest or Insights file: part of a trail's output, but not events."""

    name: str


class ApiPage(NamedTuple):
    """One LookupEvents page: the parsed events and how many ``CloudTrailEvent`` strings did not parse."""

    name: str
    records: list[Any]
    malformed: int


Unit = LogFile | BadLog | IgnoredLog | ApiPage


class Source(Protocol):
    def units(self) -> Iterator[Unit]: ...

    def count(self) -> int | None:
        """How many units :meth:`units` will yield, when known cheaply (for a progress bar)."""
        ...


class LogFormatError(Exception):
    """A file is not a CloudTrail log file; the message is the reason shown to the user."""


# ---------------------------------------------------------------------------------------------------- parsing


def decompress(data: bytes) -> bytes:
    """The content of gzip ``data`` (one member, the CloudTrail case, in one zlib call; several members through
    :func:`gzip.decompress`). Raises :class:`LogFormatError` on a damaged or truncated file."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        content = inflater.decompress(data)
    except zlib.error as err:
        raise LogFormatError(f"not a valid gzip file ({err})") from None
    if not inflater.eof:
        raise LogFormatError("truncated gzip file (the compressed stream ends early)")
    if inflater.unused_data.strip(b"\0"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise LogFormatError(f"not a valid gzip file ({err})") from None
    return content


def parse_log(data: bytes) -> list[Any]:
    """The ``Records`` of a CloudTrail log file's bytes (gzip or plain JSON, recognized by content).

    Raises :class:`LogFormatError` if the data is not gzip/JSON or not an object with a ``Records`` list. The
    records themselves are not checked here (a malformed record is skipped and counted by the report).
    """
    if data[:2] == b"\x1f\x8b":
        data = decompress(data)
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        raise LogFormatError("not JSON text (not UTF-8)") from None
    except ValueError as err:
        raise LogFormatError(f"not JSON ({err})") from None
    if type(document) is not dict or type(document.get("Records")) is not list:
        raise LogFormatError('not a CloudTrail log file (no top-level "Records" list)')
    records: list[Any] = document["Records"]
    return records


def is_ignored(path: str) -> bool:
    """Digest and Insights files (see the module docstring)."""
    parts = path.replace("\\", "/").split("/")
    return bool(IGNORED_FOLDERS.intersection(parts)) or "_CloudTrail-Digest_" in parts[-1]


def is_log_name(path: str) -> bool:
    return path.lower().endswith(LOG_SUFFIXES)


# ---------------------------------------------------------------------------------------------------- local


class LocalLogs:
    """Log files under local directories (searched recursively, in name order) or named one by one.

    In a directory, files ending in ``.json.gz`` or ``.json`` are read and others passed over silently; a file
    named on its own is always read.
    """

    def __init__(self, paths: list[str]) -> None:
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise AuditInputError(
                f"--logs: no such file or directory: {', '.join(missing)}. Give a directory of CloudTrail log "
                "files (as downloaded from the trail's bucket) or a log file."
            )
        self.paths = paths

    def _walk(self) -> Iterator[str]:
        for root in self.paths:
            if not os.path.isdir(root):
                yield root
                continue
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(files):
                    if is_log_name(name):
                        yield os.path.join(folder, name)

    def count(self) -> int | None:
        return sum(1 for _ in self._walk())

    def units(self) -> Iterator[Unit]:
        for path in self._walk():
            if is_ignored(path):
                yield IgnoredLog(path)
                continue
            try:
                data = Path(path).read_bytes()
            except OSError as err:
                yield BadLog(path, f"unreadable ({err.strerror or err})")
                continue
            try:
                yield LogFile(path, parse_log(data))
            except LogFormatError as err:
                yield BadLog(path, str(err))


# ---------------------------------------------------------------------------------------------------- S3


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix)."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise AuditInputError(
            f"--s3 {url!r} is not an S3 URL. Give s3://BUCKET or s3://BUCKET/PREFIX, e.g. "
            "s3://my-trail-bucket/AWSLogs/111122223333/CloudTrail/eu-west-1/2025/01/"
        )
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix


class S3Logs:
    """Log files in S3 under ``s3://bucket/prefix`` (ListObjectsV2, paginated; one GetObject per file)."""

    def __init__(self, url: str, client: Callable[[], Any]) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self._client_factory = client
        self._client: Any = None

    def _s3(self) -> Any:
        if self._client is None:
            self._client = _aws_call(self._client_factory, "create an S3 client")
        return self._client

    def _keys(self) -> Iterator[str]:
        paginator = self._s3().get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    if is_log_name(item["Key"]):
                        yield item["Key"]
        except (ClientError, BotoCoreError) as err:
            raise AuditAwsError(f"cannot list s3://{self.bucket}/{self.prefix}: {err}") from None

    def count(self) -> int | None:
        return None

    def units(self) -> Iterator[Unit]:
        for key in self._keys():
            name = f"s3://{self.bucket}/{key}"
            if is_ignored(key):
                yield IgnoredLog(name)
                continue
            try:
                data = self._s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except (ClientError, BotoCoreError) as err:
                yield BadLog(name, f"unreadable ({err})")
                continue
            try:
                yield LogFile(name, parse_log(data))
            except LogFormatError as err:
                yield BadLog(name, str(err))


# ---------------------------------------------------------------------------------------------------- LookupEvents


def is_throttling(err: Exception) -> bool:
    return isinstance(err, ClientError) and err.response.get("Error", {}).get("Code") in THROTTLING_CODES


@dataclass
class LookupSettings:
    """Pacing of LookupEvents; tests inject ``clock``, ``sleep`` and ``rng``."""

    rate: float = LOOKUP_RATE
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random | None = None


class CloudTrailLookup:
    """KMS events from the LookupEvents API, per region, 50 a page, at most ``rate`` requests per second."""

    def __init__(
        self,
        client: Callable[[str], Any],
        regions: list[str],
        *,
        start: datetime,
        end: datetime,
        settings: LookupSettings | None = None,
    ) -> None:
        self._client_factory = client
        self.regions = regions
        self.start, self.end = start, end
        self.settings = settings or LookupSettings()

    def count(self) -> int | None:
        return None

    def units(self) -> Iterator[Unit]:
        for region in self.regions:
            yield from self._pages(region)

    def _pages(self, region: str) -> Iterator[Unit]:
        settings = self.settings
        rng = settings.rng or random.Random()
        trail = _aws_call(partial(self._client_factory, region), f"create a CloudTrail client in {region}")
        limiter = RateLimiter(settings.rate, clock=settings.clock, sleep=settings.sleep)
        request: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": KMS_SOURCE}],
            "StartTime": self.start,
            "EndTime": self.end,
            "MaxResults": LOOKUP_PAGE_SIZE,
        }

        def lookup() -> dict[str, Any]:
            response: dict[str, Any] = trail.lookup_events(**request)
            return response

        page = 0
        while True:
            page += 1
            try:
                response = call_with_backoff(
                    lookup,
                    retryable=is_throttling,
                    limiter=limiter,
                    attempts=settings.attempts,
                    base=settings.base_delay,
                    cap=settings.max_delay,
                    sleep=settings.sleep,
                    rng=rng,
                )
            except (ClientError, BotoCoreError) as err:
                hint = " (still throttled after back-off; retry later)" if is_throttling(err) else ""
                raise AuditAwsError(f"CloudTrail LookupEvents in {region} failed{hint}: {err}") from None
            records, malformed = _page_records(response.get("Events", []))
            yield ApiPage(f"lookup {region} page {page}", records, malformed)
            token = response.get("NextToken")
            if not token:
                return
            request["NextToken"] = token


def _page_records(events: list[dict[str, Any]]) -> tuple[list[Any], int]:
    records: list[Any] = []
    malformed = 0
    for event in events:
        text = event.get("CloudTrailEvent")
        try:
            records.append(json.loads(text) if isinstance(text, str) else None)
        except ValueError:
            records.append(None)
        if records[-1] is None:
            malformed += 1
            records.pop()
    return records, malformed


def _aws_call(make: Callable[[], Any], what: str) -> Any:
    try:
        return make()
    except (ClientError, BotoCoreError) as err:
        raise AuditAwsError(f"could not {what}: {err}. Check your AWS credentials (and --role-arn).") from None
