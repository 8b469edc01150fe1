"""The review's one error family."""

from __future__ import annotations

from kmsflow.errors import KmsflowError


class ReviewError(KmsflowError):
    """The review cannot be made: the assembly (or the baseline) is missing or malformed, or an option is
    wrong. The CLI prints the message and exits 2."""
