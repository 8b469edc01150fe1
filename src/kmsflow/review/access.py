"""Who may do what with each key: the access facts of one key, from its key policy and every identity policy of
the assembly that reaches it, answered by the one policy evaluator (:func:`kmsflow.policy.evaluate.evaluate`)
in its symbolic mode.

For each key the candidates are the principals its key policy names (``*`` is :data:`ANYONE`), and, for every
account the key policy names by its root (a delegation to that account's IAM policies), the roles and users of
that account in the assembly whose identity policies have an Allow statement whose resources reach the key (its
ARN, resolved through ``Fn::GetAtt``/``Ref``/imports/cross-region references, or a wildcard that matches it).
Each candidate is asked about every key action that applies to the key
(:func:`~kmsflow.review.actions.applicable_actions`); actions that match exactly the same statements (of those
that can concern the candidate) get the same answer, so one question per such group is asked.

A principal the assembly does not define (an account root, a role from elsewhere, a service, ``*``) is
answered from the key policy alone: what its own IAM policies add or deny is unknown offline, and the
reviewer is told so (:mod:`kmsflow.review.unknowns`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kmsflow.policy.assembly import Assembly
from kmsflow.policy.conditions import condition_pairs, wildcard_match
from kmsflow.policy.document import as_list, flatten, root_account, statements
from kmsflow.policy.evaluate import action_matches, evaluate, names_principal
from kmsflow.policy.model import ANYONE, Decision, Match, Policy, Principal, PrincipalKind, Request
from kmsflow.review.actions import KEY_ACTIONS, action_order
from kmsflow.review.model import AccessFact, Condition, GrantCreator, Source, Via

_WILDCARDS = ("*", "?")


@dataclass(frozen=True)
class _Candidate:
    """A principal to ask about, with the identity policies that count for it (none when it is not defined in
    the assembly) and the account its request is evaluated as coming from (None: answered by the key policy
    alone)."""

    principal: Principal
    identity_policies: tuple[Policy, ...]
    resource_account: str | None


class IdentityIndex:
    """The assembly's roles and users and which key ARNs their identity policies reach, built once per
    assembly: exact resource ARNs in a dictionary, wildcard resources in a list tested per key."""

    def __init__(self, assembly: Assembly) -> None:
        self._assembly = assembly
        self._exact: dict[str, set[str]] = {}
        self._patterns: list[tuple[str, str]] = []  # (resource pattern, identity ARN)
        self._everywhere: set[str] = set()  # identities with a NotResource statement: decided per key
        self._matrices: dict[int, tuple[Policy, tuple[dict[str, bool], ...]]] = {}
        self._rows: dict[tuple[str, tuple[str, ...]], dict[str, bool]] = {}
        for arn in assembly.identities():
            for policy in assembly.identity_policies(arn):
                self._index(arn, policy)

    def action_matrix(self, policy: Policy) -> tuple[dict[str, bool], ...]:
        """One row per statement of ``policy``: key action -> whether the statement's ``Action``/``NotAction``
        covers it. An identity policy is asked about for every key it reaches: its actions are matched once.
        (Keyed by identity; the policy is kept with its rows so that its id cannot be reused meanwhile.)"""
        cached = self._matrices.get(id(policy))
        if cached is None or cached[0] is not policy:
            rows = tuple(self._row(statement) for _, statement in statements(policy.document))
            cached = self._matrices[id(policy)] = (policy, rows)
        return cached[1]

    def _row(self, statement: Mapping[str, Any]) -> dict[str, bool]:
        """The actions a statement covers, shared by every statement with the same ``Action``/``NotAction``
        (key policies repeat the same administrator and user lists key after key)."""
        element = "NotAction" if "NotAction" in statement else "Action"
        written = (element, tuple(str(flatten(action)) for action in as_list(statement.get(element))))
        row = self._rows.get(written)
        if row is None:
            row = self._rows[written] = {action: action_matches(statement, action) for action in KEY_ACTIONS}
        return row

    @cached_property
    def arns(self) -> frozenset[str]:
        return frozenset(self._assembly.identities())

    def reaching(self, key_arn: str, accounts: Iterable[str]) -> list[str]:
        """The identities of ``accounts`` with an Allow statement that could name ``key_arn``, sorted."""
        wanted = set(accounts)
        found = set(self._exact.get(key_arn, ())) | self._everywhere
        found.update(arn for pattern, arn in self._patterns if wildcard_match(key_arn, pattern))
        return sorted(arn for arn in found if _account(arn) in wanted)

    def _index(self, arn: str, policy: Policy) -> None:
        for _, statement in statements(policy.document):
            if statement.get("Effect") != "Allow" or not _may_name_kms(statement):
                continue
            if "NotResource" in statement:
                self._everywhere.add(arn)
            for resource in as_list(statement.get("Resource")):
                text = str(flatten(resource))
                if any(mark in text for mark in _WILDCARDS):
                    self._patterns.append((text, arn))
                else:
                    self._exact.setdefault(text, set()).add(arn)


def _may_name_kms(statement: Mapping[str, Any]) -> bool:
    """Whether a statement's actions could include a KMS action (``kms:...``, ``*``, a ``NotAction``)."""
    if "NotAction" in statement:
        return True
    return any(
        action_matches({"Action": action}, "kms:Decrypt") or str(action).lower().startswith("kms:")
        for action in as_list(statement.get("Action"))
    )


@dataclass(frozen=True, kw_only=True)
class KeyAccess:
    """One key's facts and grant creators (both sorted), and the principals outside the assembly that its key
    policy names (their own IAM policies cannot be read)."""

    facts: tuple[AccessFact, ...]
    grant_creators: tuple[GrantCreator, ...]
    outside: tuple[str, ...]


def key_access(
    assembly: Assembly,
    index: IdentityIndex,
    key_arn: str,
    key_policy: Policy,
    *,
    account: str,
    actions: Collection[str] = tuple(KEY_ACTIONS),
) -> KeyAccess:
    """Every access fact of the key ``key_arn`` (owned by ``account``, governed by ``key_policy``) for the
    ``actions`` that apply to it (:func:`~kmsflow.review.actions.applicable_actions`)."""
    candidates = list(_candidates(assembly, index, key_arn, key_policy, account))
    asked = [action for action in KEY_ACTIONS if action in actions]
    facts: dict[tuple[Any, ...], AccessFact] = {}
    for candidate in candidates:
        for fact in _facts(index, candidate, key_arn, key_policy, asked):
            facts.setdefault(_fact_key(fact), fact)
    ordered = tuple(sorted(facts.values(), key=_fact_sort))
    outside = tuple(
        sorted(
            {
                c.principal.arn
                for c in candidates
                if c.resource_account is None and c.principal.kind is PrincipalKind.AWS
            }
            - {"*"}
        )
    )
    return KeyAccess(facts=ordered, grant_creators=grant_creators(ordered), outside=outside)


def _candidates(
    assembly: Assembly, index: IdentityIndex, key_arn: str, key_policy: Policy, account: str
) -> Iterator[_Candidate]:
    seen: set[str] = set()
    delegated: set[str] = set()
    for principal in _named_principals(key_policy):
        if principal.arn in seen:
            continue
        seen.add(principal.arn)
        root = root_account(principal.arn) if principal.kind is PrincipalKind.AWS else None
        if root is not None:
            delegated.add(root)
        if principal.kind is PrincipalKind.AWS and principal.arn in index.arns:
            yield _Candidate(principal, tuple(assembly.identity_policies(principal.arn)), account)
        else:
            yield _Candidate(principal, (), None)
    for arn in index.reaching(key_arn, delegated):
        if arn not in seen:
            seen.add(arn)
            yield _Candidate(Principal.role(arn), tuple(assembly.identity_policies(arn)), account)


def _named_principals(key_policy: Policy) -> Iterator[Principal]:
    """Every principal an Allow statement of the key policy names, in statement order; ``*`` and any
    ``NotPrincipal`` (everyone but a few) as :data:`ANYONE`."""
    for _, statement in statements(key_policy.document):
        if statement.get("Effect") != "Allow":
            continue
        block = statement.get("Principal")
        if "NotPrincipal" in statement or block == "*":
            yield ANYONE
            continue
        if not isinstance(block, Mapping):
            continue
        for kind, names in block.items():
            for name in as_list(names):
                text = str(flatten(name))
                if kind == PrincipalKind.AWS:
                    yield ANYONE if text == "*" else Principal(arn=text, account=root_account(text) or _account(text))
                elif kind == PrincipalKind.SERVICE:
                    yield Principal.service(text)
                else:
                    yield Principal(arn=text, kind=PrincipalKind(kind) if kind in _KINDS else PrincipalKind.FEDERATED)


_KINDS = {kind.value for kind in PrincipalKind}


def _account(arn: str) -> str | None:
    fields = arn.split(":", 5)
    return fields[4] if len(fields) == 6 and fields[4] else None


def _facts(
    index: IdentityIndex, candidate: _Candidate, key_arn: str, key_policy: Policy, asked: Sequence[str]
) -> Iterator[AccessFact]:
    """Ask about each group of actions that match the same statements; turn each allowing path into a fact."""
    # Only the key-policy statements that name this principal (or its account, or anyone) can matter to it.
    named = [
        row
        for row, (_, statement) in zip(index.action_matrix(key_policy), statements(key_policy.document), strict=True)
        if names_principal(statement, candidate.principal)
    ]
    rows = named + [row for policy in candidate.identity_policies for row in index.action_matrix(policy)]
    groups: dict[tuple[bool, ...], list[str]] = {}
    for action in asked:
        signature = tuple(row[action] for row in rows)
        if any(signature):
            groups.setdefault(signature, []).append(action)
    for actions in groups.values():
        decision = evaluate(
            Request(principal=candidate.principal, action=actions[0], resource=key_arn),
            identity_policies=candidate.identity_policies,
            resource_policy=key_policy,
            resource_account=candidate.resource_account,
            key_policy=True,
            symbolic=True,
        )
        if decision.allowed:
            yield from _path_facts(candidate.principal.arn, actions, decision, key_policy)


def _path_facts(principal: str, actions: Sequence[str], decision: Decision, key_policy: Policy) -> Iterator[AccessFact]:
    """One fact per action and allowing path (the actions of a group share the decision's paths)."""
    unless = tuple(sorted({_source(match, key_policy) for match in decision.unless}))
    for path in decision.paths:
        conditions = tuple(sorted({condition for match in path for condition in statement_conditions(match)}))
        sources = tuple(_source(match, key_policy) for match in path)
        via = Via.IAM if any(source.via is Via.IAM for source in sources) else Via.KEY_POLICY
        for action in actions:
            yield AccessFact(
                principal=principal, action=action, conditions=conditions, via=via, sources=sources, unless=unless
            )


def statement_conditions(match: Match) -> tuple[Condition, ...]:
    """Every condition of the matched statement, those the evaluator decided for this principal included
    (``kms:CallerAccount`` of a named role): a fact shows its conditions in full, never a reduced form."""
    return tuple(
        Condition(operator=operator, key=key, values=tuple(sorted(values)))
        for operator, key, values in condition_pairs(match.ref.statement.get("Condition"))
    )


def _source(match: Match, key_policy: Policy) -> Source:
    via = Via.KEY_POLICY if match.ref.policy is key_policy else Via.IAM
    return Source(policy=match.ref.policy.source, sid=match.ref.sid, via=via)


def _fact_key(fact: AccessFact) -> tuple[Any, ...]:
    return (fact.principal, fact.action, fact.conditions, fact.sources, fact.unless)


def _fact_sort(fact: AccessFact) -> tuple[Any, ...]:
    return (fact.principal, action_order(fact.action), fact.action, fact.conditions, fact.sources, fact.unless)


# --- Grant creators ------------------------------------------------------------------------------------------

_GRANTEE = "kms:granteeprincipal"
_OPERATIONS = "kms:grantoperations"
_FOR_AWS_RESOURCE = "kms:grantisforawsresource"
_RETIRING = "kms:retiringprincipal"


def grant_creators(facts: Sequence[AccessFact]) -> tuple[GrantCreator, ...]:
    """Who may call ``CreateGrant``, for whom and for which operations, read off the ``CreateGrant`` facts'
    conditions (positive operators only: a negated one restricts nothing to a list)."""
    creators = [_creator(fact) for fact in facts if fact.action == "kms:CreateGrant"]
    return tuple(sorted(creators))


def _creator(fact: AccessFact) -> GrantCreator:
    def values(key: str) -> tuple[str, ...]:
        found = [v for c in fact.conditions if c.key.lower() == key and not _negated(c.operator) for v in c.values]
        return tuple(sorted(set(found)))

    for_aws = any(
        c.key.lower() == _FOR_AWS_RESOURCE and c.operator.startswith("Bool") and c.values == ("true",)
        for c in fact.conditions
    )
    return GrantCreator(
        principal=fact.principal,
        grantees=values(_GRANTEE),
        operations=values(_OPERATIONS),
        for_aws_resource=for_aws,
        retiring_principals=values(_RETIRING),
        conditions=fact.conditions,
        via=fact.via,
        sources=fact.sources,
    )


def _negated(operator: str) -> bool:
    base = operator.rpartition(":")[2]
    return "Not" in base or base == "Null"
