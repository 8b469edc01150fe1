"""The S3 writer on its own (moto S3, and a recording fake for what moto cannot show): an object appears only on
commit, as one PUT up to one part and multipart above it, with exact part sizes; an error leaves no object and
no open multipart upload."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmsflow.envelope.exceptions import MessageFormatError
from kmsflow.envelope.s3 import (
    FORMAT,
    FORMAT_KEY,
    MIB,
    MIN_PART_SIZE,
    S3Writer,
    get_object,
    open_object,
    parse_s3_url,
    put_object,
)
from tests.envelope.refusals import configuration_error

BUCKET = "kmsflow-writer-tests"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def test_up_to_one_part_is_a_single_put_made_on_commit(s3: Any) -> None:
    data = pattern(MIN_PART_SIZE)
    writer = S3Writer(s3, BUCKET, "one", metadata={"a": "b"}, part_size=MIN_PART_SIZE)
    writer.write(data[:100])
    writer.write(data[100:])
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)  # nothing visible before commit
    result = writer.commit()
    assert (result.parts, result.ciphertext_bytes) == (0, MIN_PART_SIZE)
    got = s3.get_object(Bucket=BUCKET, Key="one")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"a": "b"}


def test_above_one_part_is_multipart_with_full_parts_and_the_rest_last(s3: Any) -> None:
    data = pattern(2 * MIN_PART_SIZE + 1)
    with S3Writer(s3, BUCKET, "multi", metadata={FORMAT_KEY: FORMAT}, part_size=MIN_PART_SIZE) as writer:
        for start in range(0, len(data), 65_536):
            writer.write(data[start : start + 65_536])
        assert s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"][0]["Key"] == "multi"
    whole = s3.get_object(Bucket=BUCKET, Key="multi")
    assert whole["Body"].read() == data
    assert whole["Metadata"] == {FORMAT_KEY: FORMAT}
    assert whole["ETag"].endswith('-3"')  # three parts: 5 MiB, 5 MiB, 1 byte (exact sizes: the fake below)


def test_an_error_in_the_block_aborts_the_upload_and_leaves_no_object(s3: Any) -> None:
    writer = S3Writer(s3, BUCKET, "gone", part_size=MIN_PART_SIZE)

    def fail_half_way() -> None:
        with writer:
            writer.write(pattern(MIN_PART_SIZE + 10))  # one part sent: a multipart upload is open
            assert s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"][0]["Key"] == "gone"
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_half_way()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    with pytest.raises(ValueError, match="committed or aborted"):
        writer.write(b"x")


def test_a_part_size_below_s3s_minimum_is_refused(s3: Any) -> None:
    assert configuration_error(lambda: S3Writer(s3, BUCKET, "k", part_size=MIN_PART_SIZE - 1)) == (
        "S3 part size 5242879 is below S3's minimum of 5242880 bytes: pass a part_size of at least 5242880"
    )


class RecordingS3:
    """Records part sizes and drops the bodies: shows how much the writer holds, without moto's own copies."""

    def __init__(self) -> None:
        self.parts: list[int] = []
        self.completed: list[dict[str, Any]] = []

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        return {"UploadId": "u-1"}

    def upload_part(self, **kwargs: Any) -> dict[str, Any]:
        self.parts.append(len(kwargs["Body"]))
        return {"ETag": f'"e{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.completed.append(kwargs["MultipartUpload"])
        return {"ETag": '"x-9"'}

    def abort_multipart_upload(self, **kwargs: Any) -> None:
        raise AssertionError("not aborted in this test")


class Lazy(io.RawIOBase):
    """A readable stream of ``size`` bytes made on demand (nothing held)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"\x5a" * n
        self.left -= n
        return n


def test_put_object_streams_in_memory_bounded_by_one_part() -> None:
    client = RecordingS3()
    size = 48 * MIB

    def copy(src: Any, dst: Any) -> int:
        total = 0
        while chunk := src.read(MIB):
            dst.write(chunk)
            total += len(chunk)
        return total

    tracemalloc.start()
    try:
        result = put_object(
            client, BUCKET, "big", io.BufferedReader(Lazy(size)), copy, suite_name="S", part_size=MIN_PART_SIZE
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert client.parts == [MIN_PART_SIZE] * 9 + [size - 9 * MIN_PART_SIZE]
    assert [part["PartNumber"] for part in client.completed[0]["Parts"]] == list(range(1, 11))
    assert (result.plaintext_bytes, result.ciphertext_bytes, result.parts) == (size, size, 10)
    assert peak < 3 * MIN_PART_SIZE  # a part being cut and sent, plus a chunk; never the 48 MiB


def test_open_object_refuses_another_format_and_accepts_no_metadata(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="other", Body=b"x", Metadata={FORMAT_KEY: "something-else"})
    with pytest.raises(MessageFormatError, match="kmsflow-format='something-else'"):
        open_object(s3, BUCKET, "other")
    s3.put_object(Bucket=BUCKET, Key="plain", Body=b"abc")
    body, length = open_object(s3, BUCKET, "plain")
    assert (body.read(), length) == (b"abc", 3)
    out = io.BytesIO()
    assert get_object(s3, BUCKET, "plain", out, lambda src, dst: dst.write(src.read())) == 3
    assert out.getvalue() == b"abc"


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://b/a/b/c") == ("b", "a/b/c")
    for bad in ("s3://b", "s3://b/", "s3:///k", "b/k"):
        assert configuration_error(partial(parse_s3_url, bad)) == (
            f"{bad!r} is not an S3 object URL: expected s3://bucket/key, a bucket and a key"
        )
