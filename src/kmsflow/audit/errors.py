"""Errors of the audit area; the CLI maps them to exit codes (2: invalid input, 1: an AWS call failed)."""

from __future__ import annotations

from kmsflow.errors import FieldError, KmsflowError


class AuditError(KmsflowError):
    """Base class of every error the audit commands raise on purpose."""


class AuditInputError(AuditError):
    """An argument or an input file given by the user is invalid (a window, a filter, a keys or aliases file)."""


class AuditAwsError(AuditError):
    """An AWS call failed (credentials, permissions, throttling that outlived the back-off, a missing bucket)."""


class AuditTrailError(AuditError, FieldError):
    """The trail, its buckets or its alarms cannot be built as asked; ``field`` names the ``audit:`` setting."""
