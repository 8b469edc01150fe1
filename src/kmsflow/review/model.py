"""What a review holds: per key, its settings, its access facts, who may create grants, its findings, its cost;
and for the whole assembly, the principals, the unknowns and (against a baseline) the difference.

Everything is a frozen dataclass of plain values, ordered deterministically by whoever builds it, so that the
same assembly gives byte-identical reports. :func:`to_data` turns any of them into JSON-ready data (the JSON
report's shape, documented in ``review/schema.json``).

Pure Python: no ``aws_cdk``, no boto3.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

#: The JSON report's schema version: raised on any change that breaks a reader.
SCHEMA_VERSION = 1


class Severity(StrEnum):
    """A finding's severity, highest first (``--fail-on`` compares by this order)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for high ... 3 for info: sort key and ``--fail-on`` threshold."""
        return list(Severity).index(self)


class Via(StrEnum):
    """How an access fact comes about."""

    KEY_POLICY = "key policy"  # a key-policy statement names the principal (or "*")
    IAM = "IAM policy"  # an identity policy, counted because the key policy delegates to the account


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class Condition:
    """One condition of a statement: ``operator`` (``StringEquals``, ``ForAllValues:StringLike``...), its
    ``key`` as written (``kms:ViaService``) and its values (sorted). A fact's conditions all hold together."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class Source:
    """A statement a fact or finding comes from: its policy (``<stack>/<logical id> KeyPolicy``), its Sid (or
    ``#<index>``) and whether it is the key policy or an identity policy."""

    policy: str
    sid: str
    via: Via


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class PrincipalInfo:
    """A principal as the report names it.

    ``id`` is what policies name: an IAM ARN, an account root ARN, a service name
    (``cloudtrail.amazonaws.com``) or ``*``. ``kind``: ``role``, ``user``, ``root``, ``service``,
    ``federated``, ``any`` or ``other``. ``label``: its kmsflow role where it has one ("key administrator",
    "copy workflow step start-copy"...), else empty. ``in_assembly``: a role or user defined in the assembly
    (its identity policies are known); an account root or an ARN from elsewhere is not."""

    id: str
    kind: str
    account: str | None
    label: str
    in_assembly: bool


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class AccessFact:
    """One principal may do one action on one key, when all ``conditions`` hold.

    ``via`` and ``sources`` say which statements allow it: for :attr:`Via.IAM`, the identity policy's
    statement and the key-policy statement that delegates to the account. ``unless`` lists Deny statements
    whose conditions could not be decided offline (the fact holds only when they do not apply)."""

    principal: str
    action: str
    conditions: tuple[Condition, ...]
    via: Via
    sources: tuple[Source, ...]
    unless: tuple[Source, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class GrantCreator:
    """A principal that may call ``CreateGrant`` on the key (grants themselves are runtime objects, created
    after deployment: the report names who may create them, for whom and for which operations).

    ``grantees`` and ``operations`` are the values the conditions allow (``kms:GranteePrincipal``,
    ``kms:GrantOperations``); empty means unrestricted. ``for_aws_resource``: only through an AWS service
    (``kms:GrantIsForAWSResource``). ``conditions``: all the conditions of the fact, in full."""

    principal: str
    grantees: tuple[str, ...]
    operations: tuple[str, ...]
    for_aws_resource: bool
    retiring_principals: tuple[str, ...]
    conditions: tuple[Condition, ...]
    via: Via
    sources: tuple[Source, ...]


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class KeyInfo:
    """A key's settings as the template declares them.

    ``id`` is the key's ARN as the assembly resolves it (``arn:aws:kms:<region>:<account>:key/<stack>-<logical
    id>`` for a generated id): stable between two synths of the same app, so a baseline matches keys by it.
    ``rotation`` is None where rotation does not apply (asymmetric, HMAC, imported material)."""

    id: str
    stack: str
    logical_id: str
    template: str  # the stack's template file, relative to the assembly directory ("" if not read from one)
    resource_type: str  # AWS::KMS::Key or AWS::KMS::ReplicaKey
    account: str
    region: str
    description: str
    spec: str  # SYMMETRIC_DEFAULT, RSA_2048, ...
    usage: str  # ENCRYPT_DECRYPT, SIGN_VERIFY, ...
    origin: str  # AWS_KMS, EXTERNAL
    multi_region: bool
    primary: str | None  # a replica's primary key id
    replicas: tuple[str, ...]  # a primary's replica key ids (replicas in the assembly)
    rotation: bool | None
    rotation_period_days: int | None
    deletion_window_days: int
    enabled: bool
    aliases: tuple[str, ...]  # alias names (alias/...)
    policy_size: int  # characters of the key policy's compact JSON (KMS's 32 KB limit counts these)
    removal: str  # Retain, Delete, Snapshot (the resource's DeletionPolicy)


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class Finding:
    """A finding: a stable ``id`` (``KR01``...), its ``rule`` name (``wildcard-principal``), severity, the key,
    one sentence, the principal it concerns (if any) and the statement that causes it (if any)."""

    id: str
    rule: str
    severity: Severity
    key: str
    message: str
    principal: str | None = None
    source: Source | None = None

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What makes two findings the same one across a baseline (the message may reword)."""
        return (self.rule, self.key, self.principal or "", self.source.sid if self.source else "")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CostLine:
    item: str  # "key", "replica", "rotated key material"
    quantity: int
    monthly_usd: str  # decimal text ("1.00")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cost:
    """The estimated monthly cost of a key (not its requests), from the KMS price model in
    :mod:`kmsflow.review.cost`: lines for the key and its rotated material, the total now and once rotation has
    reached its cap. Always an estimate."""

    lines: tuple[CostLine, ...]
    monthly_usd: str
    steady_state_monthly_usd: str
    note: str
    estimate: bool = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyReview:
    """One key: its settings, its facts (sorted), the grant creators, its findings and its cost."""

    key: KeyInfo
    facts: tuple[AccessFact, ...]
    grant_creators: tuple[GrantCreator, ...]
    findings: tuple[Finding, ...]
    cost: Cost


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class Unknown:
    """Something the review cannot resolve offline: ``what`` (``parameter``, ``imported value``, ``custom
    resource``, ``outside principal``, ``managed policy``, ``aws managed key``, ``organization policies``,
    ``environment``), ``where`` (stack/logical id or policy) and one sentence."""

    what: str
    where: str
    detail: str


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class KeyFact:
    """An access fact with the key it is about (a diff lists facts of many keys)."""

    key: str
    fact: AccessFact


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class Way:
    """One way a (principal, action, key) is allowed: all ``conditions`` hold and none of the ``unless`` Deny
    statements applies (both sorted). Which statements allow it is not part of a way."""

    conditions: tuple[Condition, ...]
    unless: tuple[Source, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class ConditionChange:
    """The same (principal, action, key) before and after, allowed in other ways. ``before`` and ``after`` list
    every way of each side (sorted), the ways that did not change included: the triple is allowed when any one of
    them holds. ``change``: ``narrowed`` (the new ways admit fewer requests), ``widened`` or ``changed`` (neither
    contains the other, or not decidable)."""

    key: str
    principal: str
    action: str
    change: str
    before: tuple[Way, ...]
    after: tuple[Way, ...]


@dataclasses.dataclass(frozen=True, kw_only=True, order=True)
class SettingChange:
    """A key setting that differs (``rotation``: ``True`` -> ``False``), as text."""

    key: str
    setting: str
    before: str
    after: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Diff:
    """The difference between a baseline review and this one, in access facts, not in JSON."""

    baseline: str  # where the baseline came from
    keys_added: tuple[str, ...]
    keys_removed: tuple[str, ...]
    gained: tuple[KeyFact, ...]  # (principal, action, key) allowed now and not before
    lost: tuple[KeyFact, ...]
    conditions: tuple[ConditionChange, ...]
    settings: tuple[SettingChange, ...]
    findings_new: tuple[Finding, ...]
    findings_resolved: tuple[Finding, ...]

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.keys_added,
                self.keys_removed,
                self.gained,
                self.lost,
                self.conditions,
                self.settings,
                self.findings_new,
                self.findings_resolved,
            )
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Review:
    """The whole review of one assembly: ``source`` (the directory as given), the keys (sorted by id), every
    principal that appears in a fact (sorted by id), the unknowns (sorted), and the diff against a baseline."""

    source: str
    keys: tuple[KeyReview, ...]
    principals: tuple[PrincipalInfo, ...]
    unknowns: tuple[Unknown, ...]
    diff: Diff | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding of every key, highest severity first, then by key, rule and principal."""
        found = [finding for key in self.keys for finding in key.findings]
        return tuple(sorted(found, key=lambda f: (f.severity.rank, f.key, f.id, f.principal or "", f.message)))

    def principal(self, principal_id: str) -> PrincipalInfo | None:
        return next((p for p in self.principals if p.id == principal_id), None)


def to_data(value: Any) -> Any:
    """JSON-ready data: dataclasses to objects (keys in field order), enums to their values, tuples to lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_data(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_data(item) for item in value]
    return value
