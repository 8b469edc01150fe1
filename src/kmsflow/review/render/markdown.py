"""The Markdown report, sized for a pull-request comment: GitHub refuses comments over 65,536 characters, so the
report stays within :data:`LIMIT_BYTES` of UTF-8. A review too large for that becomes a summary (the counts, the
diff and the findings, as many rows as fit) that says where the full report is."""

from __future__ import annotations

from collections.abc import Mapping

from kmsflow.review.model import Diff, KeyReview, Review, Unknown
from kmsflow.review.render.grouping import unknowns_by_key
from kmsflow.review.render.labels import diff_summary, key_title, key_titles, principal_labels, settings_words
from kmsflow.review.render.labels import summary_words as summary_line
from kmsflow.review.render.markdown_summary import summary_markdown
from kmsflow.review.render.markdown_tables import (
    access_table,
    diff_tables,
    findings_table,
    grant_creators_table,
    unknowns_table,
)
from kmsflow.review.render.markdown_text import escape

#: The largest report, in bytes of UTF-8 (a margin under GitHub's 65,536 characters).
LIMIT_BYTES = 64_000


def render_markdown(review: Review, *, full_report: str | None = None) -> str:
    """The whole report, or its summary when the whole report would exceed :data:`LIMIT_BYTES`."""
    text = full_markdown(review)
    if len(text.encode("utf-8")) <= LIMIT_BYTES:
        return text
    return summary_markdown(review, full_report=full_report, limit=LIMIT_BYTES)


def full_markdown(review: Review) -> str:
    titles = key_titles(review)
    labels = principal_labels(review)
    lines = [f"# kmsflow review: {escape(review.source)}", "", escape(summary_line(review)), ""]
    if review.diff is not None:
        lines += diff_lines(review.diff, titles, labels)
    lines += ["## Findings", ""]
    found = review.findings
    lines += findings_table(found, titles).lines() if found else ["No findings."]
    lines += ["", "## Keys", ""]
    by_key, others = unknowns_by_key(review)
    for entry in review.keys:
        lines += _key_lines(entry, titles, labels, by_key.get(entry.key.id, []))
    lines += ["## Unknowns", ""]
    if others:
        lines += unknowns_table(others).lines()
    elif review.unknowns:
        lines.append("Every unknown is about one key: see the key.")
    else:
        lines.append("Nothing that could not be resolved offline.")
    return "\n".join(lines) + "\n"


def diff_lines(diff: Diff, titles: Mapping[str, str], labels: Mapping[str, str]) -> list[str]:
    """The diff section: the counts, the keys added and removed, then each non-empty table."""
    lines = [f"## Changes against {escape(diff.baseline)}", "", escape(diff_summary(diff)), ""]
    for what, keys in (("Keys added", diff.keys_added), ("Keys removed", diff.keys_removed)):
        if keys:
            lines += [f"**{what}:** " + ", ".join(escape(titles.get(key, key)) for key in keys), ""]
    for title, table in diff_tables(diff, titles, labels):
        if table.rows:
            lines += [f"### {title}", "", *table.lines(), ""]
    return lines


def _key_lines(
    entry: KeyReview, titles: Mapping[str, str], labels: Mapping[str, str], unknowns: list[Unknown]
) -> list[str]:
    key = entry.key
    heading = f"`{key.id}`" + (f" · {escape(key.description)}" if key.description else "")
    lines = [f"### {escape(key_title(key))}", "", heading, ""]
    lines += [escape(" · ".join(settings_words(key, entry.cost, titles))), ""]
    if entry.facts:
        lines += access_table(entry, labels).lines()
    else:
        lines.append("No access facts: no principal can use or manage this key.")
    lines.append("")
    if entry.grant_creators:
        lines += ["**Grant creators** (grants themselves are made at run time, by these principals)", ""]
        lines += [*grant_creators_table(entry, labels).lines(), ""]
    if unknowns:
        lines += ["**Unknowns** (what the review could not resolve offline)", ""]
        lines += [*unknowns_table(unknowns).lines(), ""]
    return lines
