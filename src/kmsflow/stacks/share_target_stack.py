"""The target side of snapshot shares in one (account, region): one copy role per source share machine that
targets it (DESIGN §5, Workflows II)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from kmsflow.constructs.keys.key import KeyGrants
from kmsflow.constructs.workflows import ShareTargetCopyRole


class ShareTargetStack(Stack):
    """``copy_roles``: by (source account id, source machine region code), the :class:`ShareTargetCopyRole` that
    machine assumes to copy into this stack's region. Each role's ARN is an output
    (``CopyRoleArn<source account id><region code without dashes>``)."""

    def __init__(self, scope: Construct, id: str, **stack_props: Any) -> None:
        super().__init__(scope, id, **stack_props)
        self.copy_roles: dict[tuple[str, str], ShareTargetCopyRole] = {}

    def add_source(
        self,
        *,
        source_account_id: str,
        source_region: str,
        source_regions: Sequence[str],
        external_id: str,
        keys: Sequence[KeyGrants],
    ) -> ShareTargetCopyRole:
        """The copy role for the share machine of (``source_account_id``, ``source_region``), which shares snapshots
        of ``source_regions``; it may use ``keys`` (the target's declared keys placed in this region or in a source
        region) through RDS and EBS. Construct id: ``Copy-<source account id>-<source region code>``."""
        suffix = f"{source_account_id}-{source_region}"
        role = ShareTargetCopyRole(
            self,
            f"Copy-{suffix}",
            source_account_id=source_account_id,
            source_region=source_region,
            source_regions=source_regions,
            external_id=external_id,
        )
        for key in keys:
            role.grant_target_key(key)
        CfnOutput(self, f"CopyRoleArn{suffix.replace('-', '')}", value=role.role.role_arn)
        self.copy_roles[(source_account_id, source_region)] = role
        return role
