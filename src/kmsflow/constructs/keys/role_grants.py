"""Grants on a kmsflow key to a role of another stack, possibly of another region: in the key policy and in the
role's IAM policy, without the key's stack referring to the role's.

aws-cdk's ``Key.grant`` names the grantee itself in the key policy. KMS refuses a policy whose principal does
not exist yet (``MalformedPolicyDocumentException``), and a workflow role is created by a stack that deploys
after the keys; across regions it also falls back to ``Resource: *`` on the IAM side. Here the key policy
names the role's *account* with the condition ``aws:PrincipalArn`` = the role's ARN: a condition needs nothing
to exist, still matches after the role is re-created (a named principal would have turned into a stale unique
id), and with an account principal KMS also requires the role's own IAM policy, which names the key's ARN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from kmsflow.errors import KeyPolicyError


class _GrantableKey(Protocol):
    @property
    def key(self) -> kms.IKey: ...

    @property
    def key_arn(self) -> str: ...


def fixed_role_name(role: iam.Role) -> str | None:
    """The ``role_name`` ``role`` was created with, if it was given as a literal."""
    cfn = role.node.default_child
    name = cfn.role_name if isinstance(cfn, iam.CfnRole) else None
    return None if name is None or Token.is_unresolved(name) else name


def role_arn(role: iam.Role, key_scope: Construct | None = None) -> str:
    """The ARN of ``role``: its own (a token) when it is in the stack of ``key_scope``, else a literal string from
    its account and its fixed name, so that a key of another stack names it without a cross-stack reference."""
    stack = Stack.of(role)
    if key_scope is not None and Stack.of(key_scope) is stack:
        return role.role_arn
    name = fixed_role_name(role)
    if name is None or Token.is_unresolved(stack.account):
        where = f" ({Stack.of(key_scope).stack_name})" if key_scope is not None else ""
        raise KeyPolicyError(
            f"{role.node.path}: a role granted on a key of another stack{where} needs a fixed role_name "
            f"and a stack with an explicit account, so that the key policy can name it without a cross-stack "
            f"reference; give the role a role_name, or grant it in the key's stack"
        )
    return f"arn:{stack.partition}:iam::{stack.account}:role/{name}"


def statement_id(purpose: str, role_name: str) -> str:
    """``ServiceUse`` and role ``kmsflow-snapshot-copy-eu-west-1-start-copy`` give
    ``ServiceUseKmsflowSnapshotCopyEuWest1StartCopy`` (Sids allow letters and digits only; the role name makes
    them unique and readable)."""
    return purpose + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", role_name) if part)


def grant_to_role(
    target: _GrantableKey,
    role: iam.Role,
    *,
    purpose: str,
    actions: Sequence[str],
    conditions: Mapping[str, Mapping[str, Any]],
) -> None:
    """Allow ``actions`` under ``conditions``: in the key policy for ``role``'s ARN (if this app manages the
    key's policy) and in ``role``'s policy on the key's ARN."""
    scope = target if isinstance(target, Construct) else None
    arn = role_arn(role, scope)
    sid = statement_id(purpose, fixed_role_name(role) or role.node.id)
    document: iam.PolicyDocument | None = getattr(target, "policy_document", None)
    if document is not None:
        document.add_statements(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.AccountPrincipal(Stack.of(role).account)],
                actions=list(actions),
                resources=["*"],
                conditions={**conditions, "ArnEquals": {"aws:PrincipalArn": arn}},
            )
        )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=free_sid(role, sid),
            actions=list(actions),
            resources=[target.key_arn],
            conditions=dict(conditions) or None,
        )
    )


def free_sid(role: iam.Role, sid: str) -> str:
    """``sid``, or ``sid`` with the first free number appended when ``role``'s policy already has a statement of
    that Sid: a role granted the same purpose on two keys (a multi-region key's primary and replica) gets one
    statement per key, and IAM Sids must be unique within a policy. Key policies are one per key: theirs stay."""
    policy = role.node.try_find_child("DefaultPolicy")
    document = policy.document.to_json() if isinstance(policy, iam.Policy) else None
    taken = {s.get("Sid") for s in (document or {}).get("Statement", []) if isinstance(s, Mapping)}
    number, free = 2, sid
    while free in taken:
        free, number = f"{sid}{number}", number + 1
    return free
