"""The difference between a baseline review and the current one, in access facts rather than JSON.

Keys are matched by :attr:`KeyInfo.id` (the resolved ARN, stable between two synths of the same app). For a key
on both sides, facts are compared as (key, principal, action) triples:

* a triple only after is **gained**, only before is **lost**; every fact of it is listed (one per statement
  that allows it). The facts of a key added or removed are not repeated in gained/lost: the key alone is listed,
  and the review itself shows its facts;
* a triple on both sides is allowed in one or more *ways*, each way a fact's conditions (all of which must hold)
  and its ``unless`` (undecided Deny statements, none of which may apply). Which statements allow it (``via``,
  ``sources``) is not part of a way: moving a permission from one statement to another is no change. When the
  ways differ, the triple is **narrowed** (every request admitted after was admitted before, not the reverse),
  **widened** (the reverse) or **changed** (neither, or not decidable). Ways that differ in text but are shown
  to admit the same requests are no change. A :class:`ConditionChange` lists every way of each side (sorted),
  not only those that differ: the triple is allowed when any one of them holds.

Whether one set of ways admits a subset of another's requests is decided by :func:`_ways_within`, a sound
syntactic approximation: when it says "within", it is so; when it cannot tell, the change reads as ``changed``,
never as ``narrowed``.

Settings (:data:`SETTINGS`) differ as text; findings are matched by :attr:`Finding.identity` (the findings of an
added or removed key count as new or resolved). Every output is sorted with explicit keys: the same two reviews
give the same :class:`Diff` whatever order their keys and facts come in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from kmsflow.policy.conditions import ConditionError, parse_operator, wildcard_match
from kmsflow.review.model import (
    AccessFact,
    Condition,
    ConditionChange,
    Diff,
    Finding,
    KeyFact,
    KeyInfo,
    Review,
    SettingChange,
    Way,
)

#: The key settings compared, in the order a diff lists them (``policy_size`` is left out: it changes with any
#: statement, which the facts already show).
SETTINGS = (
    "rotation",
    "rotation_period_days",
    "deletion_window_days",
    "enabled",
    "spec",
    "usage",
    "origin",
    "multi_region",
    "primary",
    "replicas",
    "aliases",
    "removal",
)

NARROWED = "narrowed"
WIDENED = "widened"
CHANGED = "changed"

Triple = tuple[str, str, str]  # (key id, principal, action)


def diff_reviews(baseline: Review, current: Review, *, baseline_source: str) -> Diff:
    """What changed from ``baseline`` to ``current``; ``baseline_source`` says where the baseline came from."""
    before_keys, after_keys = _keys(baseline), _keys(current)
    common = before_keys.keys() & after_keys.keys()
    before_facts = _facts(baseline, common)
    after_facts = _facts(current, common)
    gained = _only_in(after_facts, before_facts)
    lost = _only_in(before_facts, after_facts)
    changes = [
        change
        for triple in before_facts.keys() & after_facts.keys()
        if (change := _condition_change(triple, before_facts[triple], after_facts[triple])) is not None
    ]
    settings = [change for key in common for change in _setting_changes(before_keys[key], after_keys[key])]
    before_findings, after_findings = _findings(baseline), _findings(current)
    return Diff(
        baseline=baseline_source,
        keys_added=tuple(sorted(after_keys.keys() - before_keys.keys())),
        keys_removed=tuple(sorted(before_keys.keys() - after_keys.keys())),
        gained=tuple(sorted(gained, key=_key_fact_order)),
        lost=tuple(sorted(lost, key=_key_fact_order)),
        conditions=tuple(sorted(changes, key=_condition_change_order)),
        settings=tuple(sorted(settings, key=lambda s: (s.key, SETTINGS.index(s.setting)))),
        findings_new=_findings_not_in(after_findings, before_findings),
        findings_resolved=_findings_not_in(before_findings, after_findings),
    )


# --- Gathering ------------------------------------------------------------------------------------------------


def _keys(review: Review) -> dict[str, KeyInfo]:
    return {key_review.key.id: key_review.key for key_review in review.keys}


def _facts(review: Review, keys: Iterable[str]) -> dict[Triple, list[AccessFact]]:
    """The facts of the given keys by (key, principal, action)."""
    wanted = set(keys)
    found: dict[Triple, list[AccessFact]] = {}
    for key_review in review.keys:
        if key_review.key.id in wanted:
            for fact in key_review.facts:
                found.setdefault((key_review.key.id, fact.principal, fact.action), []).append(fact)
    return found


def _only_in(these: dict[Triple, list[AccessFact]], those: dict[Triple, list[AccessFact]]) -> list[KeyFact]:
    """Every fact of the triples in ``these`` and not in ``those``."""
    return [KeyFact(key=triple[0], fact=fact) for triple in these.keys() - those.keys() for fact in these[triple]]


def _findings(review: Review) -> list[Finding]:
    return [finding for key_review in review.keys for finding in key_review.findings]


def _findings_not_in(these: list[Finding], those: list[Finding]) -> tuple[Finding, ...]:
    known = {finding.identity for finding in those}
    return tuple(sorted((f for f in these if f.identity not in known), key=_finding_order))


# --- Ordering -------------------------------------------------------------------------------------------------


def _fact_order(fact: AccessFact) -> tuple[object, ...]:
    return (fact.principal, fact.action, fact.conditions, fact.via.value, fact.sources, fact.unless)


def _key_fact_order(key_fact: KeyFact) -> tuple[object, ...]:
    return (key_fact.key, *_fact_order(key_fact.fact))


def _condition_change_order(change: ConditionChange) -> tuple[object, ...]:
    return (change.key, change.principal, change.action, change.change, change.before, change.after)


def _finding_order(finding: Finding) -> tuple[object, ...]:
    source = (finding.source.policy, finding.source.sid) if finding.source else ("", "")
    rest = (finding.rule, source, finding.message)  # ties broken so that input order never shows
    return (finding.severity.rank, finding.key, finding.id, finding.principal or "", *rest)


# --- Settings -------------------------------------------------------------------------------------------------


def _setting_changes(before: KeyInfo, after: KeyInfo) -> list[SettingChange]:
    return [
        SettingChange(
            key=after.id, setting=name, before=_text(getattr(before, name)), after=_text(getattr(after, name))
        )
        for name in SETTINGS
        if getattr(before, name) != getattr(after, name)
    ]


def _text(value: object) -> str:
    """A setting as text: ``str()`` of the value, a list joined by ``", "``."""
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- Conditions -----------------------------------------------------------------------------------------------


def _condition_change(triple: Triple, before: list[AccessFact], after: list[AccessFact]) -> ConditionChange | None:
    """How the ways a triple is allowed changed, or None when they admit the same requests."""
    if len(before) == len(after) == 1 and _same_way(before[0], after[0]):
        return None  # the common case, decided without building sets
    before_ways, after_ways = _ways(before), _ways(after)
    if before_ways == after_ways:
        return None
    narrower = _ways_within(after_ways, before_ways)
    wider = _ways_within(before_ways, after_ways)
    if narrower and wider:
        return None  # written differently, same requests admitted
    change = NARROWED if narrower else WIDENED if wider else CHANGED
    key, principal, action = triple
    return ConditionChange(
        key=key,
        principal=principal,
        action=action,
        change=change,
        before=tuple(sorted(before_ways)),
        after=tuple(sorted(after_ways)),
    )


def _same_way(before: AccessFact, after: AccessFact) -> bool:
    return before.conditions == after.conditions and before.unless == after.unless


def _ways(facts: list[AccessFact]) -> frozenset[Way]:
    """The ways of a triple's facts (facts that differ only in their statements are one way)."""
    return frozenset(_way(fact) for fact in facts)


def _way(fact: AccessFact) -> Way:
    """A fact's way, its conditions and ``unless`` sorted without repeats: ways that list the same ones are
    equal."""
    return Way(conditions=tuple(sorted(set(fact.conditions))), unless=tuple(sorted(set(fact.unless))))


def _ways_within(inner: frozenset[Way], outer: frozenset[Way]) -> bool:
    """Whether every request some way of ``inner`` admits is admitted by some way of ``outer`` (an OR of ways
    is within another when each of its ways is within one of the other's)."""
    return all(any(_way_within(way, other) for other in outer) for way in inner)


def _way_within(inner: Way, outer: Way) -> bool:
    """``inner`` admits a subset of ``outer``'s requests when each of ``outer``'s conditions is implied by one
    of ``inner``'s (extra conditions only narrow; a way without conditions admits every request) and ``inner``
    is excluded by at least the Deny statements that exclude ``outer``."""
    return all(deny in inner.unless for deny in outer.unless) and all(
        any(_implies(mine, theirs) for mine in inner.conditions) for theirs in outer.conditions
    )


# --- One condition implying another --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operator:
    """A condition operator read for comparison: its quantifier (``""``, ``ForAnyValue``, ``ForAllValues``),
    how its values match (:data:`_MATCHING`, or the base name for operators compared by value only), whether it
    is negated, and whether it is ``...IfExists``."""

    quantifier: str
    matching: str
    negated: bool
    if_exists: bool


#: Base operator -> how its values match a request value: literally, ignoring case, as wildcard patterns, as
#: ARN patterns (``ArnEquals`` takes wildcards too), as CIDR blocks, as Bool.
_MATCHING = {
    "StringEquals": "exact",
    "StringNotEquals": "exact",
    "StringEqualsIgnoreCase": "ignore-case",
    "StringNotEqualsIgnoreCase": "ignore-case",
    "StringLike": "like",
    "StringNotLike": "like",
    "ArnEquals": "arn",
    "ArnLike": "arn",
    "ArnNotEquals": "arn",
    "ArnNotLike": "arn",
    "Bool": "bool",
    "IpAddress": "ip",
    "NotIpAddress": "ip",
}


@cache
def _operator(name: str) -> _Operator | None:
    """``ForAllValues:StringLikeIfExists`` read for comparison; None for an operator the evaluator does not know
    (such a condition implies only an identical one)."""
    try:
        parsed = parse_operator(name)
    except ConditionError:
        return None
    quantifier, _, base = name.rpartition(":")
    base = base.removesuffix("IfExists")
    negated = parsed.base.negated if parsed.base is not None else False
    return _Operator(quantifier, _MATCHING.get(base, base), negated, parsed.if_exists)


def _implies(mine: Condition, theirs: Condition) -> bool:
    """Whether every request that satisfies ``mine`` satisfies ``theirs`` (sound, not complete).

    Both must test the same context key (case-insensitively), with the same quantifier and both negated or
    both not; ``mine`` may be ``IfExists`` only where ``theirs`` is. Then a positive condition is within
    another when each of its values matches only what some value of the other matches (fewer values, a
    narrower pattern, a smaller CIDR block); a negated one when it excludes at least what the other excludes.
    Numeric and date comparisons, ``Null`` and ``BinaryEquals`` compare by value sets only."""
    if mine == theirs:
        return True
    if mine.key.lower() != theirs.key.lower():
        return False
    mine_op, theirs_op = _operator(mine.operator), _operator(theirs.operator)
    if mine_op is None or theirs_op is None:
        return False
    if (mine_op.quantifier, mine_op.negated) != (theirs_op.quantifier, theirs_op.negated):
        return False
    if mine_op.if_exists and not theirs_op.if_exists:
        return False  # mine holds without the key, theirs does not
    if mine_op.negated:  # excluded sets: theirs ⊆ mine
        return _values_within(theirs_op.matching, theirs.values, mine_op.matching, mine.values)
    return _values_within(mine_op.matching, mine.values, theirs_op.matching, theirs.values)


def _values_within(inner_kind: str, inner: tuple[str, ...], outer_kind: str, outer: tuple[str, ...]) -> bool:
    """Whether every value that one of ``inner`` matches is matched by one of ``outer``."""
    return all(any(_value_within(inner_kind, value, outer_kind, other) for other in outer) for value in inner)


def _value_within(inner_kind: str, inner: str, outer_kind: str, outer: str) -> bool:
    """Whether what the policy value ``inner`` matches is all matched by ``outer`` (kinds from
    :data:`_MATCHING`)."""
    match (inner_kind, outer_kind):
        case ("bool", "bool"):
            return inner.lower() == outer.lower()
        case ("ip", "ip"):
            return _network_within(inner, outer)
        case ("exact" | "like", "exact"):
            return inner == outer and (inner_kind == "exact" or not _has_wildcard(inner))
        case ("exact" | "ignore-case", "ignore-case"):
            return inner.casefold() == outer.casefold()
        case ("exact", "like"):
            return wildcard_match(inner, outer)
        case ("like", "like"):
            return _pattern_within(inner, outer)
        case ("exact" | "arn", "arn"):
            return _arn_pattern_within(inner, outer)
        case _:
            return inner_kind == outer_kind and inner == outer


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def _pattern_within(inner: str, outer: str) -> bool:
    """Whether every text the wildcard pattern ``inner`` matches is matched by ``outer``: ``outer`` is matched
    against ``inner``'s text where ``outer``'s ``*`` may cover anything (``inner``'s wildcards included), its
    ``?`` one character of ``inner`` that is not ``*``, and its other characters only themselves. (Plain
    :func:`wildcard_match` would let ``a?`` cover ``a*``.)"""
    if not _has_wildcard(inner):
        return wildcard_match(inner, outer)
    return _pattern_regex(outer).fullmatch(inner) is not None


@cache
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if char == "*" else "[^*]" if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, re.DOTALL)


def _arn_pattern_within(inner: str, outer: str) -> bool:
    """ARN patterns compare part by part (six colon-separated parts, the last keeping any further colons), as
    ``ArnLike`` matches."""
    inner_parts, outer_parts = inner.split(":", 5), outer.split(":", 5)
    if len(inner_parts) != 6 or len(outer_parts) != 6:
        return False  # an ARN pattern that is no ARN matches nothing, a string value does: say "cannot tell"
    return all(_pattern_within(i, o) for i, o in zip(inner_parts, outer_parts, strict=True))


def _network_within(inner: str, outer: str) -> bool:
    try:
        inner_net = ipaddress.ip_network(inner, strict=False)
        outer_net = ipaddress.ip_network(outer, strict=False)
    except ValueError:
        return inner == outer
    if inner_net.version != outer_net.version:
        return False
    return inner_net.subnet_of(outer_net)  # type: ignore[arg-type]  # same version checked above
