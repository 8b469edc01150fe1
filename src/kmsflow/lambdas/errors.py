"""Errors raised by Lambda handlers.

The class name is the ``errorType`` that a Step Functions Retry or Catch matches, so a name is a contract:
renaming one breaks the state machines that match it.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class of the errors a workflow's Lambda handlers raise on purpose."""


class InvalidInput(WorkflowError):
    """The execution input breaks the workflow's contract."""
