"""The HTML report: one self-contained page (inline CSS, no script, no external resource), readable offline:
the summary, the findings, the diff against the baseline highlighted (gained, lost, narrowed, widened), then a
section per key with its principal x action matrix."""

from __future__ import annotations

from kmsflow import __version__
from kmsflow.review.model import Review, Unknown
from kmsflow.review.render.grouping import unknowns_by_key
from kmsflow.review.render.html_diff import diff_section
from kmsflow.review.render.html_findings import findings_section
from kmsflow.review.render.html_key import key_section, unknowns_table
from kmsflow.review.render.html_style import CSS
from kmsflow.review.render.html_text import esc, key_anchor
from kmsflow.review.render.labels import key_title, key_titles, principal_labels, summary_words


def render_html(review: Review) -> str:
    titles = key_titles(review)
    labels = principal_labels(review)
    body = [_header(review)]
    body.append(findings_section(review.findings, titles))
    if review.diff is not None:
        body.append(diff_section(review.diff, titles, labels))
    by_key, others = unknowns_by_key(review)
    body += [key_section(entry, titles, labels, by_key.get(entry.key.id, [])) for entry in review.keys]
    body.append(_unknowns_section(others, placed=len(review.unknowns) - len(others)))
    body.append(f"<footer>kmsflow {esc(__version__)} review · costs are estimates from list prices.</footer>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>kmsflow review: {esc(review.source)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _header(review: Review) -> str:
    links = "".join(
        f'<li><a href="#{esc(key_anchor(entry.key))}">{esc(key_title(entry.key))}</a></li>' for entry in review.keys
    )
    return (
        "<header>\n<h1>kmsflow review</h1>\n"
        f'<p class="source">Cloud assembly: <code>{esc(review.source)}</code></p>\n'
        f'<p class="summary">{esc(summary_words(review))}</p>\n'
        f'<nav><p>Keys:</p><ul class="keys">{links}</ul></nav>\n</header>'
    )


def _unknowns_section(others: list[Unknown], *, placed: int) -> str:
    """The unknowns about no single key (``placed``: how many are listed with their key)."""
    if others:
        content = unknowns_table(others)
    elif placed:
        content = '<p class="empty">Every unknown is about one key: see the key.</p>'
    else:
        content = '<p class="empty">Nothing that could not be resolved offline.</p>'
    return f'<section id="unknowns">\n<h2>Unknowns</h2>\n{content}\n</section>'
