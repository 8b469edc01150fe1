"""Messages of any length between file-like objects, in constant memory: the same bytes as
:mod:`kmsflow.envelope.message` produces and reads.

* Encrypt reads the source frame by frame (short reads are fine: it keeps reading until a frame is full or the
  source says end-of-file with ``b""``). It does not need the length: it reads one frame ahead, so the last
  frame is written as the final frame (full when the length is a multiple of the frame length).
* Decrypt writes a frame's plaintext to ``dst`` only after that frame's tag has verified, so a changed or
  truncated message stops at the first bad frame, and ``dst`` holds only plaintext that authenticated - but it
  may hold the frames before the bad one: a caller that needs all-or-nothing writes to a temporary file and
  renames it when ``decrypt_stream`` returns. Bytes after the end of the message are an error (after the last
  frame was written).
* The signed suite is written as a stream (the signature is computed as frames go), but is refused on the
  streaming read: its frames cannot be released before the signature at the very end verifies, which would
  mean holding the whole message. ``decrypt()`` reads it in memory.

Memory: a message of one or two frames uses the buffers the source returned. Longer ones reuse, to the end,
three frame-sized buffers on encrypt (two plaintext buffers taking turns - the current frame and the one read
ahead - and the output frame) and two on decrypt (the sealed frame and its plaintext), overwritten at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, cast

from kmsflow.envelope.body import END_MARKER, FINAL_PREFIX, MAX_FRAMES, REGULAR_OVERHEAD
from kmsflow.envelope.context import check_context
from kmsflow.envelope.exceptions import EnvelopeError, MessageFormatError
from kmsflow.envelope.header import Header, Truncated, parse_header
from kmsflow.envelope.materials import Keyring
from kmsflow.envelope.message import DEFAULT_FRAME_LENGTH, begin_message, open_message
from kmsflow.envelope.suites import COMMITTING, AlgorithmSuite

OnFrame = Callable[[int], None]


class Readable(Protocol):
    """What a source must offer: ``read(n)`` returning up to n bytes, ``b""`` at the end (a ``BinaryIO``, a raw
    file, a socket file...). ``readinto`` is used when present."""

    def read(self, size: int, /) -> bytes | None: ...


class Writable(Protocol):
    """What a destination must offer: ``write(data)`` returning the number of bytes taken (or ``None``)."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


#: First read for the header (a header with one KMS key and a small context is ~300 bytes).
_HEADER_READ = 4096


class _Source:
    """Exact reads from a file-like object that may return fewer bytes than asked, with bytes read ahead (while
    looking for the end of the header) served first."""

    __slots__ = ("_pending", "_read", "_readinto")

    def __init__(self, src: Readable) -> None:
        self._read = src.read
        readinto = getattr(src, "readinto", None)
        self._readinto = cast("Callable[[memoryview], int | None] | None", readinto)
        self._pending = b""

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending

    def fill(self, view: memoryview) -> int:
        """Read into ``view`` until it is full or the source ends; the number of bytes read."""
        size = len(view)
        got = 0
        if self._pending:
            got = min(size, len(self._pending))
            view[:got] = self._pending[:got]
            self._pending = self._pending[got:]
        while got < size:
            if self._readinto is not None:
                n = self._readinto(view[got:])
                if n is None:
                    raise EnvelopeError("the source is non-blocking and has no data ready; pass a blocking stream")
            else:
                chunk = self._read(size - got)
                if chunk is None:
                    raise EnvelopeError("the source is non-blocking and has no data ready; pass a blocking stream")
                n = len(chunk)
                if n > size - got:
                    raise EnvelopeError(f"the source returned {n} bytes when asked for at most {size - got}")
                view[got : got + n] = chunk
            if n == 0:
                break
            got += n
        return got

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes, fewer only at the end of the source."""
        parts: list[bytes] = []
        got = 0
        if self._pending:
            parts.append(self._pending[:size])
            self._pending = self._pending[size:]
            got = len(parts[0])
        while got < size:
            chunk = self._read(size - got)
            if chunk is None:
                raise EnvelopeError("the source is non-blocking and has no data ready; pass a blocking stream")
            if not chunk:
                break
            if len(chunk) > size - got:
                raise EnvelopeError(f"the source returned {len(chunk)} bytes when asked for at most {size - got}")
            parts.append(chunk)
            got += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def take(self, size: int) -> bytes:
        """Exactly ``size`` bytes; :class:`MessageFormatError` if the source ends first."""
        data = self.read(size)
        if len(data) != size:
            raise MessageFormatError(f"the message is truncated: {size} bytes needed, {len(data)} left")
        return data


def _read_header(source: _Source) -> Header:
    """Read the header: parse what has been read; when the parser says how many bytes its next field needs,
    read on to there. Bytes read past the header are kept for the body."""
    data = source.read(_HEADER_READ)
    while True:
        try:
            header, end = parse_header(data)
        except Truncated as short:
            more = source.read(max(short.needed - len(data), _HEADER_READ))
            if not more:
                raise
            data += more
        else:
            source.unread(data[end:])
            return header


def write_all(dst: Writable, data: bytes | bytearray | memoryview) -> None:
    """``dst.write`` until every byte is written (raw streams may write part of a buffer)."""
    view = memoryview(data)
    while view:
        n = dst.write(view)
        if n is None or n >= len(view):  # buffered streams write everything (and may return None)
            return
        view = view[n:]


def encrypt_stream(
    src: Readable,
    dst: Writable,
    keyring: Keyring,
    *,
    context: Mapping[str, str] | None = None,
    suite: AlgorithmSuite = COMMITTING,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    on_frame: OnFrame | None = None,
) -> int:
    """Encrypt ``src`` (read to its end) into ``dst``; the number of plaintext bytes. ``on_frame`` is called
    with each frame's plaintext length once the frame is written."""
    header, cipher, signer = begin_message(keyring, context, suite, frame_length)
    source = _Source(src)
    write_all(dst, header)
    fl = frame_length
    # The plaintext of the frame to write next and the frame after it, read ahead to know whether the next one is
    # the last. A message of one or two frames uses the bytes objects the source returned; longer ones switch to
    # two frame buffers that take turns, and one output buffer, reused to the end.
    current: bytes | bytearray = source.read(fl)
    ahead: bytes | bytearray = source.read(fl) if len(current) == fl else b""
    buffers: list[bytearray] = []
    sealed = memoryview(bytearray(fl + REGULAR_OVERHEAD if ahead else 0))
    sequence = 1
    total = 0
    try:
        while ahead:
            if sequence >= MAX_FRAMES:
                raise EnvelopeError(
                    f"the plaintext needs more than {MAX_FRAMES} frames of {fl} bytes: use a larger frame length"
                )
            cipher.seal_regular(sequence, current, sealed)
            if signer is not None:
                signer.hash.update(sealed)
            write_all(dst, sealed)
            total += fl
            sequence += 1
            if on_frame is not None:
                on_frame(fl)
            current = ahead
            if len(current) < fl:
                break
            if not buffers:
                buffers = [bytearray(fl), bytearray(fl)]
            ahead = buffers[sequence % 2]  # never the one ``current`` is: they alternate
            got = source.fill(memoryview(ahead))
            if got < fl:
                ahead = memoryview(ahead)[:got].tobytes() if got else b""
        prefix, sealed_final = cipher.seal_final(sequence, current)
        for part in (prefix, sealed_final):
            if signer is not None:
                signer.hash.update(part)
            write_all(dst, part)
        total += len(current)
        if on_frame is not None:
            on_frame(len(current))
    finally:
        for buffer in buffers:
            buffer[:] = bytes(fl)  # they held the caller's plaintext
    if signer is not None:
        write_all(dst, signer.footer())
    return total


def decrypt_stream(
    src: Readable,
    dst: Writable,
    keyring: Keyring,
    *,
    required_context: Mapping[str, str] | None = None,
    on_frame: OnFrame | None = None,
) -> Header:
    """Decrypt the message read from ``src`` into ``dst``, a frame at a time, each written only after its tag
    verified; the message's header. ``on_frame`` gets each frame's plaintext length after it is written.

    A signed-suite message raises :class:`EnvelopeError` right after the header is read, before any key is
    asked for: use :func:`kmsflow.envelope.message.decrypt`."""
    required = check_context(required_context)
    source = _Source(src)
    header = _read_header(source)
    if header.suite.signed:
        raise EnvelopeError(
            f"a message of the signed suite {header.suite.name} cannot be decrypted as a stream: no plaintext may "
            "be released before the signature at its end verifies; decrypt it in memory with decrypt()"
        )
    cipher = open_message(header, keyring, required)
    fl = header.frame_length
    plain: bytearray | None = None
    sealed: bytearray | None = None
    sequence = 1
    try:
        while True:
            head = source.take(4)
            if head == END_MARKER:
                break
            if plain is None or sealed is None:
                plain, sealed = bytearray(fl), bytearray(fl + 16)
            head += source.take(12)
            if source.fill(memoryview(sealed)) != len(sealed):
                raise MessageFormatError(f"the message is truncated in frame {sequence}")
            cipher.open_regular(sequence, head, sealed, plain)
            write_all(dst, plain)
            if on_frame is not None:
                on_frame(fl)
            sequence += 1
        length = cipher.final_length(sequence, head + source.take(FINAL_PREFIX - 4))
        last = source.take(length + 16)
        if source.read(1):
            raise MessageFormatError("bytes follow the end of the message")
        out = bytearray(length)
        try:
            cipher.open_final(sequence, length, last, out)
            write_all(dst, out)
        finally:
            out[:] = bytes(length)
        if on_frame is not None:
            on_frame(length)
    finally:
        if plain is not None:
            plain[:] = bytes(len(plain))
    return header
