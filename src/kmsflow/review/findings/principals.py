"""Who a principal is, as the rules need it: the key's own account root or not, and its account."""

from __future__ import annotations

import re

from kmsflow.policy.document import Statement, is_own_root, principal_values, root_account
from kmsflow.policy.roles import ROLE_SIDS, Role
from kmsflow.review.findings import FindingContext
from kmsflow.review.model import Via

_ADMINISTRATORS_SID = ROLE_SIDS[Role.ADMINISTRATORS]

_ACCOUNT = re.compile(r"^\d{12}$")
#: How principal_values marks principals that are not AWS ones; the review names them without it.
_KIND_PREFIXES = ("Service:", "Federated:", "CanonicalUser:")


def statement_principals(statement: Statement) -> list[str]:
    """A statement's principals as the review names them: ARNs, ``*``, service names
    (``logs.eu-west-1.amazonaws.com``)."""
    found = []
    for value in principal_values(statement):
        kind = next((prefix for prefix in _KIND_PREFIXES if value.startswith(prefix)), "")
        found.append(value.removeprefix(kind))
    return found


def own_root(ctx: FindingContext, principal: str) -> bool:
    """Whether ``principal`` is the root of the key's own account (it delegates to IAM; not a finding)."""
    return is_own_root(principal, ctx.account)


def account_of(ctx: FindingContext, principal: str) -> str | None:
    """A principal's account: from the review's principals, an account root, or an IAM/STS ARN; None for a
    service, ``*`` or anything unreadable."""
    info = ctx.principals.get(principal)
    if info is not None:
        return info.account
    root = root_account(principal)
    if root is not None:
        return root
    fields = principal.split(":", 5)
    if len(fields) == 6 and fields[2] in ("iam", "sts") and _ACCOUNT.match(fields[4]):
        return fields[4]
    return None


def administrators(ctx: FindingContext) -> frozenset[str]:
    """The principals this key's policy names in its administrators' statement (kmsflow's ``KeyAdministrators``
    Sid): an administrator of another key is not one of this key."""
    return frozenset(
        fact.principal
        for fact in ctx.facts
        if fact.via is Via.KEY_POLICY and any(source.sid == _ADMINISTRATORS_SID for source in fact.sources)
    )
