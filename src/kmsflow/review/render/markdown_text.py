"""Markdown text that renders as written in a pull-request comment: escaping, and tables."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

# Characters Markdown (GitHub's included) would read as markup: emphasis, code, links, HTML, tables,
# strikethrough, and `$`, which starts math ("$1.00/month now, $3.00/month" would render as a formula). An
# underscore inside a word is no markup (SYMMETRIC_DEFAULT stays as it is); `]` and `>` need no escape once `[`
# and `<` have one.
_MARKUP = re.compile(r"([\\`*\[<|$~])|(?<![A-Za-z0-9])(_)|(_)(?![A-Za-z0-9])")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def escape(text: str) -> str:
    """Text shown as is, on one line (newlines become spaces)."""
    return _MARKUP.sub(_escaped, _NEWLINES.sub(" ", text))


def cell(text: str) -> str:
    """Text in a table cell: escaped, ``|`` as ``\\|``, newlines as ``<br>`` (a raw newline ends the row)."""
    return "<br>".join(_MARKUP.sub(_escaped, line) for line in _NEWLINES.split(text))


def _escaped(match: re.Match[str]) -> str:
    return "\\" + match.group(0)


def short_action(action: str) -> str:
    """``kms:Decrypt`` -> ``Decrypt`` (every action of the report is a KMS action)."""
    return action.removeprefix("kms:")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Table:
    """A table's header and rows, as plain text (escaped when rendered)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def header_lines(self) -> list[str]:
        return [_row(self.headers), "|" + "|".join("---" for _ in self.headers) + "|"]

    def row_line(self, row: Sequence[str]) -> str:
        return _row(row)

    def lines(self) -> list[str]:
        return self.header_lines() + [self.row_line(row) for row in self.rows]


def _row(values: Sequence[str]) -> str:
    return "| " + " | ".join(cell(value) for value in values) + " |"
