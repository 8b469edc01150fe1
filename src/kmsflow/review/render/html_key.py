"""One key's section of the HTML report: settings, the principal x action-group matrix, the access facts with
their conditions in words, grant creators, the key's findings, what is unknown about it, and its cost."""

from __future__ import annotations

from collections.abc import Mapping

from kmsflow.review.model import KeyReview, Unknown
from kmsflow.review.render.grouping import Matrix, access_rows, matrix
from kmsflow.review.render.html_text import Cell, esc, key_anchor, table, text_cell
from kmsflow.review.render.labels import (
    cost_words,
    key_policy_name,
    key_title,
    settings_words,
    source_words,
    via_words,
)
from kmsflow.review.render.words import conditions_words

_CHECK = "✓"
NO_CONDITION = "none"


def key_section(entry: KeyReview, titles: Mapping[str, str], labels: Mapping[str, str], unknowns: list[Unknown]) -> str:
    key = entry.key
    parts = [f'<section class="key" id="{esc(key_anchor(key))}">', f"<h2>{esc(key_title(key))}</h2>"]
    parts.append(f'<p class="arn">{esc(key.id)}</p>')
    if key.description:
        parts.append(f'<p class="description">{esc(key.description)}</p>')
    settings = "".join(f"<li>{esc(phrase)}</li>" for phrase in settings_words(key, entry.cost, titles))
    parts.append(f'<ul class="settings">{settings}</ul>')
    parts.append("<h3>Who may do what</h3>")
    if entry.facts:
        parts.append(_legend())
        parts.append(_matrix_table(matrix(entry.facts), labels))
        parts.append("<h3>Access facts</h3>")
        parts.append(_facts_table(entry, labels))
    else:
        parts.append('<p class="empty">No access facts: no principal can use or manage this key.</p>')
    if entry.grant_creators:
        parts.append("<h3>Grant creators</h3>")
        parts.append('<p class="muted">Grants are made at run time; these principals may make them.</p>')
        parts.append(_grant_creators_table(entry, labels))
    parts.append("<h3>Findings</h3>")
    if entry.findings:
        parts.append(_findings_table(entry))
    else:
        parts.append('<p class="empty">No findings.</p>')
    if unknowns:
        parts.append("<h3>Unknowns</h3>")
        parts.append(unknowns_table(unknowns))
    parts.append(f'<p class="cost">Cost: {esc(cost_words(entry.cost))}</p>')
    parts.append(f'<p class="note">{esc(entry.cost.note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def unknowns_table(unknowns: list[Unknown]) -> str:
    rows = [
        ("", [text_cell(unknown.what), text_cell(unknown.where), text_cell(unknown.detail)]) for unknown in unknowns
    ]
    return table("unknowns", ("What", "Where", "Detail"), rows)


def principal_html(principal: str, labels: Mapping[str, str]) -> str:
    label = labels.get(principal)
    name = f'<span class="principal">{esc(principal)}</span>'
    return name + (f' <span class="label">{esc(label)}</span>' if label else "")


def _legend() -> str:
    return (
        '<p class="legend"><span class="allowed">✓ allowed</span><span class="conditional">✓ under conditions '
        "(hover for them; all in the access facts below)</span><span>empty: not allowed</span></p>"
    )


def _matrix_table(grid: Matrix, labels: Mapping[str, str]) -> str:
    head = '<th scope="col">Principal</th>' + "".join(f'<th scope="col">{esc(c)}</th>' for c in grid.columns)
    rows = []
    for principal, cells in grid.rows:
        row = f'<tr><th scope="row">{principal_html(principal, labels)}</th>'
        for cell in cells:
            if not cell.state:
                row += '<td class="none"></td>'
                continue
            title = "\n".join(cell.detail)
            row += f'<td class="{cell.state}" title="{esc(title)}">{_CHECK}</td>'
        rows.append(row + "</tr>")
    body = "\n".join(rows)
    return f'<table class="matrix">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def _facts_table(entry: KeyReview, labels: Mapping[str, str]) -> str:
    rows = [
        (
            "conditional" if row.conditions or row.unless else "",
            (
                Cell(html=principal_html(row.principal, labels)),
                text_cell(", ".join(action.removeprefix("kms:") for action in row.actions)),
                text_cell(conditions_words(row.conditions, none=NO_CONDITION)),
                text_cell(via_words(row.via, row.sources, row.unless, key_policy_name(entry.key))),
            ),
        )
        for row in access_rows(entry.facts)
    ]
    return table("facts", ("Principal", "Actions", "Conditions", "Via"), rows)


def _grant_creators_table(entry: KeyReview, labels: Mapping[str, str]) -> str:
    rows = [
        (
            "",
            (
                Cell(html=principal_html(creator.principal, labels)),
                text_cell(", ".join(creator.grantees) or "any"),
                text_cell(", ".join(creator.operations) or "any"),
                text_cell("yes" if creator.for_aws_resource else "no"),
                text_cell(conditions_words(creator.conditions, none=NO_CONDITION)),
                text_cell(via_words(creator.via, creator.sources, own_policy=key_policy_name(entry.key))),
            ),
        )
        for creator in entry.grant_creators
    ]
    headers = ("Principal", "For grantees", "Operations", "Only for AWS resources", "Conditions", "Via")
    return table("grant-creators", headers, rows)


def _findings_table(entry: KeyReview) -> str:
    rows = [
        (
            f"sev-{finding.severity.value}",
            (
                text_cell(finding.severity.value, "sev"),
                text_cell(finding.id),
                text_cell(finding.message),
                text_cell(source_words(finding.source) if finding.source else ""),
            ),
        )
        for finding in entry.findings
    ]
    return table("findings", ("Severity", "Id", "Message", "Statement"), rows)
