"""The framed message body (spec ``data-format/message-body.md`` and ``message-body-aad.md``).

Regular frame: sequence number (UInt32) | IV (12) | encrypted content (frame length) | tag (16).
Final frame:   ``FF FF FF FF`` | sequence number | IV | content length (UInt32, <= frame length) | content | tag.

* Sequence numbers start at 1 and go up by one; the final frame's is the number of frames, so at most
  2^32 - 1 frames. The final frame is always present (it may be empty): it is what makes truncation at a frame
  boundary detectable.
* IV = the sequence number, big-endian, left-padded with zeros to 12 bytes. The reader requires the stored IV
  to be exactly that (as every SDK writes it), so a changed IV byte is refused too.
* AAD = message id | ``AWSKMSEncryptionClient Frame`` (or ``... Final Frame``) | sequence number (UInt32) |
  plaintext length of the frame (UInt64).
* A plaintext whose length is an exact non-zero multiple of the frame length ends with a FULL final frame (the
  spec's SHOULD); the reader also accepts an empty final frame after a regular one (the spec's MAY).

Speed: per frame, the work in Python is a few slices and one ``encrypt_into``/``decrypt_into`` call that writes
straight into the output buffer; the AAD prefix and the regular frames' length suffix are built once per message.
``decrypt_into`` checks the tag before it returns, and raises without releasing anything if it does not match.
"""

from __future__ import annotations

import struct
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsflow.envelope.exceptions import AuthenticationError, EnvelopeError, MessageFormatError

REGULAR_FRAME_AAD: Final = b"AWSKMSEncryptionClient Frame"
FINAL_FRAME_AAD: Final = b"AWSKMSEncryptionClient Final Frame"
END_MARKER: Final = b"\xff\xff\xff\xff"
#: Sequence number + IV + tag.
REGULAR_OVERHEAD: Final = 4 + 12 + 16
#: End marker + sequence number + IV + content length + tag.
FINAL_OVERHEAD: Final = 4 + 4 + 12 + 4 + 16
#: Bytes of a final frame before its content.
FINAL_PREFIX: Final = 4 + 4 + 12 + 4
MAX_FRAMES: Final = 2**32 - 1

_ZERO8: Final = bytes(8)
_END: Final = 0xFFFFFFFF
#: A final frame's prefix: end marker, sequence number, IV (8 zero bytes and the sequence number), length.
_FINAL_HEAD: Final = struct.Struct(">IIQII")
#: Of a final frame with sequence number 1 (a body of one frame): its prefix up to the content length, its IV,
#: and its AAD between the message id and the content length.
_SINGLE_HEAD: Final = END_MARKER + b"\0\0\0\1" + bytes(8) + b"\0\0\0\1"
_SINGLE_IV: Final = bytes(8) + b"\0\0\0\1"
_SINGLE_AAD: Final = FINAL_FRAME_AAD + b"\0\0\0\1"


class Hasher(Protocol):
    """What the signed suite feeds every header and body byte to (``hashlib.sha384()``)."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...


def frame_plan(plaintext_length: int, frame_length: int) -> tuple[int, int]:
    """(number of regular frames, plaintext bytes in the final frame) for a plaintext of known length."""
    if plaintext_length == 0:
        return 0, 0
    regular, rest = divmod(plaintext_length, frame_length)
    if rest == 0:
        regular, rest = regular - 1, frame_length
    if regular + 1 > MAX_FRAMES:
        raise EnvelopeError(
            f"{plaintext_length} bytes need {regular + 1} frames of {frame_length} bytes; a message holds at most "
            f"{MAX_FRAMES}: use a larger frame length"
        )
    return regular, rest


def body_length(plaintext_length: int, frame_length: int) -> int:
    """Bytes of the body for a plaintext of this length."""
    regular, final = frame_plan(plaintext_length, frame_length)
    return regular * (frame_length + REGULAR_OVERHEAD) + final + FINAL_OVERHEAD


def frame_header(sequence: int) -> bytes:
    """Sequence number and IV of a regular frame (16 bytes); the IV is its last 12."""
    seq = sequence.to_bytes(4, "big")
    return seq + _ZERO8 + seq


def final_frame_prefix(sequence: int, content_length: int) -> bytes:
    """End marker, sequence number, IV and content length of a final frame (24 bytes)."""
    return END_MARKER + frame_header(sequence) + content_length.to_bytes(4, "big")


def seal_single(aes: AESGCM, message_id: bytes, plaintext: bytes | bytearray | memoryview) -> tuple[bytes, bytes]:
    """The body of a message whose plaintext fits one frame (at most the frame length): its only frame, final,
    sequence number 1, in two pieces as :meth:`FrameCipher.seal_final` returns them. (A small message's
    path: no :class:`FrameCipher` is made.)"""
    length = len(plaintext)
    aad = message_id + _SINGLE_AAD + length.to_bytes(8, "big")
    return _SINGLE_HEAD + length.to_bytes(4, "big"), aes.encrypt(_SINGLE_IV, plaintext, aad)


def open_single(
    aes: AESGCM, message_id: bytes, frame_length: int, message: bytes | bytearray | memoryview, pos: int
) -> bytes | None:
    """The plaintext of the body at ``message[pos:]`` if it is one final frame (sequence number 1, the IV it
    must have, a content length within ``frame_length``) that ends where ``message`` does; ``None`` if it is
    anything else, for :meth:`FrameCipher.open_body` to read (and to name what is wrong). Raises only for a tag
    that does not match, and then has released nothing."""
    start = pos + FINAL_PREFIX
    if start > len(message):
        return None
    marker, sequence, iv_zeros, iv_sequence, length = _FINAL_HEAD.unpack_from(message, pos)
    end = start + length + 16
    if (
        marker != _END
        or sequence != 1
        or iv_zeros != 0
        or iv_sequence != 1
        or length > frame_length
        or end != len(message)
    ):
        return None
    try:
        return aes.decrypt(_SINGLE_IV, message[start:end], message_id + _SINGLE_AAD + length.to_bytes(8, "big"))
    except InvalidTag:
        raise AuthenticationError("final frame 1: authentication tag mismatch") from None


class FrameCipher:
    """Encrypts and decrypts the frames of one message: the AES-GCM object (created once per message) and the
    message's AAD pieces."""

    __slots__ = ("_aes", "_final_prefix", "_regular_aad_prefix", "_regular_length", "frame_length")

    def __init__(self, aes: AESGCM, message_id: bytes, frame_length: int) -> None:
        self._aes = aes
        self.frame_length = frame_length
        self._regular_aad_prefix = message_id + REGULAR_FRAME_AAD
        self._regular_length = frame_length.to_bytes(8, "big")
        self._final_prefix = message_id + FINAL_FRAME_AAD

    # -- one frame at a time (streams) ---------------------------------------------------------------------

    def seal_regular(self, sequence: int, plaintext: bytes | bytearray | memoryview, out: memoryview) -> None:
        """Write regular frame ``sequence`` (``frame_length`` plaintext bytes) into ``out`` (exactly
        ``frame_length + REGULAR_OVERHEAD`` bytes)."""
        head = frame_header(sequence)
        out[0:16] = head
        self._aes.encrypt_into(
            head[4:], plaintext, self._regular_aad_prefix + head[:4] + self._regular_length, out[16:]
        )

    def seal_final(self, sequence: int, plaintext: bytes | bytearray | memoryview) -> tuple[bytes, bytes]:
        """The final frame for this plaintext (at most ``frame_length`` bytes) in two pieces, written one after
        the other: its 24-byte prefix, and the encrypted content with the tag (not joined: no extra copy)."""
        length = len(plaintext)
        prefix = final_frame_prefix(sequence, length)
        aad = self._final_prefix + prefix[4:8] + length.to_bytes(8, "big")
        return prefix, self._aes.encrypt(prefix[8:20], plaintext, aad)

    def open_regular(
        self, sequence: int, head: bytes, sealed: bytes | bytearray | memoryview, out: bytearray | memoryview
    ) -> None:
        """Check regular frame ``sequence`` (its 16-byte ``head``: sequence number and IV) and decrypt its
        content and tag (``sealed``) into ``out``; raises before writing anything the tag does not cover."""
        expected = frame_header(sequence)
        if head != expected:
            raise _wrong_head(sequence, head, expected)
        try:
            self._aes.decrypt_into(
                expected[4:], sealed, self._regular_aad_prefix + expected[:4] + self._regular_length, out
            )
        except InvalidTag:
            raise AuthenticationError(f"frame {sequence}: authentication tag mismatch") from None

    def final_length(self, sequence: int, prefix: bytes) -> int:
        """Check a final frame's 24-byte prefix; its content length."""
        expected = frame_header(sequence)
        if prefix[4:20] != expected:
            raise _wrong_head(sequence, prefix[4:20], expected)
        length = int.from_bytes(prefix[20:24], "big")
        if length > self.frame_length:
            raise MessageFormatError(
                f"final frame {sequence}: content length {length} exceeds the frame length {self.frame_length}"
            )
        return length

    def open_final(
        self, sequence: int, length: int, sealed: bytes | bytearray | memoryview, out: bytearray | memoryview
    ) -> None:
        """Decrypt a final frame's content and tag (``sealed``; ``length`` checked by :meth:`final_length`)."""
        aad = self._final_prefix + sequence.to_bytes(4, "big") + length.to_bytes(8, "big")
        try:
            self._aes.decrypt_into(_ZERO8 + sequence.to_bytes(4, "big"), sealed, aad, out)
        except InvalidTag:
            raise AuthenticationError(f"final frame {sequence}: authentication tag mismatch") from None

    # -- a whole body in memory -------------------------------------------------------------------------------

    def seal_body(self, plaintext: memoryview, out: memoryview, pos: int) -> int:
        """Write the body for ``plaintext`` into ``out`` from ``pos`` (``body_length`` bytes); the end."""
        fl = self.frame_length
        regular, final = frame_plan(len(plaintext), fl)
        encrypt_into = self._aes.encrypt_into
        prefix, suffix = self._regular_aad_prefix, self._regular_length
        off = 0
        for sequence in range(1, regular + 1):
            seq = sequence.to_bytes(4, "big")
            iv = _ZERO8 + seq
            start = pos + 16
            end = start + fl + 16
            out[pos:start] = seq + iv
            encrypt_into(iv, plaintext[off : off + fl], prefix + seq + suffix, out[start:end])
            pos, off = end, off + fl
        sequence = regular + 1
        head = final_frame_prefix(sequence, final)
        start = pos + FINAL_PREFIX
        end = start + final + 16
        out[pos:start] = head
        aad = self._final_prefix + head[4:8] + final.to_bytes(8, "big")
        encrypt_into(head[8:20], plaintext[off : off + final], aad, out[start:end])
        return end

    def open_body(self, message: memoryview, pos: int, out: memoryview) -> tuple[int, int]:
        """Decrypt the body that starts at ``message[pos]`` into ``out``: (end of the body, plaintext bytes)."""
        fl = self.frame_length
        size = len(message)
        decrypt_into = self._aes.decrypt_into
        prefix, suffix = self._regular_aad_prefix, self._regular_length
        sequence = 1
        written = 0
        while True:
            if pos + 4 > size:
                raise _truncated(sequence)
            head = bytes(message[pos : pos + 16])
            if head[:4] == END_MARKER:
                break
            seq = sequence.to_bytes(4, "big")
            if head != seq + _ZERO8 + seq:
                if len(head) < 16:
                    raise _truncated(sequence)
                raise _wrong_head(sequence, head, seq + _ZERO8 + seq)
            end = pos + 16 + fl + 16
            if end > size:
                raise _truncated(sequence)
            try:
                decrypt_into(head[4:], message[pos + 16 : end], prefix + seq + suffix, out[written : written + fl])
            except InvalidTag:
                raise AuthenticationError(f"frame {sequence}: authentication tag mismatch") from None
            pos, written, sequence = end, written + fl, sequence + 1
        if pos + FINAL_PREFIX > size:
            raise _truncated(sequence)
        length = self.final_length(sequence, bytes(message[pos : pos + FINAL_PREFIX]))
        end = pos + FINAL_PREFIX + length + 16
        if end > size:
            raise _truncated(sequence)
        self.open_final(sequence, length, message[pos + FINAL_PREFIX : end], out[written : written + length])
        return end, written + length


def _truncated(sequence: int) -> MessageFormatError:
    return MessageFormatError(f"the message is truncated in or before frame {sequence}")


def _wrong_head(sequence: int, head: bytes, expected: bytes) -> MessageFormatError:
    if head[:4] != expected[:4]:
        got = int.from_bytes(head[:4], "big")
        return MessageFormatError(f"frame {sequence}: sequence number {got}, expected {sequence}")
    return MessageFormatError(f"frame {sequence}: the IV is not the sequence number padded to 12 bytes")
