"""Envelope-encrypted S3 objects: the message goes up as it is made and comes down as it is read.

Why a writer of its own rather than ``upload_fileobj``: boto3's transfer manager wants a readable source, and the
message is produced by a writer (:func:`kmsflow.envelope.stream.encrypt_stream` writes frames into a file-like
object). :class:`S3Writer` is that file-like object: it holds at most one part (plus one frame) of ciphertext,
sends a part each time one is full, and completes the multipart upload only on :meth:`S3Writer.commit`; an error
before that aborts the upload, so a failed encryption (or a failed decryption written to S3) leaves no object.
An object of at most one part goes up as a single ``PutObject`` at commit, also only on success.

The object's user metadata names the format (``x-amz-meta-kmsflow-format: aws-encryption-sdk-message-v2``) and
the algorithm suite; never a key, plaintext or the encryption context (the context is in the message header,
authenticated, where the AWS Encryption SDK also reads it). :func:`get_object` refuses an object whose metadata
names another format and accepts one without the metadata (written by the AWS Encryption SDK, say): the message
itself is checked by the decryption either way.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, TypeVar, cast

from kmsflow.envelope.exceptions import ConfigurationError, EnvelopeError, MessageFormatError

#: User metadata keys (S3 sends them as ``x-amz-meta-<key>``) and the format value.
FORMAT_KEY = "kmsflow-format"
SUITE_KEY = "kmsflow-suite"
FORMAT = "aws-encryption-sdk-message-v2"

MIB = 1024 * 1024
#: Each part but the last is exactly this long; an object up to one part is a single PUT. 16 MiB keeps the
#: writer's memory small and needs 10,000 parts (S3's limit) only past 156 GiB.
DEFAULT_PART_SIZE = 16 * MIB
#: S3 refuses smaller parts (all but the last) and more than 10,000 of them.
MIN_PART_SIZE = 5 * MIB
MAX_PARTS = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class PutResult:
    """What :func:`put_object` stored: sizes, and ``parts`` 0 for a single PUT or the multipart part count."""

    bucket: str
    key: str
    plaintext_bytes: int
    ciphertext_bytes: int
    parts: int
    etag: str


class S3Writer:
    """A write-only file-like object that becomes the S3 object ``bucket/key`` on :meth:`commit`, or nothing.

    Use it as a context manager: leaving the block normally commits, an exception aborts."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        metadata: Mapping[str, str] | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        content_type: str = "application/octet-stream",
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ConfigurationError(
                f"S3 part size {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes: pass a part_size of at "
                f"least {MIN_PART_SIZE}"
            )
        self._client = client
        self._bucket = bucket
        self._key = key
        self._metadata = dict(metadata or {})
        self._part_size = part_size
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._written = 0
        self._closed = False

    @property
    def bytes_written(self) -> int:
        return self._written

    # The file-like surface the stream writers use.
    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a committed or aborted S3Writer")
        self._buffer += data
        self._written += len(data)
        # Strictly more than a part: an object of exactly one part stays a single PUT.
        while len(self._buffer) > self._part_size:
            self._send_part(bytes(memoryview(self._buffer)[: self._part_size]))
            del self._buffer[: self._part_size]
        return len(data)

    def flush(self) -> None:
        """Parts are sent when full; nothing to flush before :meth:`commit`."""

    def commit(self) -> PutResult:
        """Send what is left and make the object visible (complete the multipart upload, or one PUT)."""
        if self._closed:
            raise ValueError("S3Writer already committed or aborted")
        self._closed = True
        try:
            if self._upload_id is None:
                response = self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._key,
                    Body=bytes(self._buffer),
                    Metadata=self._metadata,
                    ContentType=self._content_type,
                )
            else:
                if self._buffer:
                    self._upload(bytes(self._buffer))
                response = self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self._abort_upload()
            raise
        finally:
            self._buffer = bytearray()
        return PutResult(
            bucket=self._bucket,
            key=self._key,
            plaintext_bytes=0,
            ciphertext_bytes=self._written,
            parts=len(self._parts),
            etag=str(response.get("ETag", "")),
        )

    def abort(self) -> None:
        """Drop everything: no object is created (a started multipart upload is aborted). Idempotent."""
        self._closed = True
        self._buffer = bytearray()
        self._abort_upload()

    def __enter__(self) -> S3Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
        elif not self._closed:
            self.commit()

    def _send_part(self, part: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, Metadata=self._metadata, ContentType=self._content_type
            )
            self._upload_id = str(created["UploadId"])
        try:
            self._upload(part)
        except BaseException:
            self.abort()
            raise

    def _upload(self, part: bytes) -> None:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise EnvelopeError(
                f"s3://{self._bucket}/{self._key}: more than {MAX_PARTS} parts of {self._part_size} bytes; "
                "use a larger part size"
            )
        response = self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def _abort_upload(self) -> None:
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)


def put_object(
    client: Any,
    bucket: str,
    key: str,
    source: bytes | bytearray | memoryview | BinaryIO,
    encrypt: Callable[[BinaryIO, BinaryIO], int],
    *,
    suite_name: str,
    part_size: int = DEFAULT_PART_SIZE,
) -> PutResult:
    """Encrypt ``source`` with ``encrypt(src, dst) -> plaintext bytes`` straight into ``s3://bucket/key``."""
    src = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
    metadata = {FORMAT_KEY: FORMAT, SUITE_KEY: suite_name}
    with S3Writer(client, bucket, key, metadata=metadata, part_size=part_size) as writer:
        plaintext = encrypt(src, cast(BinaryIO, writer))
        result = writer.commit()
    return PutResult(
        bucket=bucket,
        key=key,
        plaintext_bytes=plaintext,
        ciphertext_bytes=result.ciphertext_bytes,
        parts=result.parts,
        etag=result.etag,
    )


def open_object(client: Any, bucket: str, key: str) -> tuple[BinaryIO, int]:
    """The object's body as a readable stream (close it after use) and its length; refuses an object whose
    metadata names a format other than this library's."""
    response = client.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    named = response.get("Metadata", {}).get(FORMAT_KEY)
    if named is not None and named != FORMAT:
        body.close()
        raise MessageFormatError(f"s3://{bucket}/{key}: metadata {FORMAT_KEY}={named!r}, expected {FORMAT!r}")
    return cast(BinaryIO, body), int(response.get("ContentLength", -1))


def get_object(client: Any, bucket: str, key: str, dst: BinaryIO, decrypt: Callable[[BinaryIO, BinaryIO], T]) -> T:
    """Stream ``s3://bucket/key`` through ``decrypt(src, dst)`` (a frame reaches ``dst`` only once verified)."""
    body, _ = open_object(client, bucket, key)
    try:
        return decrypt(body, dst)
    finally:
        body.close()


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key); ConfigurationError when either part is missing."""
    rest = url.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise ConfigurationError(f"{url!r} is not an S3 object URL: expected s3://bucket/key, a bucket and a key")
    return bucket, key
