"""A key's access facts arranged for reading: rows of one principal under one set of conditions with all their
actions (the Markdown access table), and the principal x action-group matrix (the HTML page).

A fact is one (principal, action, conditions) triple; a key has dozens. Grouping never merges facts whose
conditions, statements or ``unless`` differ, so no condition is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from kmsflow.review.actions import action_order
from kmsflow.review.model import AccessFact, Condition, Review, Source, Unknown, Via
from kmsflow.review.render.words import conditions_words

#: The matrix's columns, in order: a name and the actions it covers (an action of no group is "Administration").
ACTION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Encrypt", ("kms:Encrypt",)),
    ("Decrypt", ("kms:Decrypt",)),
    (
        "GenerateDataKey*",
        (
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:GenerateDataKeyPair",
            "kms:GenerateDataKeyPairWithoutPlaintext",
        ),
    ),
    ("ReEncrypt*", ("kms:ReEncryptFrom", "kms:ReEncryptTo")),
    ("Sign", ("kms:Sign",)),
    ("Verify", ("kms:Verify",)),
    ("GenerateMac", ("kms:GenerateMac",)),
    ("VerifyMac", ("kms:VerifyMac",)),
    ("DeriveSharedSecret", ("kms:DeriveSharedSecret",)),
    ("GetPublicKey", ("kms:GetPublicKey",)),
    ("DescribeKey", ("kms:DescribeKey",)),
    ("CreateGrant", ("kms:CreateGrant",)),
    ("PutKeyPolicy", ("kms:PutKeyPolicy",)),
    (
        "Read metadata",
        (
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListKeyRotations",
            "kms:ListKeyPolicies",
            "kms:ListResourceTags",
            "kms:ListGrants",
        ),
    ),
    ("Administration", ()),
)
_FALLBACK_GROUP = "Administration"
_GROUP_OF = {action.lower(): name for name, actions in ACTION_GROUPS for action in actions}
_GROUP_INDEX = {name: index for index, (name, _) in enumerate(ACTION_GROUPS)}


def group_of(action: str) -> str:
    """The matrix column of an action (IAM action names are case-insensitive)."""
    return _GROUP_OF.get(action.lower(), _FALLBACK_GROUP)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccessRow:
    """Facts of one principal that share conditions, statements and ``unless``: one row, many actions."""

    principal: str
    actions: tuple[str, ...]
    conditions: tuple[Condition, ...]
    via: Via
    sources: tuple[Source, ...]
    unless: tuple[Source, ...]


def access_rows(facts: Iterable[AccessFact]) -> list[AccessRow]:
    """Rows by principal, then by the first action of each row in the report's action order."""
    grouped: dict[_RowKey, list[str]] = {}
    for fact in facts:
        grouped.setdefault(_row_key(fact), []).append(fact.action)
    rows = [
        AccessRow(
            principal=principal,
            actions=tuple(sorted(set(actions), key=lambda a: (action_order(a), a))),
            conditions=conditions,
            via=via,
            sources=sources,
            unless=unless,
        )
        for (principal, conditions, via, sources, unless), actions in grouped.items()
    ]
    return sorted(rows, key=lambda r: (r.principal, action_order(r.actions[0]), r.actions, _row_sort(r)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cell:
    """One matrix cell: ``allowed`` (some action of the group, unconditionally), ``conditional`` (only under
    conditions or an undecided Deny) or empty; ``detail`` says which actions and under what, one line each."""

    state: str
    detail: tuple[str, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Matrix:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]  # (principal, a cell per column)


def matrix(facts: Iterable[AccessFact]) -> Matrix:
    """Principals x the action groups that occur among the facts (in :data:`ACTION_GROUPS` order)."""
    by_cell: dict[tuple[str, str], list[AccessFact]] = {}
    for fact in facts:
        by_cell.setdefault((fact.principal, group_of(fact.action)), []).append(fact)
    columns = tuple(sorted({group for _, group in by_cell}, key=_GROUP_INDEX.__getitem__))
    principals = sorted({principal for principal, _ in by_cell})
    rows = tuple(
        (principal, tuple(_cell(by_cell.get((principal, column), [])) for column in columns))
        for principal in principals
    )
    return Matrix(columns=columns, rows=rows)


def _cell(facts: list[AccessFact]) -> Cell:
    if not facts:
        return Cell(state="", detail=())
    ordered = sorted(facts, key=lambda f: (action_order(f.action), f.action, f.conditions, f.sources))
    unconditional = any(not fact.conditions and not fact.unless for fact in ordered)
    detail = tuple(_fact_line(fact) for fact in ordered)
    return Cell(state="allowed" if unconditional else "conditional", detail=detail)


def unknowns_by_key(review: Review) -> tuple[dict[str, list[Unknown]], list[Unknown]]:
    """The unknowns about one key (those whose ``where`` is the key, ``<stack>/<logical id>``, or its policy), by
    key id, and the others, each in the review's order."""
    by_key: dict[str, list[Unknown]] = {}
    others: list[Unknown] = []
    prefixes = {f"{entry.key.stack}/{entry.key.logical_id}": entry.key.id for entry in review.keys}
    for unknown in review.unknowns:
        resource = unknown.where.split(" ", 1)[0]
        if resource in prefixes:
            by_key.setdefault(prefixes[resource], []).append(unknown)
        else:
            others.append(unknown)
    return by_key, others


def _fact_line(fact: AccessFact) -> str:
    line = fact.action
    if fact.conditions:
        line += " when " + conditions_words(fact.conditions)
    for deny in fact.unless:
        line += f" unless {deny.policy} ({deny.sid}) applies"
    return line


_RowKey = tuple[str, tuple[Condition, ...], Via, tuple[Source, ...], tuple[Source, ...]]


def _row_key(fact: AccessFact) -> _RowKey:
    return (fact.principal, fact.conditions, fact.via, fact.sources, fact.unless)


def _row_sort(row: AccessRow) -> tuple[object, ...]:
    return (row.conditions, row.via.value, row.sources, row.unless)
