"""A small evaluator of CloudWatch Logs JSON filter patterns, for the subset kmsflow writes.

Supported: ``{ ... }`` around a boolean expression of ``($.a.b = "value")`` / ``($.a.b != "value")`` terms
joined with ``&&`` and ``||`` (``&&`` binds tighter) and parentheses; ``*`` in a value is a wildcard; a
``!=`` on a missing field is true, an ``=`` on it false, as in CloudWatch Logs ("Filter pattern syntax for
metric filters ... JSON log events"). Anything else raises, so a pattern outside the subset fails its test
rather than passing by accident.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

_TOKEN = re.compile(r'\s*(\(|\)|&&|\|\||\$\.[A-Za-z0-9_.]+|!=|=|"[^"]*")')


def matches(pattern: str, event: dict[str, Any]) -> bool:
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    tokens = _tokenize(text[1:-1])
    value, rest = _or(tokens, event)
    if rest:
        raise ValueError(f"unparsed tokens {rest!r} in {pattern!r}")
    return value


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"unsupported syntax at {text[pos:]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _or(tokens: list[str], event: dict[str, Any]) -> tuple[bool, list[str]]:
    value, tokens = _and(tokens, event)
    while tokens[:1] == ["||"]:
        right, tokens = _and(tokens[1:], event)
        value = value or right
    return value, tokens


def _and(tokens: list[str], event: dict[str, Any]) -> tuple[bool, list[str]]:
    value, tokens = _term(tokens, event)
    while tokens[:1] == ["&&"]:
        right, tokens = _term(tokens[1:], event)
        value = value and right
    return value, tokens


def _term(tokens: list[str], event: dict[str, Any]) -> tuple[bool, list[str]]:
    if tokens[:1] == ["("]:
        value, rest = _or(tokens[1:], event)
        if rest[:1] != [")"]:
            raise ValueError("missing )")
        return value, rest[1:]
    selector, op, literal, *rest = tokens
    if not selector.startswith("$.") or op not in ("=", "!=") or not literal.startswith('"'):
        raise ValueError(f"unsupported term {tokens[:3]!r}")
    found = _lookup(event, selector[2:].split("."))
    expected = literal[1:-1]
    if found is None:
        return op == "!=", rest
    hit = fnmatch.fnmatchcase(str(found), expected)
    return (hit if op == "=" else not hit), rest


def _lookup(event: dict[str, Any], path: list[str]) -> Any:
    current: Any = event
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
