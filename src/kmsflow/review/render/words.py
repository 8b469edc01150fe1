"""Conditions in words, for the Markdown, HTML and SARIF reports: ``StringEquals kms:ViaService
[rds.eu-west-1.amazonaws.com]`` reads ``kms:ViaService = rds.eu-west-1.amazonaws.com``; the ways of a diff's
condition change read ``(<conditions> unless <Deny statement>) or (<conditions>)``.

Every condition gets words, whatever its operator: one this module does not know is written as the policy writes
it (``kms:X SomeNewOperator a, b``), never dropped. Values are written as they are (no quoting), in the order
the model keeps them (sorted).
"""

from __future__ import annotations

from collections.abc import Iterable

from kmsflow.review.model import Condition, Way
from kmsflow.review.render.labels import source_name

_IF_EXISTS = "IfExists"
#: Set operators (the request's key holds several values): how each quantifier reads.
_QUANTIFIERS = {"ForAllValues:": "every", "ForAnyValue:": "some"}

#: Base operator -> (symbol for one value, symbol for several values). Equality symbols take a set for several
#: values (``∈ {a, b}``); the others read "any of {a, b}" (IAM ORs the values of one condition).
_EQUALITY = {
    "StringEquals": ("=", "∈"),
    "StringEqualsIgnoreCase": ("=", "∈"),
    "ArnEquals": ("=", "∈"),
    "NumericEquals": ("=", "∈"),
    "DateEquals": ("=", "∈"),
    "BinaryEquals": ("=", "∈"),
    "StringNotEquals": ("≠", "∉"),
    "StringNotEqualsIgnoreCase": ("≠", "∉"),
    "ArnNotEquals": ("≠", "∉"),
    "NumericNotEquals": ("≠", "∉"),
    "DateNotEquals": ("≠", "∉"),
}
_COMPARISON = {
    "StringLike": "like",
    "ArnLike": "like",
    "StringNotLike": "not like",
    "ArnNotLike": "not like",
    "IpAddress": "in",
    "NotIpAddress": "not in",
    "NumericLessThan": "<",
    "NumericLessThanEquals": "≤",
    "NumericGreaterThan": ">",
    "NumericGreaterThanEquals": "≥",
    "DateLessThan": "before",
    "DateLessThanEquals": "at or before",
    "DateGreaterThan": "after",
    "DateGreaterThanEquals": "at or after",
}
_NULL = {"true": "absent", "false": "present"}


def condition_words(condition: Condition) -> str:
    """One condition in words: ``kms:ViaService = rds.eu-west-1.amazonaws.com``,
    ``every kms:GrantOperations ∈ {Decrypt, Encrypt}``, ``aws:SourceIp in 10.0.0.0/8 (if present)``."""
    operator = condition.operator
    quantifier = ""
    for prefix, word in _QUANTIFIERS.items():
        if operator.startswith(prefix):
            operator, quantifier = operator.removeprefix(prefix), word
    if_exists = operator.endswith(_IF_EXISTS) and operator != _IF_EXISTS
    base = operator.removesuffix(_IF_EXISTS) if if_exists else operator
    key = f"{quantifier} {condition.key}" if quantifier else condition.key
    text = _phrase(base, key, condition.values, set_valued=bool(quantifier))
    if text is None:  # an operator this module does not know: the policy's own words
        return f"{condition.key} {condition.operator} {_listed(condition.values)}"
    if base.endswith("IgnoreCase"):
        text += " (ignoring case)"
    if if_exists:
        text += " (if present)"
    return text


def conditions_words(conditions: Iterable[Condition], *, none: str = "") -> str:
    """All of a fact's conditions (they hold together), joined by "and"; ``none`` when there are none."""
    words = [condition_words(condition) for condition in conditions]
    return " and ".join(words) if words else none


def way_words(way: Way, *, own_policy: str = "", none: str = "") -> str:
    """One way: its conditions (``none`` when there are none, ``always`` before an ``unless``), then
    ``unless <statement>`` when Deny statements may exclude it (several joined by "or": any one of them
    excludes it), named as :func:`source_name` names them: ``kms:ViaService = rds.eu-west-1.amazonaws.com
    unless key policy (DenyOutsideOrg)``."""
    if not way.unless:
        return conditions_words(way.conditions, none=none)
    text = conditions_words(way.conditions, none="always")  # "always unless ...", not "none unless ..."
    return text + " unless " + " or ".join(source_name(deny, own_policy) for deny in way.unless)


def ways_words(ways: Iterable[Way], *, own_policy: str = "", none: str = "") -> str:
    """A side of a condition change: one way as :func:`way_words` reads it; several (any one of them allows)
    each in parentheses, joined by "or": ``(kms:CallerAccount = 111111111111) or (kms:ViaService = ...)``."""
    words = [way_words(way, own_policy=own_policy, none=none) for way in ways]
    if len(words) == 1:
        return words[0]
    return " or ".join(f"({text})" for text in words) if words else none


def _phrase(base: str, key: str, values: tuple[str, ...], *, set_valued: bool) -> str | None:
    if base in _EQUALITY:
        one, several = _EQUALITY[base]
        if len(values) == 1 and not set_valued:
            return f"{key} {one} {values[0]}"
        return f"{key} {several} {_set(values)}"
    if base in _COMPARISON:
        word = _COMPARISON[base]
        if len(values) == 1:
            return f"{key} {word} {values[0]}"
        return f"{key} {word} any of {_set(values)}"
    if base == "Bool":
        return f"{key} is {' or '.join(values) if values else '(no value)'}"
    if base == "Null":
        states = [_NULL.get(value.lower(), f"Null {value}") for value in values]
        return f"{key} is {' or '.join(states) if states else '(no value)'}"
    return None


def _set(values: tuple[str, ...]) -> str:
    return "{" + ", ".join(values) + "}"


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "(no value)"
