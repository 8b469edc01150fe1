"""The streaming counter: records in, one count per group out; then aliases, filters and the side lists.

Memory is one dict entry per distinct (key, principal, operation, account, region, service, error) group,
whatever the number of files or records. Records are read by :func:`records.read_record` into tuples (no object
per record); the window is a string comparison (see :mod:`.window`). Filters apply to groups when the report is
built, not to records: every filter is on a grouped field, so the result is the same and the loop stays short;
only the time window, which is not a group field, is applied per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kmsflow.audit.usage.aliases import AliasBook
from kmsflow.audit.usage.arns import (
    ALIAS_PREFIX,
    arn_account,
    arn_region,
    is_alias_arn,
    is_key_arn,
    key_id_of,
)
from kmsflow.audit.usage.identity import SERVICE, role_arn_from_session
from kmsflow.audit.usage.records import (
    ALIAS_OPERATIONS,
    NO_KEY,
    OTHER_SERVICE,
    Group,
    alias_assignment,
    read_record,
)
from kmsflow.audit.usage.report import (
    KEY,
    NO_KEY_KIND,
    UNRESOLVED_ALIAS,
    BadFile,
    ExternalPrincipal,
    SourceStats,
    UnusedKey,
    UsageReport,
    UsageRow,
)
from kmsflow.audit.usage.window import Window


@dataclass(frozen=True)
class Filters:
    """``--key``, ``--principal``, ``--account``, ``--region``, ``--operation`` (each repeatable; a row must
    match one value of every option given).

    - key: a key ARN, key ID, alias name (``alias/x``) or alias ARN; ``-`` for events without a key;
    - principal: as reported (role ARN, user ARN, ``rds.amazonaws.com``, ``account:<id>``), a role session ARN
      (taken as its role), or the last part of the ARN (role or user name);
    - account: the account that recorded the event or that owns the key;
    - region: the event's region; operation: the ``eventName`` (case-insensitive).
    """

    keys: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()

    def match_row(self, row: UsageRow, aliases: AliasBook) -> bool:
        return (
            (not self.keys or any(_key_matches(value, row.key, row.key_aliases, aliases) for value in self.keys))
            and (not self.principals or any(_principal_matches(value, row.principal) for value in self.principals))
            and (not self.accounts or row.account in self.accounts or arn_account(row.key) in self.accounts)
            and (not self.regions or row.region in self.regions)
            and (not self.operations or row.operation.lower() in {op.lower() for op in self.operations})
        )

    def match_key(self, key: str, key_aliases: tuple[str, ...], aliases: AliasBook) -> bool:
        """For the unused-keys list: the filters that concern a key (key, account, region)."""
        return (
            (not self.keys or any(_key_matches(value, key, key_aliases, aliases) for value in self.keys))
            and (not self.accounts or arn_account(key) in self.accounts)
            and (not self.regions or arn_region(key) in self.regions)
        )


def _key_matches(value: str, key: str, key_aliases: tuple[str, ...], aliases: AliasBook) -> bool:
    if value == key:
        return True
    if is_alias_arn(value):
        return aliases.resolve(value) == key
    if value.startswith(ALIAS_PREFIX):
        return value in key_aliases or (is_alias_arn(key) and key.endswith(":" + value))
    if is_key_arn(value):
        return False
    return is_key_arn(key) and key_id_of(key) == value


def _principal_matches(value: str, principal: str) -> bool:
    if ":assumed-role/" in value:
        value = role_arn_from_session(value)
    return value == principal or principal.endswith("/" + value)


class UsageAggregator:
    """Counts KMS records per group; learns aliases; builds the :class:`UsageReport`."""

    def __init__(self, window: Window | None = None) -> None:
        self.window = window or Window()
        self.stats = SourceStats()
        self.aliases = AliasBook()
        self._counts: dict[tuple[str, Group], int] = {}
        self._since = self.window.since_text
        self._until = self.window.until_text

    # ------------------------------------------------------------------ input

    def add_records(self, records: Iterable[Any], source: str = "") -> None:
        """Count a batch of records (one file's ``Records``, one API page, named by ``source``). The hot loop of
        the report."""
        counts = self._counts
        get = counts.get
        read = read_record
        since, until = self._since, self._until
        alias_ops = ALIAS_OPERATIONS
        total = other = skipped = kms = outside = 0
        for record in records:
            total += 1
            event = read(record)
            if isinstance(event, str):
                if event is OTHER_SERVICE:
                    other += 1
                else:
                    skipped += 1
                    self.stats.note_malformed(source, total - 1)
                continue
            kms += 1
            event_time, keys, group = event
            if group[3] in alias_ops:
                self._learn_alias(record, group, event_time)
            if (since is not None and event_time < since) or (until is not None and event_time >= until):
                outside += 1
                continue
            for key in keys:
                slot = (key, group)
                counts[slot] = get(slot, 0) + 1
        stats = self.stats
        stats.records_read += total
        stats.records_kms += kms
        stats.records_skipped += skipped
        stats.records_other_services += other
        stats.records_outside_window += outside

    def _learn_alias(self, record: dict[str, Any], group: Group, event_time: str) -> None:
        account = group[4] or group[2]
        assignment = alias_assignment(record, group[5], account)
        if assignment is not None:
            self.aliases.learn(assignment[0], assignment[1], event_time)

    def add_skipped(self, count: int = 1, source: str = "") -> None:
        """Records that could not even be handed over (an API event whose JSON does not parse)."""
        self.stats.records_read += count
        self.stats.records_skipped += count
        for _ in range(count):
            self.stats.note_malformed(source, None)

    def file_read(self) -> None:
        self.stats.files_read += 1

    def file_bad(self, path: str, reason: str) -> None:
        self.stats.files_bad.append(BadFile(path, reason))

    def file_ignored(self) -> None:
        self.stats.files_ignored += 1

    def api_page(self) -> None:
        self.stats.api_pages += 1

    def raw_counts(self) -> dict[tuple[str, Group], int]:
        """The counts as streamed (aliases not yet resolved); for tests and diagnostics."""
        return dict(self._counts)

    # ------------------------------------------------------------------ output

    def report(self, *, known_keys: Iterable[str] = (), filters: Filters | None = None) -> UsageReport:
        """Resolve aliases, merge, filter, sort; list unused keys and principals from other accounts."""
        filters = filters or Filters()
        aliases = self.aliases
        by_key = aliases.aliases_by_key()
        merged: dict[tuple[str, Group], int] = {}
        for (key, group), count in self._counts.items():
            if is_alias_arn(key):
                key = aliases.resolve(key) or key
            slot = (key, group)
            merged[slot] = merged.get(slot, 0) + count
        rows = []
        for (key, group), count in merged.items():
            kind = NO_KEY_KIND if key == NO_KEY else UNRESOLVED_ALIAS if is_alias_arn(key) else KEY
            row = UsageRow(key, kind, tuple(by_key.get(key, ())), *group, count)
            if filters.match_row(row, aliases):
                rows.append(row)
        rows.sort(key=lambda r: (-r.count, r.key, r.principal, r.operation, r.account, r.region, r.error_code))
        used = {row.key for row in rows}
        unused = [
            UnusedKey(key, tuple(by_key.get(key, ())))
            for key in sorted(set(known_keys))
            if key not in used and filters.match_key(key, tuple(by_key.get(key, ())), aliases)
        ]
        return UsageReport(
            usage=rows,
            unused_keys=unused,
            external_principals=external_principals(rows),
            window=self.window,
            sources=self.stats,
        )


def external_principals(rows: Iterable[UsageRow]) -> list[ExternalPrincipal]:
    """Principals whose account differs from the account of the key they used (services excluded: they have no
    account of their own in CloudTrail), most frequent first."""
    totals: dict[tuple[str, str, str, str, str], list[int]] = {}
    for row in rows:
        key_account = arn_account(row.key)
        if row.principal_type == SERVICE or not row.principal_account or not key_account:
            continue
        if row.principal_account != key_account:
            slot = (row.principal, row.principal_type, row.principal_account, row.key, key_account)
            counts = totals.setdefault(slot, [0, 0])
            counts[1 if row.error_code else 0] += row.count  # a refused call is an attempt, not a use
    found = [ExternalPrincipal(*slot, used, refused) for slot, (used, refused) in totals.items()]
    found.sort(key=lambda e: (-(e.count + e.refused), e.principal, e.key))
    return found
