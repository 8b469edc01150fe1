"""The HTML report's findings: the review's table, and the rows the diff's new and resolved findings reuse."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kmsflow.review.model import Finding
from kmsflow.review.render.html_text import Cell, table, text_cell
from kmsflow.review.render.labels import source_words

FINDING_HEADERS = ("Severity", "Id", "Key", "Message", "Statement")


def findings_section(findings: Iterable[Finding], titles: Mapping[str, str]) -> str:
    rows = finding_rows(findings, titles, "")
    content = table("findings", FINDING_HEADERS, rows) if rows else '<p class="empty">No findings.</p>'
    return f'<section id="findings">\n<h2>Findings</h2>\n{content}\n</section>'


def finding_rows(findings: Iterable[Finding], titles: Mapping[str, str], css: str) -> list[tuple[str, list[Cell]]]:
    return [
        (
            " ".join(filter(None, (css, f"sev-{finding.severity.value}"))),
            [
                text_cell(finding.severity.value, "sev"),
                text_cell(finding.id),
                text_cell(titles.get(finding.key, finding.key)),
                text_cell(finding.message),
                text_cell(source_words(finding.source) if finding.source else ""),
            ],
        )
        for finding in findings
    ]
