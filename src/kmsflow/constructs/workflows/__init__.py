"""Workflows: Step Functions state machines whose tasks are kmsflow's Lambda handlers."""

from kmsflow.constructs.workflows.snapshot_copy import SnapshotCopyWorkflow, handler_role_name

__all__ = ["SnapshotCopyWorkflow", "handler_role_name"]
