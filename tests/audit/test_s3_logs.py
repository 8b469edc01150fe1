"""Reading log files from S3 (moto), in the trail layout and the organization-trail layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from kmsflow.audit.errors import AuditAwsError, AuditInputError
from kmsflow.audit.usage.pipeline import build_report
from kmsflow.audit.usage.sources import S3Logs, parse_s3_url
from kmsflow.lambdas.aws_clients import client

from . import factory as f

BUCKET = "amzn-s3-demo-trail-bucket"
ORG = "o-exampleorgid"
APP = f.assumed_role("App", "s1")


def s3_client() -> Any:
    return client("s3", region="us-east-1")


@pytest.fixture
def bucket() -> Iterator[Any]:
    with mock_aws():
        s3 = s3_client()
        s3.create_bucket(Bucket=BUCKET)
        put = lambda key, data: s3.put_object(Bucket=BUCKET, Key=key, Body=data)  # noqa: E731
        put(f"trail/{f.log_key(f.ACCOUNT, f.REGION)}", f.log_bytes([f.kms_event("Decrypt", APP, key=f.key_arn(1))] * 2))
        put(f"trail/{f.digest_key(f.ACCOUNT, f.REGION)}", f.digest_bytes())
        member = f.assumed_role("Member", "m", account=f.PARTNER)
        put(
            f"trail/{f.log_key(f.PARTNER, f.REGION2, org_id=ORG)}",
            f.log_bytes(
                [
                    f.kms_event(
                        "Encrypt",
                        member,
                        key=f.key_arn(2, account=f.PARTNER, region=f.REGION2),
                        account=f.PARTNER,
                        region=f.REGION2,
                    )
                ]
            ),
        )
        put(f"trail/{f.digest_key(f.PARTNER, f.REGION2, org_id=ORG)}", f.digest_bytes(f.PARTNER))
        put(f"trail/{f.log_key(f.ACCOUNT, f.REGION, unique='BROKENBROKENBROK')}", b"\x1f\x8b\x08\x00truncated")
        put("trail/AWSLogs/notes.txt", b"not a log")
        yield s3


def test_reads_account_and_organization_layouts_and_skips_digests(bucket: Any) -> None:
    report = build_report([S3Logs(f"s3://{BUCKET}/trail/", s3_client)])
    assert {(r.key, r.principal, r.operation): r.count for r in report.usage} == {
        (f.key_arn(1), f.role_arn("App"), "Decrypt"): 2,
        (f.key_arn(2, account=f.PARTNER, region=f.REGION2), f.role_arn("Member", f.PARTNER), "Encrypt"): 1,
    }
    stats = report.sources
    assert (stats.files_read, stats.files_ignored) == (2, 2)
    assert [b.path for b in stats.files_bad] == [
        f"s3://{BUCKET}/trail/{f.log_key(f.ACCOUNT, f.REGION, unique='BROKENBROKENBROK')}"
    ]


def test_prefix_narrows_to_one_account(bucket: Any) -> None:
    report = build_report([S3Logs(f"s3://{BUCKET}/trail/AWSLogs/{ORG}/", s3_client)])
    assert [r.principal for r in report.usage] == [f.role_arn("Member", f.PARTNER)]
    assert report.complete


def test_missing_bucket_is_an_aws_error(bucket: Any) -> None:
    with pytest.raises(AuditAwsError, match="cannot list s3://no-such-bucket"):
        build_report([S3Logs("s3://no-such-bucket/", s3_client)])


@pytest.mark.parametrize("url", ["bucket/prefix", "s3://", "https://bucket.s3.amazonaws.com/x"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(AuditInputError, match="not an S3 URL"):
        parse_s3_url(url)


def test_url_parts() -> None:
    assert parse_s3_url("s3://b") == ("b", "")
    assert parse_s3_url("s3://b/AWSLogs/1/") == ("b", "AWSLogs/1/")
