"""IAM ``Condition`` blocks evaluated against a request context, as the IAM User Guide documents them
("IAM JSON policy elements: Condition operators", "Conditions with multiple context keys or values",
"Single-valued vs. multivalued context keys").

The rules, in one place:

* every operator block of a ``Condition`` must hold (AND), and every key in a block must hold (AND);
* several policy values for one key are ORed, except for the negated operators (``StringNotEquals``,
  ``NotIpAddress``, ...), which hold when the request value matches *none* of them (NOR);
* context key names are case-insensitive (the context is keyed in lower case); values are compared
  case-sensitively unless the operator says ``IgnoreCase`` (``Bool`` compares ``true``/``false`` in any case);
* a key absent from the request: ``...IfExists`` holds, a negated operator holds (a ``StringNotEquals`` Deny
  applies to a request without the key), any other operator fails; ``Null`` tests exactly this presence;
* ``ForAnyValue:`` holds if any request value satisfies the base operator (per value, so a negated base
  operator means "this value matches none of the policy values") and fails for an absent or empty key;
  ``ForAllValues:`` holds if every request value does, and holds for an absent or empty key;
* a multi-valued request value under a plain (non-set) operator is read as ``ForAnyValue:``, and an empty
  one as an absent key.

Policy variables (``${aws:username}``) are not substituted: they are compared as the literal text.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any, NamedTuple, TypeVar

from kmsflow.policy.document import as_list
from kmsflow.policy.model import ContextValue

#: A request context as the evaluator reads it: lower-case key -> every value (one for single-valued keys).
Context = Mapping[str, tuple[str, ...]]

#: Whether one request value matches one policy value (the positive sense, before any negation).
Compare = Callable[[str, str], bool]

T = TypeVar("T", Decimal, datetime)

_QUANTIFIERS = ("ForAnyValue", "ForAllValues")
_IF_EXISTS = "IfExists"
_NULL = "Null"


class ConditionError(ValueError):
    """A condition that cannot be evaluated: an unknown operator or a policy value of the wrong type.

    The evaluator adds which statement it comes from (:class:`kmsflow.policy.evaluate.PolicyEvaluationError`)."""


class Operator(NamedTuple):
    """A base condition operator: how one request value is compared with one policy value, and whether the
    operator is the negated form (true when the request value matches none of the policy values)."""

    compare: Compare
    negated: bool = False


def wildcard_match(value: str, pattern: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` is any run of characters (``:`` and ``/`` included), ``?`` one character;
    everything else is literal (unlike :mod:`fnmatch`, ``[`` is not a character class)."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def any_wildcard_match(value: str, patterns: tuple[str, ...], *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches any of ``patterns`` (:func:`wildcard_match` each): one regular expression for
    the lot, compiled once per list (policies repeat the same action lists statement after statement)."""
    return _any_regex(patterns, ignore_case).fullmatch(value) is not None


@cache
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(_wildcard_body(pattern), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=8192)
def _any_regex(patterns: tuple[str, ...], ignore_case: bool) -> re.Pattern[str]:
    body = "|".join(f"(?:{_wildcard_body(pattern)})" for pattern in patterns) or "(?!)"
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _wildcard_body(pattern: str) -> str:
    return re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")


def _string_equals(request: str, policy: str) -> bool:
    return request == policy


def _string_equals_ignore_case(request: str, policy: str) -> bool:
    return request.casefold() == policy.casefold()


def _string_like(request: str, policy: str) -> bool:
    return wildcard_match(request, policy)


def _arn_like(request: str, policy: str) -> bool:
    """Compare the six colon-separated parts of two ARNs, each with wildcards; the last part (the resource)
    keeps any further colons. Text that is not a six-part ARN matches nothing."""
    request_parts = request.split(":", 5)
    policy_parts = policy.split(":", 5)
    if len(request_parts) != 6 or len(policy_parts) != 6:
        return False
    return all(wildcard_match(r, p) for r, p in zip(request_parts, policy_parts, strict=True))


def _bool_equals(request: str, policy: str) -> bool:
    if policy.lower() not in ("true", "false"):
        raise ConditionError(f"Bool value {policy!r} is neither 'true' nor 'false'")
    return request.lower() == policy.lower()


def _binary_equals(request: str, policy: str) -> bool:
    """Both sides are base64 text; compare the bytes they encode."""
    expected = _base64(policy)
    if expected is None:
        raise ConditionError(f"BinaryEquals value {policy!r} is not base64")
    return _base64(request) == expected


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _in_network(request: str, policy: str) -> bool:
    try:
        network = ipaddress.ip_network(policy, strict=False)
    except ValueError as err:
        raise ConditionError(f"IP address value {policy!r} is not an IP address or CIDR block") from err
    try:
        return ipaddress.ip_address(request) in network
    except ValueError:
        return False


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(text: str) -> datetime | None:
    """ISO 8601 (a date alone or a date and time; no zone means UTC) or epoch seconds."""
    number = _number(text)
    try:
        if number is not None:
            return datetime.fromtimestamp(float(number), UTC)
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ordered(parse: Callable[[str], T | None], kind: str, relation: Callable[[T, T], bool]) -> Compare:
    """A comparison of parsed values: a policy value that does not parse is an error in the policy (AWS would
    refuse it); a request value that does not parse matches nothing."""

    def compare(request: str, policy: str) -> bool:
        bound = parse(policy)
        if bound is None:
            raise ConditionError(f"{kind} value {policy!r} is not a {kind.lower()}")
        value = parse(request)
        return value is not None and relation(value, bound)

    return compare


def _numeric(relation: Callable[[Decimal, Decimal], bool]) -> Compare:
    return _ordered(_number, "Numeric", relation)


def _dated(relation: Callable[[datetime, datetime], bool]) -> Compare:
    return _ordered(_date, "Date", relation)


#: Every base operator by name. ``Null`` is not here: it tests whether a key is present, not its value.
OPERATORS: dict[str, Operator] = {
    "StringEquals": Operator(_string_equals),
    "StringNotEquals": Operator(_string_equals, negated=True),
    "StringEqualsIgnoreCase": Operator(_string_equals_ignore_case),
    "StringNotEqualsIgnoreCase": Operator(_string_equals_ignore_case, negated=True),
    "StringLike": Operator(_string_like),
    "StringNotLike": Operator(_string_like, negated=True),
    "NumericEquals": Operator(_numeric(operator.eq)),
    "NumericNotEquals": Operator(_numeric(operator.eq), negated=True),
    "NumericLessThan": Operator(_numeric(operator.lt)),
    "NumericLessThanEquals": Operator(_numeric(operator.le)),
    "NumericGreaterThan": Operator(_numeric(operator.gt)),
    "NumericGreaterThanEquals": Operator(_numeric(operator.ge)),
    "DateEquals": Operator(_dated(operator.eq)),
    "DateNotEquals": Operator(_dated(operator.eq), negated=True),
    "DateLessThan": Operator(_dated(operator.lt)),
    "DateLessThanEquals": Operator(_dated(operator.le)),
    "DateGreaterThan": Operator(_dated(operator.gt)),
    "DateGreaterThanEquals": Operator(_dated(operator.ge)),
    "Bool": Operator(_bool_equals),
    "BinaryEquals": Operator(_binary_equals),
    "IpAddress": Operator(_in_network),
    "NotIpAddress": Operator(_in_network, negated=True),
    "ArnEquals": Operator(_arn_like),
    "ArnLike": Operator(_arn_like),
    "ArnNotEquals": Operator(_arn_like, negated=True),
    "ArnNotLike": Operator(_arn_like, negated=True),
}

#: For messages: what may be written as a condition operator.
SUPPORTED = (
    f"{', '.join([*OPERATORS, _NULL])}; each but {_NULL} may take a 'ForAnyValue:' or 'ForAllValues:' prefix "
    f"and an '{_IF_EXISTS}' suffix"
)


class _Parsed(NamedTuple):
    """An operator as written, split into its set qualifier (``""``, ``ForAnyValue`` or ``ForAllValues``), base
    operator (None for ``Null``) and IfExists suffix."""

    quantifier: str
    base: Operator | None
    if_exists: bool


def parse_operator(name: str) -> _Parsed:
    """Split ``ForAllValues:StringLikeIfExists`` into its parts; an unknown name raises :class:`ConditionError`
    (a silently ignored condition would turn a restricted Allow into an unrestricted one)."""
    if name == _NULL:
        return _Parsed("", None, False)
    quantifier, _, base_name = name.rpartition(":")
    if_exists = base_name.endswith(_IF_EXISTS)
    base = OPERATORS.get(base_name.removesuffix(_IF_EXISTS))
    if base is None or quantifier not in ("", *_QUANTIFIERS):
        raise ConditionError(f"unknown condition operator {name!r}; supported: {SUPPORTED}")
    return _Parsed(quantifier, base, if_exists)


def normalise_context(context: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    """Key a request context in lower case (IAM context keys are case-insensitive) with every value as a tuple,
    so that single- and multi-valued keys are read alike."""
    return {key.lower(): (value,) if isinstance(value, str) else tuple(value) for key, value in context.items()}


#: One condition that a symbolic evaluation left open: (operator as written, key as written, policy values).
Pending = tuple[str, str, tuple[str, ...]]


def pending_conditions(condition: Mapping[str, Any] | None, context: Context) -> tuple[Pending, ...] | None:
    """Partial evaluation, for questions asked about *any* request (the review's "who may do what, when"):
    each (operator, key) pair whose key the context holds is decided; the others are left open and returned.
    None when a decided pair fails (the statement never applies to such a request). Pairs are ANDed, so
    deciding some and keeping the rest is exact."""
    if not condition:
        return ()
    pending: list[Pending] = []
    for name, block in condition.items():
        parsed = parse_operator(name)
        if not isinstance(block, Mapping):
            raise ConditionError(f"condition operator {name!r} must map context keys to values, got {block!r}")
        for key, values in block.items():
            policy_values = [_policy_text(v) for v in as_list(values)]
            request_values = context.get(str(key).lower())
            if request_values is None:
                pending.append((str(name), str(key), tuple(sorted(policy_values))))
            elif not _key_holds(parsed, policy_values, request_values):
                return None
    return tuple(sorted(pending))


def conditions_hold(condition: Mapping[str, Any] | None, context: Context) -> bool:
    """Whether a statement's ``Condition`` holds for a request context (keys lower-case, see
    :func:`normalise_context`). No condition holds trivially."""
    if not condition:
        return True
    return all(_block_holds(name, block, context) for name, block in condition.items())


def _block_holds(name: str, block: Any, context: Context) -> bool:
    parsed = parse_operator(name)
    if not isinstance(block, Mapping):
        raise ConditionError(f"condition operator {name!r} must map context keys to values, got {block!r}")
    return all(
        _key_holds(parsed, [_policy_text(v) for v in as_list(values)], context.get(str(key).lower(), ()))
        for key, values in block.items()
    )


def condition_pairs(condition: Any) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """Each (operator, key, values) of a ``Condition`` block as written, the values as IAM reads them (JSON
    ``true`` is ``"true"``); pairs of an odd shape are skipped, not raised on (the evaluator reports those)."""
    if not isinstance(condition, Mapping):
        return
    for name, block in condition.items():
        if isinstance(block, Mapping):
            for key, values in block.items():
                yield str(name), str(key), tuple(_policy_text(value) for value in as_list(values))


def _policy_text(value: Any) -> str:
    """Policy values as text; JSON ``true``/``false`` read as IAM writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key_holds(parsed: _Parsed, policy_values: Sequence[str], request_values: tuple[str, ...]) -> bool:
    if parsed.base is None:
        return _null_holds(policy_values, present=bool(request_values))
    if parsed.quantifier == "ForAllValues":
        return all(_value_holds(parsed.base, value, policy_values) for value in request_values)
    if not request_values:
        return parsed.if_exists or (not parsed.quantifier and parsed.base.negated)
    return any(_value_holds(parsed.base, value, policy_values) for value in request_values)


def _value_holds(base: Operator, request_value: str, policy_values: Sequence[str]) -> bool:
    """One request value against every policy value: OR for a positive operator, NOR for a negated one."""
    matched = any(base.compare(request_value, policy_value) for policy_value in policy_values)
    return not matched if base.negated else matched


def _null_holds(policy_values: Sequence[str], *, present: bool) -> bool:
    """``Null: true`` holds for an absent key, ``Null: false`` for a present one."""
    wanted = []
    for value in policy_values:
        if value.lower() not in ("true", "false"):
            raise ConditionError(f"Null value {value!r} is neither 'true' nor 'false'")
        wanted.append(value.lower() == "true")
    return (not present) in wanted
