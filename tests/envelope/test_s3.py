"""``Envelope.put_object`` / ``get_object`` on moto S3 and KMS: multipart above one part, the format in the
metadata and nothing secret there, round trips of both suites, SDK interoperability through S3, and a tampered
object refused with nothing returned or written."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from kmsflow.envelope import (
    COMMITTING,
    COMMITTING_SIGNED,
    AlgorithmSuite,
    AuthenticationError,
    ContextError,
    Envelope,
    MessageFormatError,
)
from kmsflow.envelope.s3 import MIB, MIN_PART_SIZE
from tests.envelope.test_interop import CONTEXT, REGION, World, moto_world, pattern

BUCKET = "kmsflow-envelope-objects"


@pytest.fixture
def world() -> Iterator[World]:
    with moto_world() as made:
        s3 = Envelope(made.key_arn).s3_client()
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield made


def s3(world: World) -> Any:
    return Envelope(world.key_arn).s3_client()


def test_small_object_single_put_with_format_metadata_only(world: World) -> None:
    envelope = Envelope(world.key_arn)
    result = envelope.put_object(BUCKET, "small", b"hello", context=CONTEXT)
    assert (result.parts, result.plaintext_bytes) == (0, 5)
    head = s3(world).head_object(Bucket=BUCKET, Key="small")
    assert head["Metadata"] == {
        "kmsflow-format": "aws-encryption-sdk-message-v2",
        "kmsflow-suite": "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
    }
    assert head["ContentLength"] == result.ciphertext_bytes
    assert envelope.get_object(BUCKET, "small", context=CONTEXT) == b"hello"


def test_large_object_goes_multipart_from_a_stream_and_round_trips(world: World) -> None:
    envelope = Envelope(world.key_arn)
    data = pattern(2 * MIN_PART_SIZE + 3 * MIB + 11)
    result = envelope.put_object(BUCKET, "big", io.BytesIO(data), context=CONTEXT, part_size=MIN_PART_SIZE)
    assert result.parts == 3
    assert result.plaintext_bytes == len(data)
    got = s3(world).get_object(Bucket=BUCKET, Key="big")
    ciphertext = got["Body"].read()
    assert (len(ciphertext), got["ETag"].endswith('-3"')) == (result.ciphertext_bytes, True)
    assert world.sdk_decrypt(ciphertext)[0] == data  # the object is an SDK message
    out = io.BytesIO()
    header = envelope.get_object(BUCKET, "big", out, context=CONTEXT)
    assert (out.getvalue() == data, header.suite) == (True, COMMITTING)


@pytest.mark.parametrize("suite", [COMMITTING, COMMITTING_SIGNED], ids=lambda s: s.name)
def test_both_suites_and_sdk_written_objects(world: World, suite: AlgorithmSuite) -> None:
    envelope = Envelope(world.key_arn)
    data = pattern(MIB + 1)
    envelope.put_object(BUCKET, "mine", data, context=CONTEXT, suite=suite)
    assert s3(world).head_object(Bucket=BUCKET, Key="mine")["Metadata"]["kmsflow-suite"] == suite.name
    assert envelope.get_object(BUCKET, "mine") == data
    s3(world).put_object(Bucket=BUCKET, Key="theirs", Body=world.sdk_encrypt(data, suite))  # no metadata
    assert envelope.get_object(BUCKET, "theirs", context=CONTEXT) == data


@pytest.mark.parametrize(
    ("where", "error"),
    [(0, MessageFormatError), (MIB, AuthenticationError), (-1, AuthenticationError)],
    ids=["version", "body", "last-byte"],
)
def test_a_tampered_object_is_refused_and_nothing_comes_out(world: World, where: int, error: type[Exception]) -> None:
    envelope = Envelope(world.key_arn)
    envelope.put_object(BUCKET, "obj", pattern(3 * MIB), context=CONTEXT)
    body = bytearray(s3(world).get_object(Bucket=BUCKET, Key="obj")["Body"].read())
    body[where] ^= 0x04
    s3(world).put_object(
        Bucket=BUCKET, Key="obj", Body=bytes(body), Metadata={"kmsflow-format": "aws-encryption-sdk-message-v2"}
    )
    with pytest.raises(error):
        envelope.get_object(BUCKET, "obj")


def test_a_wrong_context_is_refused(world: World) -> None:
    envelope = Envelope(world.key_arn)
    envelope.put_object(BUCKET, "ctx", b"data", context=CONTEXT)
    with pytest.raises(ContextError):
        envelope.get_object(BUCKET, "ctx", context={"tenant": "billing"})


def test_a_failed_put_leaves_no_object_and_no_upload(world: World) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if self.sent > 2 * MIN_PART_SIZE:
                raise OSError("disk gone")
            n = len(buffer)
            buffer[:n] = b"\x01" * n
            self.sent += n
            return n

    with pytest.raises(OSError, match="disk gone"):
        Envelope(world.key_arn).put_object(BUCKET, "broken", io.BufferedReader(Broken()), part_size=MIN_PART_SIZE)
    assert "Contents" not in s3(world).list_objects_v2(Bucket=BUCKET)
    assert s3(world).list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
