"""A replica of a multi-region primary key (``AWS::KMS::ReplicaKey``) in another region.

The replica lives in a stack of its own region and shares the primary's key material, spec and rotation;
its key policy is its own, built from the same roles for the replica's region (``kms:ViaService`` values
name that region's endpoints).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct

from kmsflow.constructs.keys.key import (
    KeyGrants,
    alias_construct_id,
    build_policy_document,
    check_aliases,
)
from kmsflow.constructs.keys.policy import CustomKeyPolicy
from kmsflow.errors import KeyConfigurationError
from kmsflow.keyspec import KeySettings


class KmsflowReplicaKey(Construct, KeyGrants):
    """A replica key with its own policy and aliases, retained on stack deletion."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        primary_key_arn: str,
        settings: KeySettings,
        description: str | None = None,
        aliases: Sequence[str] = (),
        enabled: bool = True,
        policy: CustomKeyPolicy | None = None,
        partition: str = "aws",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        if not settings.multi_region:
            raise KeyConfigurationError(
                f"{self.node.path}: a replica needs a multi-region primary key; set multi_region: true on it",
                field="multi_region",
            )
        check_aliases(aliases)
        self.settings = settings
        self.partition = partition
        self.policy_document = build_policy_document(self, settings=settings, policy=policy, partition=partition)
        self.cfn_replica = kms.CfnReplicaKey(
            self,
            "Replica",
            primary_key_arn=primary_key_arn,
            key_policy=self.policy_document,
            description=description,
            enabled=enabled,
            pending_window_in_days=settings.deletion_window_days,
        )
        self.cfn_replica.apply_removal_policy(removal_policy)
        self.key: kms.IKey = kms.Key.from_key_arn(self, "Key", self.cfn_replica.attr_arn)
        self.aliases = [
            kms.CfnAlias(self, alias_construct_id(name), alias_name=name, target_key_id=self.cfn_replica.attr_key_id)
            for name in aliases
        ]

    @property
    def key_arn(self) -> str:
        return self.cfn_replica.attr_arn
