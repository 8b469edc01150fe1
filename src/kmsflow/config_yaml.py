"""Reading YAML with the line of every value, and refusing what PyYAML would accept silently.

PyYAML keeps the last of two equal keys in a mapping without a word; a configuration that says
``rotation: true`` and later ``rotation: false`` is a mistake that must be reported, so duplicates are
errors here. Only the YAML "safe" subset is read (no Python tags).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from kmsflow.errors import ConfigError, ConfigIssue

Loc = tuple[int | str, ...]

#: libyaml's parser when PyYAML was built with it (ten times faster), with the same safe constructors.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data, the 1-based line of every path, each scalar's text as written in the file, and which
    scalars were quoted (YAML reads unquoted digits as numbers)."""

    data: dict[str, Any]
    lines: dict[Loc, int]
    raw: dict[Loc, str]
    quoted: frozenset[Loc] = frozenset()


def load_yaml(text: str, source: str) -> YamlDocument:
    """Parse ``text`` (``source`` names it in errors)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(source, [ConfigIssue("", "the file is empty; start from the README's example")])
        lines: dict[Loc, int] = {}
        raw: dict[Loc, str] = {}
        quoted: set[Loc] = set()
        issues: list[ConfigIssue] = []
        _walk(node, (), lines, raw, issues, quoted)
        if issues:
            raise ConfigError(source, issues)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        what = " ".join(filter(None, [err.context, err.problem]))
        raise ConfigError(
            source,
            [ConfigIssue("", f"YAML syntax error{column}: {what}; fix the indentation or quoting", line)],
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(source, [ConfigIssue("", f"YAML error: {err}")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(
            source,
            [ConfigIssue("", f"the top level must be a mapping of sections, got {type(data).__name__}", 1)],
        )
    return YamlDocument(data, lines, raw, frozenset(quoted))


def _walk(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    raw: dict[Loc, str],
    issues: list[ConfigIssue],
    quoted: set[Loc],
) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        raw[loc] = str(node.value)
        if node.style in ("'", '"'):
            quoted.add(loc)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    ConfigIssue(
                        format_path((*loc, key)),
                        f"duplicate key {key!r} (first on line {seen[key]}); YAML would silently keep "
                        "the last one; remove one of them",
                        line,
                    )
                )
            seen.setdefault(key, line)
            lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), lines, raw, issues, quoted)
            lines[(*loc, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, raw, issues, quoted)


def format_path(loc: Loc) -> str:
    """``("keys", 2, "rotation_days")`` -> ``keys[2].rotation_days``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'rotation_days'?"`` for the closest of ``choices`` to a misspelt ``word``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""
