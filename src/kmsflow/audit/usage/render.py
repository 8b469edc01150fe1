"""The report as text: a table for people, JSON and CSV for programs (pure: strings in, strings out)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from kmsflow.audit.usage.report import UNRESOLVED_ALIAS, USAGE_FIELDS, UsageReport, UsageRow

FORMATS = ("table", "json", "csv")

_TABLE_COLUMNS: tuple[tuple[str, Callable[[UsageRow], str]], ...] = (
    ("COUNT", lambda r: str(r.count)),
    ("KEY", lambda r: r.key + (" (alias not resolved)" if r.key_kind == UNRESOLVED_ALIAS else "")),
    ("ALIASES", lambda r: ",".join(r.key_aliases) or "-"),
    ("PRINCIPAL", lambda r: r.principal),
    ("TYPE", lambda r: r.principal_type),
    ("OPERATION", lambda r: r.operation),
    ("ACCOUNT", lambda r: r.account or "-"),
    ("REGION", lambda r: r.region or "-"),
    ("SERVICE", lambda r: r.service or "-"),
    ("ERROR", lambda r: r.error_code or "-"),
)


def render(report: UsageReport, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    return render_table(report)


def render_json(report: UsageReport) -> str:
    return json.dumps(report.as_json(), indent=2) + "\n"


def render_csv(report: UsageReport) -> str:
    """Header + one line per usage row; ``key_aliases`` joined with ``;``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USAGE_FIELDS)
    for row in report.usage:
        data = row.as_json()
        data["key_aliases"] = ";".join(row.key_aliases)
        writer.writerow([data[name] for name in USAGE_FIELDS])
    return out.getvalue()


def _columns(rows: list[UsageRow]) -> list[str]:
    cells = [[cell(row) for _, cell in _TABLE_COLUMNS] for row in rows]
    headers = [name for name, _ in _TABLE_COLUMNS]
    widths = [max([len(h)] + [len(line[i]) for line in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines[0:1] = [lines[0], "  ".join("-" * w for w in widths)]
    return lines


def render_table(report: UsageReport) -> str:
    window = report.window
    since, until = window.since_text or "(start of the input)", window.until_text or "(end of the input)"
    lines = [f"KMS key usage from {since} to {until}", ""]
    if report.usage:
        lines += _columns(report.usage)
    else:
        lines.append("No KMS events in the window (after filters).")
    used = sum(row.count for row in report.usage if not row.error_code)
    refused = sum(row.count for row in report.usage if row.error_code)
    lines += ["", f"{len(report.usage)} group(s): {used} use(s), {refused} refused call(s) (ERROR column)."]
    if report.unused_keys:
        lines += ["", f"Keys with no use in the window ({len(report.unused_keys)}):"]
        lines += [
            f"  {k.key}" + (f"  ({', '.join(k.key_aliases)})" if k.key_aliases else "") for k in report.unused_keys
        ]
    if report.external_principals:
        lines += ["", "Principals from other accounts than the key's:"]
        lines += [
            f"  {e.principal} (account {e.principal_account}) used {e.key} (account {e.key_account}) {e.count} time(s)"
            + (f", refused {e.refused} time(s)" if e.refused else "")
            for e in report.external_principals
        ]
    stats = report.sources
    read = f"{stats.files_read} file(s)" + (f", {stats.api_pages} API page(s)" if stats.api_pages else "")
    lines += [
        "",
        f"Read {read}: {stats.records_read} record(s), {stats.records_kms} KMS, "
        f"{stats.records_other_services} of other services, {stats.records_outside_window} outside the window, "
        f"{stats.records_skipped} malformed (skipped); {stats.files_ignored} digest/Insights file(s) ignored.",
    ]
    if stats.malformed:
        more = stats.records_skipped - len(stats.malformed)
        lines += [f"Malformed records, skipped{f' (first {len(stats.malformed)})' if more > 0 else ''}:"]
        lines += [
            f"  {source or '(input)'}: " + (f"record {index}" if index is not None else "an event that is not JSON")
            for source, index in stats.malformed
        ]
    if stats.files_bad:
        lines += [f"Bad files ({len(stats.files_bad)}), skipped:"]
        lines += [f"  {bad.path}: {bad.reason}" for bad in stats.files_bad]
    if not report.complete:
        lines.append("INCOMPLETE: some input was skipped; counts may miss events.")
    return "\n".join(lines) + "\n"
