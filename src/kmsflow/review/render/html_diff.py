"""The HTML report's diff section: what changed against the baseline, each kind of change highlighted by its
row class (``gained``, ``lost``, ``narrowed``, ``widened``, ``changed``, ``setting``, ``finding-new``,
``finding-resolved``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kmsflow.review.model import Diff, KeyFact
from kmsflow.review.render.html_findings import FINDING_HEADERS, finding_rows
from kmsflow.review.render.html_key import NO_CONDITION, principal_html
from kmsflow.review.render.html_text import Cell, esc, table, text_cell
from kmsflow.review.render.labels import diff_summary, fact_via, own_policy
from kmsflow.review.render.words import conditions_words, ways_words


def diff_section(diff: Diff, titles: Mapping[str, str], labels: Mapping[str, str]) -> str:
    parts = [f'<section id="diff">\n<h2>Changes against {esc(diff.baseline)}</h2>']
    parts.append(f'<p class="diff-summary">{esc(diff_summary(diff))}</p>')
    for what, keys in (("Keys added", diff.keys_added), ("Keys removed", diff.keys_removed)):
        if keys:
            items = "".join(f"<li>{esc(titles.get(key, key))}</li>" for key in keys)
            parts.append(f"<h3>{what}</h3>\n<ul>{items}</ul>")
    for title, css, facts in (("Access gained", "gained", diff.gained), ("Access lost", "lost", diff.lost)):
        if facts:
            parts.append(f"<h3>{title}</h3>\n" + _key_facts_table(facts, css, titles, labels))
    if diff.conditions:
        rows = [
            (
                change.change,
                [
                    text_cell(change.change),
                    Cell(html=principal_html(change.principal, labels)),
                    text_cell(change.action.removeprefix("kms:")),
                    text_cell(titles.get(change.key, change.key)),
                    text_cell(ways_words(change.before, own_policy=own_policy(change.key, titles), none=NO_CONDITION)),
                    text_cell(ways_words(change.after, own_policy=own_policy(change.key, titles), none=NO_CONDITION)),
                ],
            )
            for change in diff.conditions
        ]
        headers = ("Change", "Principal", "Action", "Key", "Before", "After")
        parts.append("<h3>Conditions narrowed, widened or changed</h3>\n" + table("conditions", headers, rows))
    if diff.settings:
        setting_rows = [
            (
                "setting",
                [
                    text_cell(titles.get(change.key, change.key)),
                    text_cell(change.setting),
                    text_cell(change.before),
                    text_cell(change.after),
                ],
            )
            for change in diff.settings
        ]
        setting_headers = ("Key", "Setting", "Before", "After")
        parts.append("<h3>Settings changed</h3>\n" + table("settings", setting_headers, setting_rows))
    for title, css, found in (
        ("New findings", "finding-new", diff.findings_new),
        ("Resolved findings", "finding-resolved", diff.findings_resolved),
    ):
        if found:
            parts.append(f"<h3>{title}</h3>\n" + table(css, FINDING_HEADERS, finding_rows(found, titles, css)))
    parts.append("</section>")
    return "\n".join(parts)


def _key_facts_table(facts: Iterable[KeyFact], css: str, titles: Mapping[str, str], labels: Mapping[str, str]) -> str:
    rows = [
        (
            css,
            [
                Cell(html=principal_html(item.fact.principal, labels)),
                text_cell(item.fact.action.removeprefix("kms:")),
                text_cell(titles.get(item.key, item.key)),
                text_cell(conditions_words(item.fact.conditions, none=NO_CONDITION)),
                text_cell(fact_via(item.fact, own_policy(item.key, titles))),
            ],
        )
        for item in facts
    ]
    return table(css, ("Principal", "Action", "Key", "Conditions", "Via"), rows)
