"""``kmsflow audit usage``: which KMS keys were used, by whom, for which operation, from CloudTrail.

Modules, one job each: :mod:`.arns` (key and alias identifiers), :mod:`.identity` (userIdentity -> principal),
:mod:`.records` (record -> grouped facts), :mod:`.window` (time window), :mod:`.aliases` (alias -> key),
:mod:`.aggregate` (streaming counter, filters), :mod:`.sources` (local files, S3, LookupEvents),
:mod:`.ratelimit` (rate limit, back-off), :mod:`.inventory` (known keys and aliases), :mod:`.report` (the data
and its JSON), :mod:`.render` (table, JSON, CSV), :mod:`.pipeline` (all of it as one call).
"""

from __future__ import annotations

from kmsflow.audit.usage.aggregate import Filters, UsageAggregator
from kmsflow.audit.usage.pipeline import build_report, report_for_logs
from kmsflow.audit.usage.report import UsageReport, UsageRow
from kmsflow.audit.usage.window import Window

__all__ = ["Filters", "UsageAggregator", "UsageReport", "UsageRow", "Window", "build_report", "report_for_logs"]
