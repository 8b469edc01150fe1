"""HTML building blocks for the report: every text goes through :func:`esc` (``html.escape``, quotes too), so
nothing from an assembly (a Sid, a description, a condition value) can become markup."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Sequence

from kmsflow.review.model import KeyInfo


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def key_anchor(key: KeyInfo) -> str:
    """The key section's id: ``key-<stack>-<logical id>`` with anything but letters, digits, ``_`` and ``-``
    replaced (an id must not hold spaces; the stack and logical id are unique together)."""
    return "key-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{key.stack}-{key.logical_id}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cell:
    """A table cell: its HTML (already escaped), its class and title (plain text)."""

    html: str
    css: str = ""
    title: str = ""


def text_cell(text: str, css: str = "") -> Cell:
    return Cell(html=esc(text), css=css)


def table(css: str, headers: Sequence[str], rows: Iterable[tuple[str, Sequence[Cell]]]) -> str:
    """A table of class ``css``; each row is (its class, its cells)."""
    head = "".join(f'<th scope="col">{esc(header)}</th>' for header in headers)
    body = "\n".join(_row(row_css, cells) for row_css, cells in rows)
    return f'<table class="{esc(css)}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def _row(css: str, cells: Sequence[Cell]) -> str:
    opening = f'<tr class="{esc(css)}">' if css else "<tr>"
    return opening + "".join(_cell(cell) for cell in cells) + "</tr>"


def _cell(cell: Cell) -> str:
    attributes = ""
    if cell.css:
        attributes += f' class="{esc(cell.css)}"'
    if cell.title:
        attributes += f' title="{esc(cell.title)}"'
    return f"<td{attributes}>{cell.html}</td>"
