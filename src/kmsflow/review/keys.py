"""Every KMS key of a cloud assembly with its settings as the templates declare them (:class:`KeyInfo`).

``AWS::KMS::Key`` and ``AWS::KMS::ReplicaKey`` resources, with CloudFormation's defaults applied where a
property is absent. A replica has no spec, usage, origin or rotation of its own: KMS shares them from its
primary ("A primary key and its replica keys ... have the same key spec, key usage, key material origin, and
automatic key rotation status", ReplicateKey in the AWS KMS API Reference), so they are read from the primary
when the assembly holds it and are ``unknown`` (rotation: None) when it does not.

Automatic rotation exists only for symmetric encryption keys with KMS-generated material ("You cannot enable
automatic rotation of asymmetric KMS keys, HMAC KMS keys, KMS keys with imported key material, or KMS keys in
a custom key store", EnableKeyRotation in the same reference): ``rotation`` is None for every other key.

A value that cannot be resolved offline reads ``unknown`` (text) or falls back as each field says; the lead's
unknowns list reports where it came from. Nothing here raises on an odd template shape.

Pure Python: no ``aws_cdk``, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsflow.keyspec import DELETION_WINDOW_DEFAULT, ROTATION_DAYS_DEFAULT, SPECS, KeyOrigin, KeyUsage
from kmsflow.policy.assembly import Assembly, Resource, is_unresolved
from kmsflow.policy.document import size
from kmsflow.policy.model import Policy
from kmsflow.review.exceptions import ReviewError
from kmsflow.review.model import KeyInfo

KEY_TYPE = "AWS::KMS::Key"
REPLICA_TYPE = "AWS::KMS::ReplicaKey"
ALIAS_TYPE = "AWS::KMS::Alias"

#: What a text field reads when its value cannot be resolved offline.
UNKNOWN = "unknown"

DEFAULT_SPEC = "SYMMETRIC_DEFAULT"
#: CloudFormation's DeletionPolicy when a resource declares none.
DEFAULT_REMOVAL = "Delete"


@dataclass(frozen=True)
class _Material:
    """What a replica shares with its primary."""

    spec: str
    usage: str
    origin: str
    rotation: bool | None
    rotation_period_days: int | None


_UNKNOWN_MATERIAL = _Material(UNKNOWN, UNKNOWN, UNKNOWN, None, None)


def key_infos(assembly: Assembly) -> list[KeyInfo]:
    """Every key and replica key of the assembly, sorted by id."""
    keys = list(assembly.resources(KEY_TYPE))
    replicas = list(assembly.resources(REPLICA_TYPE))
    materials = {key.arn: _own_material(assembly, key) for key in keys}
    primaries = {replica.arn: _primary_of(assembly, replica) for replica in replicas}
    replicas_of: dict[str, list[str]] = {}
    for replica_id, primary_id in primaries.items():
        replicas_of.setdefault(primary_id, []).append(replica_id)
    aliases = _aliases_by_key(assembly)
    infos: list[KeyInfo] = []
    for key in keys:
        replica_ids = tuple(sorted(replicas_of.get(key.arn, ())))
        infos.append(_info(assembly, key, materials[key.arn], None, replica_ids, aliases))
    for replica in replicas:
        primary = primaries[replica.arn]
        material = materials.get(primary, _UNKNOWN_MATERIAL)
        infos.append(_info(assembly, replica, material, primary, (), aliases))
    return sorted(infos, key=lambda info: info.id)


def key_policy(assembly: Assembly, key: KeyInfo) -> Policy:
    """The key's policy, resolved (the KMS default policy when the template declares none)."""
    governing = assembly.resource_policy(key.id)
    if governing is None:
        raise ReviewError(f"key {key.id} ({key.stack}/{key.logical_id}) has no key policy in the assembly")
    return governing[0]


def _info(
    assembly: Assembly,
    resource: Resource,
    material: _Material,
    primary: str | None,
    replicas: tuple[str, ...],
    aliases: Mapping[str, tuple[str, ...]],
) -> KeyInfo:
    props = _Properties(assembly, resource)
    stack = assembly.stacks[resource.stack]
    return KeyInfo(
        id=resource.arn,
        stack=resource.stack,
        logical_id=resource.logical_id,
        template=assembly.stacks[resource.stack].template_file,
        resource_type=resource.type,
        account=stack.account,
        region=stack.region,
        description=props.text("Description", ""),
        spec=material.spec,
        usage=material.usage,
        origin=material.origin,
        # A replica is multi-Region by definition; its template has no MultiRegion property.
        multi_region=primary is not None or props.flag("MultiRegion", False) is True,
        primary=primary,
        replicas=replicas,
        rotation=material.rotation,
        rotation_period_days=material.rotation_period_days,
        deletion_window_days=_deletion_window(props),
        enabled=props.flag("Enabled", True) is not False,
        aliases=aliases.get(resource.arn, ()),
        policy_size=_policy_size(assembly, resource.arn),
        removal=_removal(assembly, resource),
    )


def _deletion_window(props: _Properties) -> int:
    """``PendingWindowInDays``; when it cannot be resolved, KMS's default (the field is an int, and guessing a
    short window would raise KR09 on a value nobody wrote)."""
    days = props.number("PendingWindowInDays", DELETION_WINDOW_DEFAULT)
    return DELETION_WINDOW_DEFAULT if days is None else days


def _own_material(assembly: Assembly, key: Resource) -> _Material:
    """A (primary or single-Region) key's spec, usage, origin and rotation, defaults applied."""
    props = _Properties(assembly, key)
    spec = props.text("KeySpec", DEFAULT_SPEC)
    usage = props.text("KeyUsage", KeyUsage.ENCRYPT_DECRYPT.value)
    origin = props.text("Origin", KeyOrigin.AWS_KMS.value)
    if not _rotatable(spec, usage, origin):
        return _Material(spec, usage, origin, None, None)
    # An unresolvable EnableKeyRotation is None ("cannot say"), never a guessed False that would raise KR08.
    rotation = props.flag("EnableKeyRotation", False)
    period = props.number("RotationPeriodInDays", ROTATION_DAYS_DEFAULT) if rotation else None
    return _Material(spec, usage, origin, rotation, period)


def _rotatable(spec: str, usage: str, origin: str) -> bool:
    """Whether automatic rotation applies: symmetric encryption keys with KMS-generated key material only."""
    info = SPECS.get(spec)
    return info is not None and info.rotatable and usage == KeyUsage.ENCRYPT_DECRYPT and origin == KeyOrigin.AWS_KMS


def _primary_of(assembly: Assembly, replica: Resource) -> str:
    """A replica's ``PrimaryKeyArn`` resolved (cross-region references included), or ``unknown``."""
    value = assembly.resolve(replica.stack, replica.properties.get("PrimaryKeyArn"))
    return value if isinstance(value, str) and value and not is_unresolved(value) else UNKNOWN


def _aliases_by_key(assembly: Assembly) -> dict[str, tuple[str, ...]]:
    """Key id -> the names of the aliases whose ``TargetKeyId`` (an ARN or a key id) resolves to it."""
    found: dict[str, set[str]] = {}
    for alias in assembly.resources(ALIAS_TYPE):
        target = assembly.alias_target(alias.arn)
        if target is None or is_unresolved(target):
            continue
        found.setdefault(target, set()).add(_Properties(assembly, alias).text("AliasName", UNKNOWN))
    return {key: tuple(sorted(names)) for key, names in found.items()}


def _policy_size(assembly: Assembly, key_id: str) -> int:
    """Characters of the resolved key policy's compact JSON (KMS's default policy when none is declared)."""
    governing = assembly.resource_policy(key_id)
    return size(governing[0].document) if governing else 0


def _removal(assembly: Assembly, resource: Resource) -> str:
    """The resource's ``DeletionPolicy`` (``Delete`` when absent)."""
    declared = assembly.stacks[resource.stack].section("Resources").get(resource.logical_id)
    raw = declared.get("DeletionPolicy") if isinstance(declared, Mapping) else None
    if raw is None:
        return DEFAULT_REMOVAL
    value = assembly.resolve(resource.stack, raw)
    return value if isinstance(value, str) and value and not is_unresolved(value) else UNKNOWN


class _Properties:
    """A resource's properties, resolved one at a time and read as text, flag or number.

    CloudFormation accepts ``"true"``/``"false"`` and digit strings where a boolean or an integer is expected,
    so both spellings are read."""

    def __init__(self, assembly: Assembly, resource: Resource) -> None:
        self._assembly = assembly
        self._resource = resource

    def _value(self, name: str) -> Any:
        raw = self._resource.properties.get(name)
        return None if raw is None else self._assembly.resolve(self._resource.stack, raw)

    def text(self, name: str, default: str) -> str:
        value = self._value(name)
        if value is None:
            return default
        if isinstance(value, str) and not is_unresolved(value):
            return value
        return UNKNOWN

    def flag(self, name: str, default: bool) -> bool | None:
        """The boolean, ``default`` when absent, None when it cannot be resolved or read."""
        value = self._value(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return None

    def number(self, name: str, default: int) -> int | None:
        """The integer, ``default`` when absent, None when it cannot be resolved or read."""
        value = self._value(name)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return None
