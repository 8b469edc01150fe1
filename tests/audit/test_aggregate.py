"""The streaming counter: grouping, aliases, window, filters, unused keys, principals from other accounts."""

from __future__ import annotations

from datetime import UTC, datetime

from kmsflow.audit.usage.aggregate import Filters, UsageAggregator
from kmsflow.audit.usage.report import UsageReport
from kmsflow.audit.usage.window import Window

from . import factory as f

APP = f.assumed_role("App", "s1")
APP_OTHER_SESSION = f.assumed_role("App", "s2")
ALICE = f.iam_user("Alice")
PARTNER_ROLE = f.assumed_role("Reader", "p1", account=f.PARTNER)


def counts(report: UsageReport) -> dict[tuple[str, str, str], int]:
    found: dict[tuple[str, str, str], int] = {}
    for row in report.usage:
        slot = (row.key, row.principal, row.operation)
        found[slot] = found.get(slot, 0) + row.count
    return found


def test_counts_per_key_principal_operation_sessions_merged() -> None:
    agg = UsageAggregator()
    agg.add_records(
        [
            f.kms_event("Decrypt", APP, key=f.key_arn(1)),
            f.kms_event("Decrypt", APP_OTHER_SESSION, key=f.key_arn(1)),
            f.kms_event("Encrypt", APP, key=f.key_arn(1)),
            f.kms_event("Decrypt", ALICE, key=f.key_arn(2)),
            f.other_service(),
        ]
    )
    report = agg.report()
    assert counts(report) == {
        (f.key_arn(1), f.role_arn("App"), "Decrypt"): 2,
        (f.key_arn(1), f.role_arn("App"), "Encrypt"): 1,
        (f.key_arn(2), ALICE["arn"], "Decrypt"): 1,
    }
    assert [row.count for row in report.usage] == [2, 1, 1]  # most used first
    stats = report.sources
    assert (stats.records_read, stats.records_kms, stats.records_other_services, stats.records_skipped) == (5, 4, 1, 0)
    assert report.complete


def test_error_codes_and_services_are_separate_rows() -> None:
    agg = UsageAggregator()
    agg.add_records(
        [
            f.kms_event("Decrypt", ALICE, key=f.key_arn(1)),
            f.kms_event("Decrypt", ALICE, key=f.key_arn(1), error_code="AccessDenied"),
            f.kms_event("Decrypt", f.iam_user("Alice", invoked_by="s3.amazonaws.com"), key=f.key_arn(1)),
        ]
    )
    rows = {(row.error_code, row.service): row.count for row in agg.report().usage}
    assert rows == {("", ""): 1, ("AccessDenied", ""): 1, ("", "s3.amazonaws.com"): 1}


def test_alias_used_before_its_create_alias_event_is_resolved() -> None:
    agg = UsageAggregator()
    # Alias use in an earlier file than the CreateAlias event: resolution happens when the report is built.
    agg.add_records([f.kms_event("Encrypt", APP, key_param="alias/app", resources=[], time="2025-05-20T10:00:00Z")])
    agg.add_records([f.create_alias("alias/app", f.key_id(3), ALICE, time="2025-05-01T00:00:00Z")])
    report = agg.report()
    row = next(r for r in report.usage if r.operation == "Encrypt")
    assert (row.key, row.key_kind, row.key_aliases) == (f.key_arn(3), "key", ("alias/app",))


def test_latest_update_alias_wins_and_unresolved_aliases_are_marked() -> None:
    agg = UsageAggregator()
    agg.add_records(
        [
            f.create_alias("alias/app", f.key_id(3), ALICE, time="2025-05-01T00:00:00Z"),
            f.create_alias("alias/app", f.key_id(4), ALICE, operation="UpdateAlias", time="2025-05-02T00:00:00Z"),
            f.kms_event("Encrypt", APP, key_param="alias/app", resources=[]),
            f.kms_event("Encrypt", APP, key_param="alias/nowhere", resources=[]),
        ]
    )
    rows = {row.key: row for row in agg.report().usage if row.operation == "Encrypt"}
    assert set(rows) == {f.key_arn(4), f.alias_arn("alias/nowhere")}
    assert rows[f.alias_arn("alias/nowhere")].key_kind == "unresolved-alias"


def test_given_aliases_resolve_and_events_override_them() -> None:
    agg = UsageAggregator()
    agg.aliases.give_all([("alias/file-only", f.key_arn(8)), ("alias/both", f.key_arn(8))])
    agg.add_records(
        [
            f.create_alias("alias/both", f.key_id(9), ALICE),
            f.kms_event("Decrypt", APP, key_param="alias/file-only", resources=[]),
            f.kms_event("Decrypt", APP, key_param="alias/both", resources=[]),
        ]
    )
    decrypts = {row.key: row.count for row in agg.report().usage if row.operation == "Decrypt"}
    assert decrypts == {f.key_arn(8): 1, f.key_arn(9): 1}


def test_window_applies_per_record_and_aliases_are_learned_outside_it() -> None:
    window = Window(datetime(2025, 5, 20, tzinfo=UTC), datetime(2025, 5, 21, tzinfo=UTC))
    agg = UsageAggregator(window)
    agg.add_records(
        [
            f.create_alias("alias/app", f.key_id(3), ALICE, time="2025-01-01T00:00:00Z"),
            f.kms_event("Decrypt", APP, key_param="alias/app", resources=[], time="2025-05-20T08:00:00Z"),
            f.kms_event("Decrypt", APP, key=f.key_arn(3), time="2025-05-21T00:00:00Z"),
            f.kms_event("Decrypt", APP, key=f.key_arn(3), time="2025-05-19T23:59:59Z"),
        ]
    )
    report = agg.report()
    assert counts(report) == {(f.key_arn(3), f.role_arn("App"), "Decrypt"): 1}
    assert report.sources.records_outside_window == 3


def test_filters_apply_to_every_grouped_field() -> None:
    agg = UsageAggregator()
    agg.add_records(
        [
            f.create_alias("alias/app", f.key_id(1), ALICE),
            f.kms_event("Decrypt", APP, key=f.key_arn(1)),
            f.kms_event("Encrypt", APP, key=f.key_arn(1)),
            f.kms_event("Decrypt", ALICE, key=f.key_arn(2, region=f.REGION2), region=f.REGION2),
            f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1), account=f.PARTNER),
        ]
    )

    def ops(**filters: tuple[str, ...]) -> set[tuple[str, str, str]]:
        return {(r.key, r.principal, r.operation) for r in agg.report(filters=Filters(**filters)).usage}

    assert ops(operations=("encrypt",)) == {(f.key_arn(1), f.role_arn("App"), "Encrypt")}
    assert ops(regions=(f.REGION2,)) == {(f.key_arn(2, region=f.REGION2), ALICE["arn"], "Decrypt")}
    by_alias = ops(keys=("alias/app",), operations=("Decrypt",))
    assert (
        by_alias
        == ops(keys=(f.key_id(1),), operations=("Decrypt",))
        == ops(keys=(f.alias_arn("alias/app"),), operations=("Decrypt",))
    )
    assert by_alias == {
        (f.key_arn(1), f.role_arn("App"), "Decrypt"),
        (f.key_arn(1), PARTNER_ROLE["sessionContext"]["sessionIssuer"]["arn"], "Decrypt"),
    }
    assert ops(principals=("App",)) == ops(principals=(APP["arn"],)) == ops(principals=(f.role_arn("App"),))
    assert len(ops(principals=("App",))) == 2
    assert ops(accounts=(f.PARTNER,)) == {(f.key_arn(1), f.role_arn("Reader", f.PARTNER), "Decrypt")}


def test_unused_keys_and_principals_from_other_accounts() -> None:
    agg = UsageAggregator()
    agg.aliases.give("alias/idle", f.key_arn(5))
    agg.add_records(
        [
            f.kms_event("Decrypt", APP, key=f.key_arn(1)),
            f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1), account=f.PARTNER),
            f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1)),
            f.kms_event("Decrypt", f.aws_service("rds.amazonaws.com"), key=f.key_arn(1)),
        ]
    )
    report = agg.report(known_keys=[f.key_arn(1), f.key_arn(5), f.key_arn(6, region=f.REGION2)])
    assert [(k.key, k.key_aliases) for k in report.unused_keys] == [
        (f.key_arn(5), ("alias/idle",)),
        (f.key_arn(6, region=f.REGION2), ()),
    ]
    assert [(e.principal, e.principal_account, e.key, e.key_account, e.count) for e in report.external_principals] == [
        (f.role_arn("Reader", f.PARTNER), f.PARTNER, f.key_arn(1), f.ACCOUNT, 2)
    ]
    # Filters narrow the unused list too: only keys of the region asked for.
    only_region2 = agg.report(
        known_keys=[f.key_arn(5), f.key_arn(6, region=f.REGION2)], filters=Filters(regions=(f.REGION2,))
    )
    assert [k.key for k in only_region2.unused_keys] == [f.key_arn(6, region=f.REGION2)]


def test_malformed_records_are_counted_and_make_the_report_incomplete() -> None:
    agg = UsageAggregator()
    agg.add_records([f.kms_event("Decrypt", APP, key=f.key_arn(1)), {"eventSource": f.KMS}, 42])
    report = agg.report()
    assert report.sources.records_skipped == 2
    assert report.sources.records_kms == 1
    assert not report.complete


def test_refused_calls_are_counted_apart_from_uses() -> None:
    """A principal of another account that KMS refused did not *use* the key: the report says so."""
    from kmsflow.audit.usage.render import render_table

    agg = UsageAggregator()
    agg.add_records(
        [
            f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1)),
            f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1), error_code="AccessDenied"),
            f.kms_event("Decrypt", PARTNER_ROLE, key=f.key_arn(1), error_code="AccessDenied"),
        ]
    )
    report = agg.report()
    (external,) = report.external_principals
    assert (external.count, external.refused) == (1, 2)
    assert external.as_json()["refused"] == 2
    table = render_table(report)
    assert "2 group(s): 1 use(s), 2 refused call(s) (ERROR column)." in table
    assert f"used {f.key_arn(1)} (account {f.ACCOUNT}) 1 time(s), refused 2 time(s)" in table


def test_malformed_records_are_named_by_file_and_position() -> None:
    from kmsflow.audit.usage.render import render_table

    agg = UsageAggregator()
    good = f.kms_event("Decrypt", ALICE, key=f.key_arn(1))
    agg.add_records([good, {"eventSource": "kms.amazonaws.com", "eventTime": 7}, good], "AWSLogs/a.json.gz")
    agg.add_skipped(1, "LookupEvents eu-west-1 page 2")
    report = agg.report()
    assert report.sources.malformed == [("AWSLogs/a.json.gz", 1), ("LookupEvents eu-west-1 page 2", None)]
    assert report.sources.as_json()["malformed"] == [
        {"source": "AWSLogs/a.json.gz", "record": 1},
        {"source": "LookupEvents eu-west-1 page 2", "record": None},
    ]
    table = render_table(report)
    assert "  AWSLogs/a.json.gz: record 1" in table
    assert "  LookupEvents eu-west-1 page 2: an event that is not JSON" in table
    assert not report.complete
