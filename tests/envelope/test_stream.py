"""Streams: sources of unknown length that return short reads, raw destinations that take part of a write,
progress callbacks, the same bytes as the in-memory functions, constant memory, and the signed suite's refusal
to stream a decryption."""

from __future__ import annotations

import io
import os
import random
import tracemalloc

import pytest

from kmsflow.envelope.body import body_length, frame_plan
from kmsflow.envelope.exceptions import EnvelopeError, MessageFormatError
from kmsflow.envelope.message import decrypt, encrypt, read_header
from kmsflow.envelope.stream import decrypt_stream, encrypt_stream
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite
from tests.envelope.raw_aes_keyring import FixedKeyring, RawAesKeyring

FRAME = 4096
SIZES = [0, 1, FRAME - 1, FRAME, FRAME + 1, 2 * FRAME, 7 * FRAME + 123]
SUITES = [pytest.param(COMMITTING, id="committing"), pytest.param(COMMITTING_SIGNED, id="signed")]


class Trickle(io.RawIOBase):
    """A source of unknown length (no seek, no len) that hands out a random 1..``most`` bytes per read (never
    0 before its end: an empty read means end of file)."""

    def __init__(self, data: bytes, seed: int = 0, most: int = 700) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._random = random.Random(seed)
        self._most = most

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._random.randint(1, self._most), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class ReadOnly:
    """A source with only ``read`` (no ``readinto``), returning short reads."""

    def __init__(self, data: bytes, most: int = 1000) -> None:
        self._data = data
        self._pos = 0
        self._random = random.Random(1)
        self._most = most

    def read(self, size: int = -1) -> bytes:
        n = min(size, self._random.randint(1, self._most))
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


class PartialWriter(io.RawIOBase):
    """A raw destination that accepts at most 1000 bytes per write and says how many it took."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, buffer: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(buffer[:1000])
        self.data += chunk
        return len(chunk)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("size", SIZES)
def test_stream_round_trip_with_short_reads(suite: AlgorithmSuite, size: int, raw_aes_keyring: RawAesKeyring) -> None:
    plaintext = os.urandom(size)
    out = PartialWriter()
    count = encrypt_stream(
        Trickle(plaintext, seed=size), out, raw_aes_keyring, context={"k": "v"}, suite=suite, frame_length=FRAME
    )
    assert count == size
    message = bytes(out.data)
    in_memory = encrypt(plaintext, raw_aes_keyring, context={"k": "v"}, suite=suite, frame_length=FRAME)
    assert len(message) == len(in_memory)  # same layout: frames, full final frame, 103-byte signature
    assert decrypt(message, raw_aes_keyring) == plaintext
    if not suite.signed:
        sink = PartialWriter()
        header = decrypt_stream(Trickle(message, seed=size + 1), sink, raw_aes_keyring, required_context={"k": "v"})
        assert bytes(sink.data) == plaintext
        assert header.frame_length == FRAME
        assert dict(header.context) == {"k": "v"}
        sink2 = io.BytesIO()
        decrypt_stream(ReadOnly(in_memory), sink2, raw_aes_keyring)
        assert sink2.getvalue() == plaintext


def test_read_only_source_for_encryption(fixed_keyring: FixedKeyring) -> None:
    plaintext = os.urandom(5 * FRAME + 3)
    out = io.BytesIO()
    assert encrypt_stream(ReadOnly(plaintext), out, fixed_keyring, frame_length=FRAME) == len(plaintext)
    assert decrypt(out.getvalue(), fixed_keyring) == plaintext


@pytest.mark.parametrize("size", SIZES)
def test_on_frame_reports_each_frame(size: int, fixed_keyring: FixedKeyring) -> None:
    regular, final = frame_plan(size, FRAME)
    expected = [FRAME] * regular + [final]
    seen: list[int] = []
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(os.urandom(size)), out, fixed_keyring, frame_length=FRAME, on_frame=seen.append)
    assert seen == expected
    seen_back: list[int] = []
    decrypt_stream(io.BytesIO(out.getvalue()), io.BytesIO(), fixed_keyring, on_frame=seen_back.append)
    assert seen_back == expected


def test_in_memory_message_streams_back(fixed_keyring: FixedKeyring) -> None:
    plaintext = os.urandom(3 * FRAME)
    message = encrypt(plaintext, fixed_keyring, frame_length=FRAME)
    out = io.BytesIO()
    header = decrypt_stream(io.BytesIO(message), out, fixed_keyring)
    assert out.getvalue() == plaintext
    assert header == read_header(message)


def test_signed_suite_is_not_decrypted_as_a_stream(fixed_keyring: FixedKeyring) -> None:
    message = encrypt(b"payload", fixed_keyring, suite=COMMITTING_SIGNED)
    out = io.BytesIO()
    with pytest.raises(EnvelopeError, match=r"cannot be decrypted as a stream.*decrypt\(\)"):
        decrypt_stream(io.BytesIO(message), out, fixed_keyring)
    assert out.getvalue() == b""
    assert fixed_keyring.decrypt_calls == 0  # refused before any key is asked for


def test_stream_with_trailing_bytes_withholds_the_final_frame(fixed_keyring: FixedKeyring) -> None:
    plaintext = os.urandom(FRAME + 10)
    message = encrypt(plaintext, fixed_keyring, frame_length=FRAME)
    out = io.BytesIO()
    with pytest.raises(MessageFormatError, match="bytes follow the end of the message"):
        decrypt_stream(io.BytesIO(message + b"more"), out, fixed_keyring)
    assert out.getvalue() == plaintext[:FRAME]


def test_frame_count_limit_of_an_unknown_length_stream(
    fixed_keyring: FixedKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer stops before a sequence number would pass 2^32 - 1 (here lowered to 3 to be reachable)."""
    from kmsflow.envelope import stream

    monkeypatch.setattr(stream, "MAX_FRAMES", 3)
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(b"abc"), out, fixed_keyring, frame_length=1) == 3  # 2 regular + final 3
    with pytest.raises(EnvelopeError, match="needs more than 3 frames of 1 bytes: use a larger frame length"):
        encrypt_stream(io.BytesIO(b"abcd"), io.BytesIO(), fixed_keyring, frame_length=1)


def test_empty_source(fixed_keyring: FixedKeyring) -> None:
    with pytest.raises(MessageFormatError, match="truncated"):
        decrypt_stream(io.BytesIO(b""), io.BytesIO(), fixed_keyring)


def test_large_header_read_in_steps(fixed_keyring: FixedKeyring) -> None:
    """A header larger than the first read (a 20,000-byte context) is read on to its end, and the bytes read
    past it are the body's."""
    context = {f"key{i:04d}": "v" * 40 for i in range(400)}
    plaintext = os.urandom(2 * FRAME + 1)
    message = encrypt(plaintext, fixed_keyring, context=context, frame_length=FRAME)
    assert read_header(message).length > 20000
    out = io.BytesIO()
    assert dict(decrypt_stream(Trickle(message, most=5000), out, fixed_keyring).context) == context
    assert out.getvalue() == plaintext


def test_stream_64_mib_round_trip_in_constant_memory(fixed_keyring: FixedKeyring) -> None:
    """64 MiB through both directions; Python allocations stay within a few frames (tracemalloc counts the
    buffers kmsflow allocates; the source and destination here allocate nothing per read)."""
    size = 64 * 1024 * 1024
    frame = 64 * 1024
    block = os.urandom(1 << 20)

    class Repeating(io.RawIOBase):
        """``block`` over and over, ``size`` bytes in all."""

        def __init__(self) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            at = (size - self.left) % len(block)
            n = min(len(buffer), self.left, len(block) - at)
            buffer[:n] = block[at : at + n]
            self.left -= n
            return n

    class Collect(io.RawIOBase):
        def __init__(self) -> None:
            self.count = 0
            self.head = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
            if len(self.head) < 1 << 20:
                self.head += bytes(data[: (1 << 20) - len(self.head)])
            self.count += len(data)
            return len(data)

    sink = Collect()
    tracemalloc.start()
    try:
        assert encrypt_stream(Repeating(), sink, fixed_keyring, frame_length=frame) == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.count == read_header(bytes(sink.head)).length + body_length(size, frame)
    assert peak < 6 * frame + (2 << 20)  # three frame buffers, the collected first MiB, small objects

    # decrypt a regenerated stream of the same message shape: encrypt to a pipe-like buffer chunk by chunk
    message = io.BytesIO()
    encrypt_stream(Repeating(), message, fixed_keyring, frame_length=frame)
    message.seek(0)
    out = Collect()
    tracemalloc.start()
    try:
        decrypt_stream(message, out, fixed_keyring)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.count == size
    assert bytes(out.head) == block
    assert peak < 6 * frame + (2 << 20)
