"""The data of one authorization question: who asks (:class:`Principal`), what for (:class:`Request`), the
policies that answer (:class:`Policy`) and the answer (:class:`Decision`).

Pure Python (no ``aws_cdk``, no boto3): shared by the evaluator (:mod:`kmsflow.policy.evaluate`), the reader
of cloud assemblies (:mod:`kmsflow.policy.assembly`), the service-path table and the review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PrincipalKind(StrEnum):
    """The key of a policy's ``Principal`` block that names this kind of principal."""

    AWS = "AWS"  # IAM roles, users, assumed-role sessions, account roots
    SERVICE = "Service"  # AWS service principals (cloudtrail.amazonaws.com)
    FEDERATED = "Federated"
    CANONICAL_USER = "CanonicalUser"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who makes a request.

    ``arn`` is the IAM ARN policies name for an AWS principal (``arn:aws:iam::111111111111:role/Name``;
    an assumed-role session is named by its role's ARN here) or the service name for a service principal
    (``cloudtrail.amazonaws.com``). ``account`` is the principal's own account (``None`` for a service)."""

    arn: str
    account: str | None = None
    kind: PrincipalKind = PrincipalKind.AWS

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls(arn=name, kind=PrincipalKind.SERVICE)

    @classmethod
    def role(cls, arn: str) -> Principal:
        """An IAM role (or a session of it) by ARN; its account is read from the ARN."""
        return cls(arn=arn, account=arn.split(":")[4] or None)

    @property
    def anyone(self) -> bool:
        """The stand-in for "any principal" (:data:`ANYONE`): matched only by ``*``, with no implied context."""
        return self.arn == "*"


#: Any principal at all: what a ``"Principal": "*"`` statement reaches. Only symbolic questions ask about it.
ANYONE = Principal(arn="*")


#: A request context value: one string, or several for a multi-valued key (``aws:TagKeys``).
ContextValue = str | Sequence[str]


@dataclass(frozen=True, kw_only=True)
class Request:
    """One API request as IAM sees it: principal, action (``kms:Decrypt``), resource ARN and request context.

    Context keys are case-insensitive (as in IAM). The evaluator adds the keys AWS sets for every request
    when they are absent: ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalIsAWSService``,
    ``aws:PrincipalServiceName`` (services), and ``kms:CallerAccount`` for ``kms:`` actions."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A policy document (intrinsics already resolved to plain strings) and where it comes from, for
    messages (``kmsflow-audit-security-primary/AuditKey44C41659 KeyPolicy``)."""

    document: Mapping[str, Any]
    source: str


@dataclass(frozen=True, kw_only=True)
class StatementRef:
    """One statement of a policy: the policy, its index and its Sid (or ``#index``)."""

    policy: Policy
    index: int

    @property
    def statement(self) -> Mapping[str, Any]:
        raw = self.policy.document.get("Statement", [])
        items = [raw] if isinstance(raw, Mapping) else list(raw)
        statement: Mapping[str, Any] = items[self.index]
        return statement

    @property
    def sid(self) -> str:
        return str(self.statement.get("Sid") or f"#{self.index}")

    def __str__(self) -> str:
        return f"{self.policy.source} statement {self.sid}"


#: A condition left open by a symbolic evaluation: (operator as written, key as written, policy values).
PendingCondition = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True, kw_only=True)
class Match:
    """A statement that applies to a request, with the conditions a symbolic evaluation could not decide
    (empty when every condition was decided, always empty in a concrete evaluation)."""

    ref: StatementRef
    pending: tuple[PendingCondition, ...] = ()


class Outcome(StrEnum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The answer: ``outcome``, the statements that allowed (every matching Allow that counted) and denied
    (every matching Deny), and one sentence saying why.

    ``paths`` are the ways the request is allowed, each the statements that together allow it (one key-policy
    statement; or a delegating key-policy statement and an identity-policy statement...). In a symbolic
    evaluation each match carries the conditions left open, a path holds when all of its matches' conditions
    hold, and ``unless`` lists the Deny statements whose conditions were left open."""

    outcome: Outcome
    reason: str
    allowing: tuple[StatementRef, ...] = ()
    denying: tuple[StatementRef, ...] = ()
    paths: tuple[tuple[Match, ...], ...] = ()
    unless: tuple[Match, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED
