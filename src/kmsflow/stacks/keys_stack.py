"""The keys of one (account, region): owned keys and replicas of multi-region keys made elsewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from kmsflow.constructs.keys import CustomKeyPolicy, KmsflowKey, KmsflowReplicaKey
from kmsflow.constructs.keys.key import KeyGrants


@dataclass(frozen=True, kw_only=True)
class KeyDefinition:
    """One owned key: its name (the construct id), ``KmsflowKey``'s keyword props, and its tags."""

    name: str
    props: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReplicaDefinition:
    """A replica, in this stack's region, of a primary key owned by another stack of the same account (the key
    itself, or, from an earlier pipeline stage, its :class:`~kmsflow.constructs.keys.stage_reference.StageKeyReference`:
    a replica reads only the primary's settings and ARN)."""

    name: str
    primary: KeyGrants
    description: str | None
    aliases: Sequence[str]
    enabled: bool
    policy: CustomKeyPolicy | None
    tags: Mapping[str, str] = field(default_factory=dict)


class KeysStack(Stack):
    """Customer managed keys (and replicas) of one account and region; outputs each key's ARN."""

    def __init__(self, scope: Construct, id: str, *, partition: str = "aws", **stack_props: Any) -> None:
        super().__init__(scope, id, **stack_props)
        self.arn_partition = partition
        self.keys: dict[str, KmsflowKey] = {}
        self.replicas: dict[str, KmsflowReplicaKey] = {}

    def add_key(self, definition: KeyDefinition) -> KmsflowKey:
        key = KmsflowKey(self, definition.name, partition=self.arn_partition, **definition.props)
        self._finish(definition.name, key, key.key_arn, definition.tags)
        self.keys[definition.name] = key
        return key

    def add_replica(self, definition: ReplicaDefinition) -> KmsflowReplicaKey:
        replica = KmsflowReplicaKey(
            self,
            definition.name,
            primary=definition.primary,
            description=definition.description,
            aliases=definition.aliases,
            enabled=definition.enabled,
            policy=definition.policy,
            partition=self.arn_partition,
        )
        self._finish(definition.name, replica, replica.key_arn, definition.tags)
        self.replicas[definition.name] = replica
        return replica

    def _finish(self, name: str, key: Construct, arn: str, tags: Mapping[str, str]) -> None:
        for tag, value in tags.items():
            Tags.of(key).add(tag, value)
        CfnOutput(self, f"{name}-arn", value=arn, description=f"ARN of the kmsflow key {name!r}")
