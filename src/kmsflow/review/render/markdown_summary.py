"""The Markdown report cut to size: the summary line, where the full report is, the diff's counts, then the
diff's rows, the findings and a row per key, in that order, as many as fit; what does not fit is counted,
never silently left out."""

from __future__ import annotations

from kmsflow.review.model import Review
from kmsflow.review.render.labels import diff_summary, key_titles, principal_labels, summary_words
from kmsflow.review.render.markdown_tables import diff_tables, findings_table, keys_overview_table
from kmsflow.review.render.markdown_text import Table, escape

CUT_SENTENCE = "This report was cut at 64 KB; run `kmsflow review --format html` for the full report."


def pointer_sentence(full_report: str | None) -> str:
    """Where the rest is: the file the caller wrote the full report to, or how to get it."""
    return f"The full report is in {escape(full_report)}." if full_report else CUT_SENTENCE


def summary_markdown(review: Review, *, full_report: str | None, limit: int) -> str:
    titles = key_titles(review)
    labels = principal_labels(review)
    head = [f"# kmsflow review: {escape(review.source)}", "", escape(summary_words(review)), ""]
    head += [pointer_sentence(full_report), ""]
    sections: list[tuple[str, Table]] = []
    if review.diff is not None:
        diff = review.diff
        head += [f"## Changes against {escape(diff.baseline)}", "", escape(diff_summary(diff)), ""]
        for what, keys in (("Keys added", diff.keys_added), ("Keys removed", diff.keys_removed)):
            rows = tuple((titles.get(key, key),) for key in keys)
            sections.append((f"### {what}", Table(headers=("Key",), rows=rows)))
        sections += [(f"### {title}", table) for title, table in diff_tables(review.diff, titles, labels)]
    sections.append(("## Findings", findings_table(review.findings, titles)))
    sections.append(("## Keys", keys_overview_table(review)))
    return _fill(head, sections, limit)


def _fill(head: list[str], sections: list[tuple[str, Table]], limit: int) -> str:
    """``head``, then the sections' rows in order while they fit in ``limit`` bytes; once a row does not fit,
    every later row is left out too (the order is the report's priority), and a last line counts them."""
    # Room kept for the last line: at most every section's note, at their largest.
    reserve = 64 + sum(len(_note(heading, len(table.rows), len(table.rows)).encode()) for heading, table in sections)
    out = _Lines(head)
    notes: list[str] = []
    full = False
    for heading, table in sections:
        if not table.rows:
            continue
        shown = 0
        opening = [heading, "", *table.header_lines()]
        if not full and out.fits([*opening, table.row_line(table.rows[0]), ""], limit - reserve):
            out.add(opening)
            for row in table.rows:
                line = table.row_line(row)
                if not out.fits([line, ""], limit - reserve):
                    break
                out.add([line])
                shown += 1
            out.add([""])
        if shown < len(table.rows):
            full = True
            notes.append(_note(heading, len(table.rows) - shown, len(table.rows)))
    if notes:
        out.add(["_Not shown here: " + "; ".join(notes) + "._"])
    return "\n".join(out.lines) + "\n"


def _note(heading: str, missing: int, total: int) -> str:
    return f"{heading.lstrip('# ')}, {missing} of {total} rows"


class _Lines:
    """Lines and their size in bytes of UTF-8 once joined by newlines (with the final newline)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.size = sum(len(line.encode("utf-8")) + 1 for line in lines)

    def fits(self, lines: list[str], limit: int) -> bool:
        return self.size + sum(len(line.encode("utf-8")) + 1 for line in lines) <= limit

    def add(self, lines: list[str]) -> None:
        self.lines += lines
        self.size += sum(len(line.encode("utf-8")) + 1 for line in lines)
