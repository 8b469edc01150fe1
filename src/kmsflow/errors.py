"""kmsflow's exceptions: one base class, one subclass per area.

Every message says what was wrong, the value received, what is allowed and how to fix it. Callers that
face a person (the CLI, ``app.py``) catch :class:`KmsflowError` and print ``str(err)`` without a traceback.
"""

from __future__ import annotations


class KmsflowError(Exception):
    """Base class of every error kmsflow raises on purpose."""


class ConfigError(KmsflowError):
    """The configuration file is unreadable or invalid. Carries every issue found, not only the first."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = [f"{source}: {len(issues)} configuration error{'s' if len(issues) != 1 else ''}:"]
        lines += [f"  {issue.render(source)}" for issue in issues]
        super().__init__("\n".join(lines))


class ConfigIssue:
    """One problem in a configuration file: where (path, line) and what."""

    __slots__ = ("line", "message", "path")

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.message = message
        self.line = line

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path or '(top level)'}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigIssue(path={self.path!r}, line={self.line!r}, message={self.message!r})"


class FieldError(KmsflowError):
    """An error about one setting of a declared thing. ``field`` names the setting (``rotation_days``,
    ``policy.users``), so that the configuration loader can point at ``keys[2].rotation_days``."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class KeysError(FieldError):
    """Base class of the keys area."""


class KeyConfigurationError(KeysError):
    """A key's spec, usage, rotation, deletion window, origin or alias is not allowed."""


class KeyPolicyError(KeysError):
    """A key policy breaks one of kmsflow's guards (wildcards, separation of duties, size) or a role
    does not fit the key."""


class WorkflowDefinitionError(FieldError):
    """Base class of the workflow constructs' errors (a workflow that cannot be built as declared)."""


class KeyMaterialError(KmsflowError):
    """Importing key material failed or was asked with invalid input."""
