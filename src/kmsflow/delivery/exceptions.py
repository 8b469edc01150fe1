"""The delivery area's errors."""

from __future__ import annotations

from kmsflow.errors import KmsflowError


class DeliveryError(KmsflowError):
    """Base of the delivery area's errors: a workflow that cannot be generated, an assembly that cannot be read."""


class AssemblyDigestError(DeliveryError):
    """A cloud assembly that cannot be digested, or whose digest is not the reviewed one."""


class WorkflowDriftError(DeliveryError):
    """Committed workflow files that differ from what the configuration implies."""


class DigestMismatchError(AssemblyDigestError):
    """A readable assembly whose digest is not the reviewed one."""
