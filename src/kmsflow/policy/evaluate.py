"""Whether AWS would allow one request, from the identity policies of its principal and the policy of its
resource, as the IAM User Guide ("Policy evaluation logic", "Cross-account policy evaluation logic") and the
KMS Developer Guide ("Key policies", "Default key policy", "Allowing users in other accounts to use a KMS key")
describe it.

The order of the answer:

1. any matching ``Deny`` in any given policy is an explicit deny (a Deny naming an account root applies to
   every principal of that account);
2. a principal that is not an IAM principal (a service, a federated user) has no identity policies: only the
   resource policy can allow it, by naming it (or ``*``);
3. an IAM principal in the resource's account is allowed by a resource-policy statement that names it (its
   ARN, or ``*``), or by its identity policies, or by both a resource-policy statement naming its account
   root (a *delegation* to the account's IAM policies) and its identity policies. KMS key policies and IAM
   role trust policies (``sts:AssumeRole*``) are the documented exceptions: they must allow (directly, or by
   delegation answered by an identity policy); identity policies alone never suffice;
4. across accounts, the resource policy (naming the principal or its account root) *and* the identity
   policies must both allow.

A *symbolic* evaluation (``symbolic=True``) asks about any request of the principal: conditions on keys the
request context does not hold are left open instead of failing, an Allow applies with its open conditions
(``Decision.paths``), and a Deny with open conditions does not deny but is listed (``Decision.unless``). The
review uses it to list who may do what, and under which conditions. :data:`~kmsflow.policy.model.ANYONE` (what
``"Principal": "*"`` reaches) is answered from the resource policy alone, with no implied context keys.

Not modelled: service control and resource control policies, permissions boundaries, session policies, KMS
grants, S3 ACLs, the account root user's implicit access. Policy variables (``${aws:username}``) are not
substituted. The principal of a request may be an assumed-role session
(``arn:aws:sts::111111111111:assumed-role/Name/session``): it is matched by a policy naming the session or
its role (``arn:aws:iam::111111111111:role/Name``, any path). ``NotPrincipal`` excludes only the principals it
names directly: as AWS warns, naming an account root there does not exclude the account's roles and users.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from kmsflow.errors import KmsflowError
from kmsflow.policy.conditions import (
    ConditionError,
    Context,
    any_wildcard_match,
    conditions_hold,
    normalise_context,
    pending_conditions,
)
from kmsflow.policy.document import Statement, as_list, flatten, root_account, statements
from kmsflow.policy.model import Decision, Match, Outcome, Policy, Principal, PrincipalKind, Request, StatementRef

#: Actions whose resource policy is the role's trust policy, which must allow the caller (IAM User Guide,
#: "Policy evaluation logic": "IAM role trust policies and KMS key policies are exceptions").
_ASSUME_ROLE = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"})

_SESSION_ARN = re.compile(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/[^/]+$")
_ROLE_ARN = re.compile(r"^arn:([^:]+):iam::(\d{12}):role/(?:.*/)?([^/]+)$")


class PolicyEvaluationError(KmsflowError):
    """A policy the evaluator cannot read (an unknown condition operator, a malformed condition value); the
    message names the statement."""


class _Reach(Enum):
    """How a resource-policy statement's principal covers the requesting principal."""

    NONE = "none"
    ACCOUNT = "account"  # names the root of the principal's account: a delegation to its IAM policies
    DIRECT = "direct"  # names the principal itself, its role, its service, or "*"


@dataclass(frozen=True)
class _Allows:
    """The matching Allow statements, by the part they can play in the decision."""

    direct: tuple[Match, ...]  # resource policy naming the principal
    delegated: tuple[Match, ...]  # resource policy naming the principal's account root
    identity: tuple[Match, ...]  # the principal's identity policies


def evaluate(
    request: Request,
    *,
    identity_policies: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    resource_account: str | None = None,
    key_policy: bool = False,
    symbolic: bool = False,
) -> Decision:
    """Decide ``request`` as AWS would from the given policies (see the module docstring for the rules).

    ``resource_account`` tells a same-account from a cross-account request; ``None`` means the principal's own
    account. ``key_policy`` says that ``resource_policy`` is a KMS key policy. ``symbolic`` leaves conditions
    on keys absent from the context open (see the module docstring). Raises :class:`PolicyEvaluationError` for
    a condition it cannot evaluate."""
    context = _context(request)
    identity = [
        match
        for policy in identity_policies
        for match, _ in _matching(policy, request, context, attached=True, symbolic=symbolic)
    ]
    resource = (
        []
        if resource_policy is None
        else list(_matching(resource_policy, request, context, attached=False, symbolic=symbolic))
    )
    denies = [match for match in identity + [match for match, _ in resource] if _effect(match.ref) == "Deny"]
    denying = [match.ref for match in denies if not match.pending]
    if denying:
        return _explicit_deny(request, denying)
    allows = _Allows(
        direct=tuple(m for m, reach in resource if reach is _Reach.DIRECT and _effect(m.ref) == "Allow"),
        delegated=tuple(m for m, reach in resource if reach is _Reach.ACCOUNT and _effect(m.ref) == "Allow"),
        identity=tuple(m for m in identity if _effect(m.ref) == "Allow"),
    )
    decision = _decide(request, allows, resource_policy, resource_account, key_policy=key_policy)
    unless = tuple(match for match in denies if match.pending)
    return replace(decision, unless=unless) if unless and decision.allowed else decision


def _decide(
    request: Request, allows: _Allows, resource_policy: Policy | None, resource_account: str | None, *, key_policy: bool
) -> Decision:
    if request.principal.kind is not PrincipalKind.AWS or request.principal.anyone:
        return _resource_only(request, allows, resource_policy)
    account = _account(request.principal)
    if resource_account is not None and resource_account != account:
        return _cross_account(request, allows, resource_policy, resource_account)
    strict = key_policy or request.action.lower() in _ASSUME_ROLE
    return _same_account(request, allows, resource_policy, key_policy=key_policy, strict=strict)


# --- request context -------------------------------------------------------------------------------------


def _context(request: Request) -> dict[str, tuple[str, ...]]:
    """The request context with the keys AWS sets on every request added where the caller did not give them."""
    context = normalise_context(request.context)
    for key, value in _implied_keys(request).items():
        context.setdefault(key.lower(), (value,))
    return context


def _implied_keys(request: Request) -> dict[str, str]:
    principal = request.principal
    if principal.anyone:
        return {}  # nothing is known about "any principal"
    if principal.kind is PrincipalKind.SERVICE:
        return {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": principal.arn}
    keys = {"aws:PrincipalIsAWSService": "false"}
    account = _account(principal)
    if principal.kind is PrincipalKind.AWS:
        keys["aws:PrincipalArn"] = principal.arn
    if account is not None:
        keys["aws:PrincipalAccount"] = account
        if principal.kind is PrincipalKind.AWS and request.action.lower().startswith("kms:"):
            keys["kms:CallerAccount"] = account
    return keys


def _account(principal: Principal) -> str | None:
    """The principal's account: as given, else read from its ARN (``arn:aws:iam::<account>:...``)."""
    if principal.account is not None or principal.kind is not PrincipalKind.AWS:
        return principal.account
    parts = principal.arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


# --- statement matching ----------------------------------------------------------------------------------


def _matching(
    policy: Policy, request: Request, context: Context, *, attached: bool, symbolic: bool
) -> Iterator[tuple[Match, _Reach]]:
    """Every statement of ``policy`` that applies to the request, with how it reaches the principal. An
    identity policy (``attached`` to the principal) reaches it directly and must name its resources; a
    resource-policy statement reaches whom its ``Principal``/``NotPrincipal`` names, and one without
    ``Resource``/``NotResource`` (a trust policy's) covers its resource."""
    for index, statement in statements(policy.document):
        if not action_matches(statement, request.action):  # first: most statements are about other actions
            continue
        reach = _Reach.DIRECT if attached else _principal_reach(statement, request.principal)
        if reach is _Reach.NONE:
            continue
        if not _resource_matches(statement, request.resource, implied=not attached):
            continue
        ref = StatementRef(policy=policy, index=index)
        if not symbolic:
            if _conditions_hold(statement, context, ref):
                yield Match(ref=ref), reach
            continue
        pending = _pending(statement, context, ref)
        if pending is not None:
            yield Match(ref=ref, pending=pending), reach


def _effect(ref: StatementRef) -> str:
    return str(ref.statement.get("Effect", ""))


def action_matches(statement: Statement, action: str) -> bool:
    """``Action``/``NotAction``, case-insensitive, with wildcards."""
    if "NotAction" in statement:
        return not _any_wildcard(action, statement["NotAction"], ignore_case=True)
    return _any_wildcard(action, statement.get("Action"), ignore_case=True)


def _resource_matches(statement: Statement, resource: str, *, implied: bool) -> bool:
    """``Resource``/``NotResource``, case-sensitive, with wildcards; neither matches when the resource is
    ``implied`` (the policy is attached to it)."""
    if "NotResource" in statement:
        return not _any_wildcard(resource, statement["NotResource"])
    if "Resource" not in statement:
        return implied
    return _any_wildcard(resource, statement["Resource"])


def _any_wildcard(value: str, patterns: Any, *, ignore_case: bool = False) -> bool:
    texts = tuple(str(flatten(pattern)) for pattern in as_list(patterns))
    return any_wildcard_match(value, texts, ignore_case=ignore_case)


def _conditions_hold(statement: Statement, context: Context, ref: StatementRef) -> bool:
    try:
        return conditions_hold(statement.get("Condition"), context)
    except ConditionError as err:
        raise PolicyEvaluationError(f"{ref}: {err}") from err


def _pending(
    statement: Statement, context: Context, ref: StatementRef
) -> tuple[tuple[str, str, tuple[str, ...]], ...] | None:
    try:
        return pending_conditions(statement.get("Condition"), context)
    except ConditionError as err:
        raise PolicyEvaluationError(f"{ref}: {err}") from err


def names_principal(statement: Statement, principal: Principal) -> bool:
    """Whether a resource-policy statement's ``Principal``/``NotPrincipal`` covers ``principal`` (itself, its
    role, its service, its account root or ``*``): the statements that can matter for its requests."""
    return _principal_reach(statement, principal) is not _Reach.NONE


def _principal_reach(statement: Statement, principal: Principal) -> _Reach:
    if "NotPrincipal" in statement:
        return _Reach.NONE if _block_reach(statement["NotPrincipal"], principal) is _Reach.DIRECT else _Reach.DIRECT
    return _block_reach(statement.get("Principal"), principal)


def _block_reach(block: Any, principal: Principal) -> _Reach:
    """The best reach of a ``Principal`` value (absent: none): ``"*"``, or a map from principal kind to one or
    more names."""
    if block == "*":
        return _Reach.DIRECT
    if not isinstance(block, Mapping):
        return _Reach.NONE
    best = _Reach.NONE
    for kind, names in block.items():
        for name in as_list(names):
            reach = _name_reach(str(kind), str(flatten(name)), principal)
            if reach is _Reach.DIRECT:
                return reach
            if reach is _Reach.ACCOUNT:
                best = reach
    return best


def _name_reach(kind: str, name: str, principal: Principal) -> _Reach:
    if kind == PrincipalKind.AWS and name == "*":
        return _Reach.DIRECT  # {"AWS": "*"} is everyone, services included
    if kind != principal.kind:
        return _Reach.NONE
    if kind == PrincipalKind.SERVICE:
        return _Reach.DIRECT if name.lower() == principal.arn.lower() else _Reach.NONE
    if kind != PrincipalKind.AWS:
        return _Reach.DIRECT if name == principal.arn else _Reach.NONE
    if _names_aws_principal(name, principal.arn):
        return _Reach.DIRECT
    account = root_account(name)
    return _Reach.ACCOUNT if account is not None and account == _account(principal) else _Reach.NONE


def _names_aws_principal(name: str, arn: str) -> bool:
    """``name`` is the principal's ARN, or the requester is a session of the role ``name``."""
    if name == arn:
        return True
    session = _SESSION_ARN.match(arn)
    role = _ROLE_ARN.match(name)
    return session is not None and role is not None and session.groups() == role.groups()


# --- decisions -------------------------------------------------------------------------------------------


def _explicit_deny(request: Request, denying: list[StatementRef]) -> Decision:
    return Decision(
        outcome=Outcome.EXPLICIT_DENY,
        reason=f"explicit deny: {_what(request)} is denied by {_refs(denying)}",
        denying=tuple(denying),
    )


def _resource_only(request: Request, allows: _Allows, resource_policy: Policy | None) -> Decision:
    """A service (or federated) principal: identity policies do not exist for it."""
    who = "any principal" if request.principal.anyone else f"{request.principal.kind.value.lower()} principal"
    who = who if request.principal.anyone else f"{who} {request.principal.arn}"
    if allows.direct:
        paths = tuple((match,) for match in allows.direct)
        return _allowed(paths, f"{_refs(allows.direct)} allows {request.action} for {who}")
    if resource_policy is None:
        return _implicit(f"{who} can be allowed only by a resource policy, and none was given")
    return _implicit(f"{resource_policy.source} has no statement allowing {request.action} for {who}")


def _cross_account(request: Request, allows: _Allows, resource_policy: Policy | None, owner: str) -> Decision:
    """Across accounts both sides must allow: the resource policy (naming the principal or its account) and
    the principal's identity policies."""
    granting = allows.direct + allows.delegated
    where = f"cross-account request from account {_account(request.principal)} to account {owner}"
    if granting and allows.identity:
        return _allowed(
            tuple((grant, own) for grant in granting for own in allows.identity),
            f"{where}: {_refs(granting)} allows {request.principal.arn} and {_refs(allows.identity)} allows "
            f"{request.action} on {request.resource}",
        )
    if granting:
        return _implicit(
            f"{where}: {_refs(granting)} allows {request.principal.arn}, but no identity policy of the principal "
            f"allows {request.action} on {request.resource}"
        )
    if resource_policy is None:
        return _implicit(
            f"{where}: no resource policy was given, and identity policies alone never grant access to another "
            "account's resource"
        )
    return _implicit(
        f"{where}: {resource_policy.source} does not allow {_what(request)} (identity policies alone never grant "
        "access to another account's resource)"
    )


def _same_account(
    request: Request, allows: _Allows, resource_policy: Policy | None, *, key_policy: bool, strict: bool
) -> Decision:
    """Within one account: a resource policy naming the principal suffices; so do identity policies, unless the
    resource policy is a key policy or trust policy (``strict``), where they count only through a delegation."""
    paths: list[tuple[Match, ...]] = [(match,) for match in allows.direct]
    paths += [(grant, own) for grant in allows.delegated for own in allows.identity]
    if not strict and not allows.delegated:  # elsewhere identity policies suffice alone
        paths += [(own,) for own in allows.identity]
    if paths:
        return _allowed(tuple(paths), _allowed_reason(request, allows))
    if allows.delegated:
        return _implicit(
            f"{_refs(allows.delegated)} delegates {request.action} to account {_account(request.principal)}, but "
            f"no identity policy of {request.principal.arn} allows it on {request.resource}"
        )
    if strict:
        return _implicit(_strict_missing(request, resource_policy, key_policy=key_policy))
    extra = f" and no statement of {resource_policy.source}" if resource_policy is not None else ""
    return _implicit(f"no identity policy{extra} allows {_what(request)}")


def _allowed_reason(request: Request, allows: _Allows) -> str:
    """The first way the request is allowed: directly, by delegation, or (outside key and trust policies) by
    identity policies alone."""
    if allows.direct:
        return f"{_refs(allows.direct)} allows {_what(request)} directly"
    if allows.delegated and allows.identity:
        return (
            f"{_refs(allows.delegated)} delegates {request.action} to account {_account(request.principal)} and "
            f"{_refs(allows.identity)} allows it on {request.resource}"
        )
    return f"{_refs(allows.identity)} allows {request.action} on {request.resource}"


def _strict_missing(request: Request, resource_policy: Policy | None, *, key_policy: bool) -> str:
    """Why a key or trust policy did not allow: IAM policies alone never suffice there."""
    if key_policy:
        if resource_policy is None:
            return "no key policy was given, and IAM policies alone never allow access to a KMS key"
        return (
            f"{resource_policy.source} has no statement allowing {request.action} for {request.principal.arn} "
            "(IAM policies count only where the key policy delegates to the account)"
        )
    if resource_policy is None:
        return f"no trust policy was given, and a role can be assumed only if its trust policy allows {_what(request)}"
    return (
        f"{resource_policy.source} (the role's trust policy) has no statement allowing {request.action} for "
        f"{request.principal.arn} (IAM policies count only where the trust policy delegates to the account)"
    )


def _allowed(paths: tuple[tuple[Match, ...], ...], reason: str) -> Decision:
    """Allowed by ``paths``; ``allowing`` lists each statement of them once, in order."""
    seen: dict[tuple[int, int], StatementRef] = {}
    for match in (match for path in paths for match in path):
        seen.setdefault((id(match.ref.policy), match.ref.index), match.ref)
    allowing = tuple(seen.values())
    return Decision(outcome=Outcome.ALLOWED, reason=f"allowed: {reason}", allowing=allowing, paths=paths)


def _implicit(reason: str) -> Decision:
    return Decision(outcome=Outcome.IMPLICIT_DENY, reason=f"implicit deny: {reason}")


def _what(request: Request) -> str:
    return f"{request.action} on {request.resource} for {request.principal.arn}"


def _refs(refs: Sequence[StatementRef | Match]) -> str:
    return ", ".join(str(ref.ref if isinstance(ref, Match) else ref) for ref in refs)
