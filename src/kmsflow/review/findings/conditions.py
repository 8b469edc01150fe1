"""Whether a condition narrows a statement or a fact: it must test one of the wanted keys, positively, with
values that are not a bare ``*``.

Only the plain matching operators count (``StringEquals``, ``StringEqualsIgnoreCase``, ``StringLike``,
``ArnEquals``, ``ArnLike``, optionally ``ForAnyValue:``). Negated operators (``StringNotEquals``...) admit
everyone but the values; ``...IfExists`` and ``ForAllValues:`` hold when the key is absent from the request
(a principal outside any organization has no ``aws:PrincipalOrgID``), and ``Null`` only tests presence: none of
them says who may call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kmsflow.policy.conditions import condition_pairs
from kmsflow.policy.document import Statement
from kmsflow.review.model import Condition

_MATCHING_OPERATORS = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"})
_ANY_VALUE = "foranyvalue:"
#: A value made only of these matches every request under a ``...Like`` operator.
_WILDCARDS = frozenset("*?")


def narrows(operator: str, key: str, values: Iterable[str], keys: frozenset[str]) -> bool:
    """Whether one condition (``keys`` lower-cased) limits the request to named values of one of ``keys``."""
    if key.lower() not in keys:
        return False
    base = operator.lower().removeprefix(_ANY_VALUE)
    listed = list(values)
    return base in _MATCHING_OPERATORS and bool(listed) and not any(_matches_all(value) for value in listed)


def narrowed(conditions: Iterable[Condition], keys: frozenset[str]) -> bool:
    """Whether any of a fact's conditions narrows it by one of ``keys``."""
    return any(narrows(c.operator, c.key, c.values, keys) for c in conditions)


def statement_narrowed(statement: Statement, keys: frozenset[str]) -> bool:
    """Whether any condition of a policy statement narrows it by one of ``keys``."""
    return any(narrows(operator, key, values, keys) for operator, key, values in statement_conditions(statement))


def statement_conditions(statement: Statement) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """A statement's ``Condition`` block as (operator, key, values), as the evaluator reads it."""
    return condition_pairs(statement.get("Condition"))


def _matches_all(value: str) -> bool:
    return not value or set(value) <= _WILDCARDS
