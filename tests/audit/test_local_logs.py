"""Reading CloudTrail log files from a local directory laid out as a trail's bucket."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kmsflow.audit.errors import AuditInputError
from kmsflow.audit.usage.pipeline import build_report
from kmsflow.audit.usage.sources import BadLog, IgnoredLog, LocalLogs, LogFile, LogFormatError, parse_log

from . import factory as f

APP = f.assumed_role("App", "s1")


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """Two accounts, two regions, .json.gz and one plain .json, a digest file and a non-log file."""
    f.write(tmp_path, f.log_key(f.ACCOUNT, f.REGION), f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1))] * 3))
    f.write(
        tmp_path,
        f.log_key(f.ACCOUNT, f.REGION, day="2025/05/21", unique="AAAAAAAAAAAAAAAA"),
        f.log_bytes([f.kms_event("Encrypt", APP, key=f.key_arn(1)), f.other_service()]),
    )
    f.write(
        tmp_path,
        f.log_key(f.PARTNER, f.REGION2).removesuffix(".gz"),
        f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1), account=f.PARTNER, region=f.REGION2)], gz=False),
    )
    f.write(tmp_path, f.digest_key(f.ACCOUNT, f.REGION), f.digest_bytes())
    f.write(tmp_path, "AWSLogs/README.txt", b"not a log")
    return tmp_path


def test_reads_nested_gzip_and_plain_json_and_ignores_digests(trail: Path) -> None:
    report = build_report([LocalLogs([str(trail)])])
    assert {(r.key, r.principal, r.operation, r.account): r.count for r in report.usage} == {
        (f.key_arn(1), f.role_arn("App"), "Decrypt", f.ACCOUNT): 3,
        (f.key_arn(1), f.role_arn("App"), "Encrypt", f.ACCOUNT): 1,
        (f.key_arn(1), f.role_arn("App"), "Decrypt", f.PARTNER): 1,
    }
    stats = report.sources
    assert (stats.files_read, stats.files_ignored, stats.files_bad) == (3, 1, [])
    assert (stats.records_read, stats.records_kms, stats.records_other_services) == (6, 5, 1)
    assert report.complete


def test_bad_files_are_named_and_skipped_never_counted(trail: Path) -> None:
    good = f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(2))] * 4)
    truncated = f.write(trail, f.log_key(f.ACCOUNT, f.REGION, unique="TRUNCATEDTRUNCAT"), good[: len(good) // 2])
    not_trail = f.write(trail, "AWSLogs/other/config.json", json.dumps({"Version": "2012-10-17"}).encode())
    not_json = f.write(trail, "AWSLogs/other/broken.json.gz", gzip.compress(b'{"Records": [{"eventSource": '))
    not_gzip = f.write(trail, "AWSLogs/other/fake.json.gz", b"\x1f\x8b\x08garbage")
    dangling = trail / "AWSLogs" / "other" / "gone.json.gz"
    dangling.symlink_to(trail / "nowhere")

    report = build_report([LocalLogs([str(trail)])])

    bad = {Path(b.path).name: b.reason for b in report.sources.files_bad}
    assert set(bad) == {truncated.name, not_trail.name, not_json.name, not_gzip.name, dangling.name}
    assert "truncated" in bad[truncated.name]
    assert "Records" in bad[not_trail.name]
    assert bad[not_json.name].startswith("not JSON")
    assert "gzip" in bad[not_gzip.name]
    assert bad[dangling.name].startswith("unreadable")
    assert all(row.key != f.key_arn(2) for row in report.usage)  # the truncated file's records are not counted
    assert report.sources.files_read == 3
    assert not report.complete


def test_malformed_record_is_skipped_others_of_the_file_counted(tmp_path: Path) -> None:
    broken = f.kms_event("Decrypt", APP, key=f.key_arn(1))
    del broken["eventTime"]
    f.write(
        tmp_path, f.log_key(f.ACCOUNT, f.REGION), f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1)), broken])
    )
    report = build_report([LocalLogs([str(tmp_path)])])
    assert [row.count for row in report.usage] == [1]
    assert report.sources.records_skipped == 1
    assert not report.complete


def test_units_in_name_order_with_kinds(trail: Path) -> None:
    units = list(LocalLogs([str(trail)]).units())
    kinds = [type(u).__name__ for u in units]
    assert kinds.count("LogFile") == 3
    assert kinds.count("IgnoredLog") == 1
    names = [u.name for u in units]
    assert names == sorted(names, key=lambda n: Path(n).relative_to(trail).parts)
    assert isinstance(units[0], LogFile | IgnoredLog | BadLog)


def test_a_single_file_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = f.write(tmp_path, "export.txt", f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1))]))
    report = build_report([LocalLogs([str(path)])])
    assert report.sources.files_read == 1
    assert report.usage[0].count == 1


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError, match="no such file"):
        LocalLogs([str(tmp_path / "nope")])


def test_parse_log_handles_multi_member_gzip() -> None:
    record = f.kms_event("Decrypt", APP, key=f.key_arn(1))
    text = json.dumps({"Records": [record]}).encode()
    data = gzip.compress(text[:10]) + gzip.compress(text[10:])
    assert parse_log(data) == [record]
    with pytest.raises(LogFormatError, match="Records"):
        parse_log(b'{"Records": {}}')
