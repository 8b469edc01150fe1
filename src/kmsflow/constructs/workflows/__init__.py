"""Workflows: Step Functions state machines whose tasks are kmsflow's Lambda handlers."""

from kmsflow.constructs.workflows.snapshot_copy import SnapshotCopyWorkflow, handler_role_name
from kmsflow.constructs.workflows.snapshot_share import (
    ShareTarget,
    ShareTargetCopyRole,
    SnapshotShareWorkflow,
    share_role_name,
)

__all__ = [
    "ShareTarget",
    "ShareTargetCopyRole",
    "SnapshotCopyWorkflow",
    "SnapshotShareWorkflow",
    "handler_role_name",
    "share_role_name",
]
