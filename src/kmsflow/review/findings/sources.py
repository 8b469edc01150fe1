"""Which statement a finding names: a key-policy statement by its Sid (or ``#<index>``), and, among a fact's
sources, the one that matters for the rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kmsflow.policy.document import Statement, sid, statements
from kmsflow.review.findings import FindingContext
from kmsflow.review.findings.principals import statement_principals
from kmsflow.review.model import Source, Via


def allow_statements(ctx: FindingContext) -> Iterator[tuple[int, Statement]]:
    """The key policy's Allow statements with their index (anything that is not a statement is skipped)."""
    policy: Any = ctx.policy
    if not isinstance(policy, Mapping):
        return
    raw = policy.get("Statement")
    if not isinstance(raw, Mapping | list):
        return
    for index, statement in statements(policy):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            yield index, statement


def statement_source(ctx: FindingContext, statement: Statement, index: int) -> Source:
    """The key-policy statement as a finding's source (the same Sid the access facts use)."""
    return Source(policy=ctx.policy_source, sid=sid(statement, index), via=Via.KEY_POLICY)


def granting_source(ctx: FindingContext, principal: str, sources: Iterable[Source]) -> Source | None:
    """The statement that names the principal: the identity policy's for a fact that comes through IAM, else a
    key-policy statement that lists the principal itself rather than ``*`` (when several allow the same)."""
    ordered = sorted(sources)
    if any(source.via is Via.IAM for source in ordered):
        return _first(ordered, Via.IAM)
    naming = _sids_naming(ctx, principal)
    return next((source for source in ordered if source.sid in naming), ordered[0] if ordered else None)


def key_policy_source(sources: Iterable[Source]) -> Source | None:
    """The key-policy statement of a fact (for a fact through IAM: the one that delegates to the account)."""
    return _first(sources, Via.KEY_POLICY)


def _sids_naming(ctx: FindingContext, principal: str) -> set[str]:
    """The Sids (or ``#<index>``) of the key policy's Allow statements that list ``principal`` by name."""
    return {
        sid(statement, index)
        for index, statement in allow_statements(ctx)
        if principal in statement_principals(statement)
    }


def _first(sources: Iterable[Source], preferred: Via) -> Source | None:
    ordered = sorted(sources)
    return next((source for source in ordered if source.via is preferred), ordered[0] if ordered else None)
