"""Which key an alias stands for, learned from three places, and the aliases of each key.

- CreateAlias/UpdateAlias events in the report's own input (:func:`records.alias_assignment`); an alias can be
  pointed at another key over time (UpdateAlias), so the latest event by ``eventTime`` wins;
- ``--aliases FILE`` (``{"alias/name" or alias ARN: key ARN}``, or the output of ``aws kms list-aliases``);
- ``--list-keys`` (KMS ListAliases in each region).

Events of the input win over the files and the API: they are what the alias meant around the time of use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kmsflow.audit.usage.arns import alias_arn, alias_name_of, arn_account, arn_region, is_alias_arn


class AliasBook:
    """Alias ARN -> key ARN, with the time of the event that taught it (``""`` for files and the API)."""

    def __init__(self) -> None:
        self._learned: dict[str, tuple[str, str]] = {}  # alias ARN -> (eventTime, key ARN), from events
        self._given: dict[str, str] = {}  # alias ARN -> key ARN, from files and ListAliases

    def learn(self, alias: str, key: str, event_time: str) -> None:
        """An alias assignment seen in an event at ``event_time`` (fixed-format, comparable)."""
        known = self._learned.get(alias)
        if known is None or event_time >= known[0]:
            self._learned[alias] = (event_time, key)

    def give(self, alias: str, key: str) -> None:
        """An alias assignment from a file or from ListAliases. ``alias`` may be an alias name: the alias then
        lives in the key's account and region."""
        if not is_alias_arn(alias):
            alias = alias_arn(alias, region=arn_region(key), account=arn_account(key))
        self._given[alias] = key

    def give_all(self, pairs: Iterable[tuple[str, str]]) -> None:
        for alias, key in pairs:
            self.give(alias, key)

    def resolve(self, alias: str) -> str | None:
        """The key ARN an alias ARN stands for, or ``None`` if no source named it."""
        learned = self._learned.get(alias)
        if learned is not None:
            return learned[1]
        return self._given.get(alias)

    def mapping(self) -> Mapping[str, str]:
        """Every known alias ARN -> key ARN (events over files)."""
        merged = dict(self._given)
        merged.update({alias: key for alias, (_, key) in self._learned.items()})
        return merged

    def aliases_by_key(self) -> dict[str, list[str]]:
        """Key ARN -> its alias names (``alias/...``), sorted."""
        by_key: dict[str, set[str]] = {}
        for alias, key in self.mapping().items():
            by_key.setdefault(key, set()).add(alias_name_of(alias))
        return {key: sorted(names) for key, names in by_key.items()}
