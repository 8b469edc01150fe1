"""The Markdown report's tables, as plain text (escaped when rendered): findings, each part of a diff, a key's
access and grant creators, the unknowns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kmsflow.review.model import Diff, Finding, KeyFact, KeyReview, Review, Unknown
from kmsflow.review.render.grouping import access_rows
from kmsflow.review.render.labels import (
    cost_words,
    fact_via,
    key_policy_name,
    key_title,
    own_policy,
    principal_name,
    rotation_words,
    source_words,
    via_words,
)
from kmsflow.review.render.markdown_text import Table, short_action
from kmsflow.review.render.words import conditions_words, ways_words

NO_CONDITION = "none"
ANY = "any"


def findings_table(findings: Iterable[Finding], titles: Mapping[str, str]) -> Table:
    return Table(
        headers=("Severity", "Id", "Key", "Message", "Statement"),
        rows=tuple(
            (
                finding.severity.value,
                finding.id,
                titles.get(finding.key, finding.key),
                finding.message,
                source_words(finding.source) if finding.source else "",
            )
            for finding in findings
        ),
    )


def key_facts_table(facts: Iterable[KeyFact], titles: Mapping[str, str], labels: Mapping[str, str]) -> Table:
    """Gained or lost access: one (principal, action, key) per row, with its conditions and statements."""
    return Table(
        headers=("Principal", "Action", "Key", "Conditions", "Via"),
        rows=tuple(
            (
                principal_name(item.fact.principal, labels),
                short_action(item.fact.action),
                titles.get(item.key, item.key),
                conditions_words(item.fact.conditions, none=NO_CONDITION),
                fact_via(item.fact, own_policy(item.key, titles)),
            )
            for item in facts
        ),
    )


def condition_changes_table(diff: Diff, titles: Mapping[str, str], labels: Mapping[str, str]) -> Table:
    return Table(
        headers=("Change", "Principal", "Action", "Key", "Before", "After"),
        rows=tuple(
            (
                change.change,
                principal_name(change.principal, labels),
                short_action(change.action),
                titles.get(change.key, change.key),
                ways_words(change.before, own_policy=own_policy(change.key, titles), none=NO_CONDITION),
                ways_words(change.after, own_policy=own_policy(change.key, titles), none=NO_CONDITION),
            )
            for change in diff.conditions
        ),
    )


def setting_changes_table(diff: Diff, titles: Mapping[str, str]) -> Table:
    return Table(
        headers=("Key", "Setting", "Before", "After"),
        rows=tuple(
            (titles.get(change.key, change.key), change.setting, change.before, change.after)
            for change in diff.settings
        ),
    )


def access_table(entry: KeyReview, labels: Mapping[str, str]) -> Table:
    """A key's access, one row per principal and set of conditions, its actions joined; a principal's rows are
    consecutive and only the first names it (the table stays within a pull-request comment)."""
    rows = []
    previous = None
    for row in access_rows(entry.facts):
        rows.append(
            (
                principal_name(row.principal, labels) if row.principal != previous else "",
                ", ".join(short_action(action) for action in row.actions),
                conditions_words(row.conditions, none=NO_CONDITION),
                via_words(row.via, row.sources, row.unless, key_policy_name(entry.key)),
            )
        )
        previous = row.principal
    return Table(headers=("Principal", "Actions", "Conditions", "Via"), rows=tuple(rows))


def grant_creators_table(entry: KeyReview, labels: Mapping[str, str]) -> Table:
    return Table(
        headers=("Principal", "For grantees", "Operations", "Only for AWS resources", "Conditions", "Via"),
        rows=tuple(
            (
                principal_name(creator.principal, labels),
                ", ".join(creator.grantees) or ANY,
                ", ".join(creator.operations) or ANY,
                "yes" if creator.for_aws_resource else "no",
                conditions_words(creator.conditions, none=NO_CONDITION),
                via_words(creator.via, creator.sources, own_policy=key_policy_name(entry.key)),
            )
            for creator in entry.grant_creators
        ),
    )


def unknowns_table(unknowns: Iterable[Unknown]) -> Table:
    return Table(
        headers=("What", "Where", "Detail"),
        rows=tuple((unknown.what, unknown.where, unknown.detail) for unknown in unknowns),
    )


def diff_tables(diff: Diff, titles: Mapping[str, str], labels: Mapping[str, str]) -> list[tuple[str, Table]]:
    """The parts of a diff that are tables, titled, in report order (empty ones included: callers skip them)."""
    return [
        ("Access gained", key_facts_table(diff.gained, titles, labels)),
        ("Access lost", key_facts_table(diff.lost, titles, labels)),
        ("Conditions narrowed, widened or changed", condition_changes_table(diff, titles, labels)),
        ("Settings changed", setting_changes_table(diff, titles)),
        ("New findings", findings_table(diff.findings_new, titles)),
        ("Resolved findings", findings_table(diff.findings_resolved, titles)),
    ]


def keys_overview_table(review: Review) -> Table:
    """One row per key: what a reader of a cut report still needs to know about it."""
    return Table(
        headers=("Key", "Aliases", "Rotation", "Principals", "Access facts", "Findings", "Cost"),
        rows=tuple(
            (
                key_title(entry.key),
                ", ".join(entry.key.aliases),
                rotation_words(entry.key).removeprefix("rotation "),
                str(len({fact.principal for fact in entry.facts})),
                str(len(entry.facts)),
                str(len(entry.findings)),
                cost_words(entry.cost),
            )
            for entry in review.keys
        ),
    )
