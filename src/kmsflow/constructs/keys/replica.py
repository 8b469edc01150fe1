"""A replica of a multi-region primary key (``AWS::KMS::ReplicaKey``) in another region.

The replica lives in a stack of its own region and shares the primary's key material, spec and rotation;
its key policy is its own, built from the same roles for the replica's region (``kms:ViaService`` values
name that region's endpoints).
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct

from kmsflow.constructs.keys.key import (
    KeyGrants,
    alias_construct_id,
    build_policy_document,
    check_aliases,
    show_init_signature,
)
from kmsflow.constructs.keys.policy import CustomKeyPolicy, policy_delegates_to_iam
from kmsflow.errors import KeyConfigurationError


@show_init_signature
@jsii.implements(kms.IKey)
class KmsflowReplicaKey(KeyGrants, Construct):
    """A replica of ``primary`` (a multi-region :class:`KmsflowKey`, or an imported key with its settings) in
    this construct's region, with its own policy and aliases, retained on stack deletion; an ``aws_kms.IKey``
    wherever aws-cdk takes one.

    The primary lives in a stack of another region: give both stacks ``cross_region_references=True`` so that
    CDK carries the primary's ARN (README, "Multi-region keys")::

        primary = KmsflowKey(primary_stack, "data", multi_region=True, policy=policy)
        KmsflowReplicaKey(replica_stack, "data", primary=primary, policy=policy)
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        primary: KeyGrants,
        description: str | None = None,
        aliases: Sequence[str] = (),
        enabled: bool = True,
        policy: CustomKeyPolicy | None = None,
        partition: str = "aws",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        settings = primary.settings
        if not settings.multi_region:
            raise KeyConfigurationError(
                f"{self.node.path}: a replica needs a multi-region primary key; set multi_region=True on "
                f"{primary.key.node.path}",
                field="multi_region",
            )
        check_aliases(aliases)
        self.settings = settings
        self.partition = partition
        self.policy_document = build_policy_document(self, settings=settings, policy=policy, partition=partition)
        self.delegates_to_iam = policy_delegates_to_iam(policy)
        self.cfn_replica = kms.CfnReplicaKey(
            self,
            "Replica",
            primary_key_arn=primary.key_arn,
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

    @property
    def key_id(self) -> str:
        return self.cfn_replica.attr_key_id

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        self.cfn_replica.apply_removal_policy(policy)
