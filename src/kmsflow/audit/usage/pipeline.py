"""Sources -> aggregator -> report: the whole usage report as one library call (the CLI and the benchmark use it)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from kmsflow.audit.usage.aggregate import Filters, UsageAggregator
from kmsflow.audit.usage.report import UsageReport
from kmsflow.audit.usage.sources import ApiPage, BadLog, IgnoredLog, LocalLogs, LogFile, Source, Unit
from kmsflow.audit.usage.window import Window


def consume(aggregator: UsageAggregator, unit: Unit) -> None:
    """Hand one file or API page to the aggregator."""
    if isinstance(unit, LogFile):
        aggregator.file_read()
        aggregator.add_records(unit.records, unit.name)
    elif isinstance(unit, ApiPage):
        aggregator.api_page()
        aggregator.add_records(unit.records, unit.name)
        if unit.malformed:
            aggregator.add_skipped(unit.malformed, unit.name)
    elif isinstance(unit, BadLog):
        aggregator.file_bad(unit.name, unit.reason)
    elif isinstance(unit, IgnoredLog):
        aggregator.file_ignored()


def build_report(
    sources: Iterable[Source],
    *,
    window: Window | None = None,
    filters: Filters | None = None,
    known_keys: Iterable[str] = (),
    aliases: Iterable[tuple[str, str]] = (),
    on_unit: Callable[[Unit], None] | None = None,
) -> UsageReport:
    """Read every source in turn and build the report. ``aliases`` are (alias name or ARN, key ARN) pairs from
    files or ListAliases; ``on_unit`` is called after each file or page (progress bars, messages)."""
    aggregator = UsageAggregator(window)
    aggregator.aliases.give_all(aliases)
    with collector_paused():
        for source in sources:
            for unit in source.units():
                consume(aggregator, unit)
                if on_unit is not None:
                    on_unit(unit)
    return aggregator.report(known_keys=known_keys, filters=filters)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees every record)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def report_for_logs(paths: list[str], *, window: Window | None = None) -> UsageReport:
    """The report over local CloudTrail log files or directories (the benchmark's entry point)."""
    return build_report([LocalLogs(paths)], window=window)
