"""The usage report's data: rows, the lists beside them, what was read; and its JSON form.

JSON (``--format json``)::

    {"usage": [{"key", "key_kind", "key_aliases", "principal", "principal_type", "principal_account",
                "operation", "account", "region", "service", "error_code", "count"}, ...],
     "unused_keys": [{"key", "key_aliases"}, ...],
     "external_principals": [{"principal", "principal_type", "principal_account", "key", "key_account",
                              "count", "refused"}, ...],
     "window": {"since", "until"},
     "sources": {"files_read", "files_bad": [{"path", "reason"}], "files_ignored", "api_pages",
                 "records_read", "records_kms", "records_skipped", "records_other_services",
                 "records_outside_window", "malformed": [{"source", "record"}]},
     "complete": true}

``key_kind`` is ``key`` (a key ARN), ``unresolved-alias`` (the key was named by an alias that no input
resolved: ``key`` is the alias ARN) or ``none`` (the event names no key: ``key`` is ``-``). ``account`` is the
account whose trail recorded the event (``recipientAccountId``), ``service`` the ``invokedBy`` of the caller.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kmsflow.audit.usage.window import Window

KEY = "key"
UNRESOLVED_ALIAS = "unresolved-alias"
NO_KEY_KIND = "none"

#: Column order of the usage rows (JSON keys, CSV header).
USAGE_FIELDS = (
    "key",
    "key_kind",
    "key_aliases",
    "principal",
    "principal_type",
    "principal_account",
    "operation",
    "account",
    "region",
    "service",
    "error_code",
    "count",
)


@dataclass(frozen=True)
class UsageRow:
    key: str
    key_kind: str
    key_aliases: tuple[str, ...]
    principal: str
    principal_type: str
    principal_account: str
    operation: str
    account: str
    region: str
    service: str
    error_code: str
    count: int

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["key_aliases"] = list(self.key_aliases)
        return data


@dataclass(frozen=True)
class UnusedKey:
    key: str
    key_aliases: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "key_aliases": list(self.key_aliases)}


@dataclass(frozen=True)
class ExternalPrincipal:
    """A principal of another account than the key's, with how often it used that key (``count``: calls that
    succeeded) and how often KMS refused it (``refused``: calls with an error code, AccessDenied among them)."""

    principal: str
    principal_type: str
    principal_account: str
    key: str
    key_account: str
    count: int
    refused: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BadFile:
    path: str
    reason: str


@dataclass
class SourceStats:
    """What was read. ``records_read`` counts every record of every readable file or API page."""

    files_read: int = 0
    files_bad: list[BadFile] = field(default_factory=list)
    files_ignored: int = 0
    api_pages: int = 0
    records_read: int = 0
    records_kms: int = 0
    records_skipped: int = 0
    records_other_services: int = 0
    records_outside_window: int = 0
    #: Where the malformed records are: (file or API page, position in its ``Records``; None: an API event
    #: whose JSON did not parse), the first :data:`MALFORMED_NAMED` of them.
    malformed: list[tuple[str, int | None]] = field(default_factory=list)

    def note_malformed(self, source: str, index: int | None) -> None:
        if len(self.malformed) < MALFORMED_NAMED:
            self.malformed.append((source, index))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_bad"] = [{"path": bad.path, "reason": bad.reason} for bad in self.files_bad]
        data["malformed"] = [{"source": source, "record": index} for source, index in self.malformed]
        return data


#: How many malformed records the report names one by one (all are counted).
MALFORMED_NAMED = 20


@dataclass(frozen=True)
class UsageReport:
    usage: list[UsageRow]
    unused_keys: list[UnusedKey]
    external_principals: list[ExternalPrincipal]
    window: Window
    sources: SourceStats

    @property
    def complete(self) -> bool:
        """False if a file was bad or a record skipped: the counts may then miss events (exit code 3)."""
        return not self.sources.files_bad and self.sources.records_skipped == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "usage": [row.as_json() for row in self.usage],
            "unused_keys": [key.as_json() for key in self.unused_keys],
            "external_principals": [ext.as_json() for ext in self.external_principals],
            "window": self.window.as_json(),
            "sources": self.sources.as_json(),
            "complete": self.complete,
        }
