"""The message header, format version 2.0 (spec ``data-format/message-header.md``), written and parsed.

Header body, in order (big-endian):

=====================  ========  ===================================================================
version                1         ``02``
algorithm suite id     2         ``04 78`` or ``05 78``
message id             32        random
AAD                    2 + n     length of the serialized encryption context, then the serialization
encrypted data keys    2 + ...   count (> 0), then per key: provider id, provider info, ciphertext,
                                 each a UInt16 length and bytes
content type           1         ``02`` (framed; non-framed is never written and is refused)
frame length           4         UInt32, > 0
algorithm suite data   32        the commitment key
=====================  ========  ===================================================================

then the header authentication, which in version 2.0 is only the 16-byte AES-GCM tag (the IV is all zeros and
not stored) computed over the header body as AAD with an empty plaintext (spec ``client-apis/encrypt.md``; the
"encryption context to only authenticate" is empty here and serializes to no bytes).

Nothing parsed here is authenticated until the tag is checked with the derived key (``message``/``stream``).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from kmsflow.envelope.context import PUBLIC_KEY_FIELD, parse_context, serialize_context
from kmsflow.envelope.exceptions import EnvelopeError, MessageFormatError
from kmsflow.envelope.materials import EncryptedDataKey
from kmsflow.envelope.suites import AlgorithmSuite, suite_by_id

VERSION = 0x02
CONTENT_TYPE_FRAMED = 0x02
MESSAGE_ID_LENGTH = 32
#: Largest frame length written or read. The spec allows 2^32 - 1, but the official Python SDK refuses
#: anything above 2^31 - 1 (its ``MAX_FRAME_SIZE``), and a stream reader holds one frame in memory.
MAX_FRAME_LENGTH = 2**31 - 1
#: The header tag's IV: 12 zero bytes (frame IVs start at sequence number 1, so it is never reused).
HEADER_IV = bytes(12)

_U16 = 0xFFFF
_VERSION_BYTE = bytes((VERSION,))
_CONTENT_TYPE_BYTE = bytes((CONTENT_TYPE_FRAMED,))

#: Base64 of the first bytes of a v2 message (``02 04`` / ``02 05``) and of a v1 message (``01 80``): a common
#: mistake is to pass the Base64 text of a message; the spec asks readers to say so.
_BASE64_STARTS = (b"AgR", b"AgV", b"AYA")

#: Version, suite id, (message id), AAD length: the fixed start of every header.
_START_STRUCT = struct.Struct(">BH32xH")
_START = _START_STRUCT.unpack_from
_FIXED_START = _START_STRUCT.size
_UINT16 = struct.Struct(">H").unpack_from
_TYPE_AND_FRAME = struct.Struct(">BI").unpack_from


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed (or written) header. ``body`` is the serialized header body, the AAD of ``auth_tag``; the
    fields are not authenticated until that tag has been checked."""

    suite: AlgorithmSuite
    message_id: bytes
    context: Mapping[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    frame_length: int
    commitment: bytes
    auth_tag: bytes
    body: bytes

    @property
    def version(self) -> int:
        return VERSION

    @property
    def length(self) -> int:
        """Bytes of the serialized header (body and tag): where the message body starts."""
        return len(self.body) + len(self.auth_tag)

    def serialize(self) -> bytes:
        return self.body + self.auth_tag


def check_frame_length(frame_length: int) -> int:
    if not isinstance(frame_length, int) or not 1 <= frame_length <= MAX_FRAME_LENGTH:
        raise EnvelopeError(f"frame length must be an integer from 1 to {MAX_FRAME_LENGTH}; got {frame_length!r}")
    return frame_length


def _u16_field(data: bytes, what: str) -> bytes:
    if len(data) > _U16:
        raise EnvelopeError(f"{what} is {len(data)} bytes; the message header holds at most {_U16}")
    return len(data).to_bytes(2, "big") + data


@functools.lru_cache(maxsize=64)
def _serialize_keys(keys: tuple[EncryptedDataKey, ...]) -> bytes:
    """The encrypted data keys field. Cached: a caching keyring hands out the same keys for many messages, and
    their bytes (not secret) are the same every time."""
    if not 1 <= len(keys) <= _U16:
        raise EnvelopeError(f"a message needs 1 to {_U16} encrypted data keys; the keyring returned {len(keys)}")
    parts = [len(keys).to_bytes(2, "big")]
    for key in keys:
        parts += (
            _u16_field(key.provider_id, "a key provider id"),
            _u16_field(key.provider_info, "a key provider info"),
            _u16_field(key.ciphertext, "an encrypted data key"),
        )
    return b"".join(parts)


def serialize_header_body(
    suite: AlgorithmSuite,
    message_id: bytes,
    context: Mapping[str, str],
    keys: Sequence[EncryptedDataKey],
    frame_length: int,
    commitment: bytes,
) -> bytes:
    """The header body for these fields (the caller computes the tag over it)."""
    if len(message_id) != MESSAGE_ID_LENGTH or len(commitment) != suite.commitment_length:
        raise EnvelopeError("message id and commitment key must be 32 bytes each")
    context_bytes = _u16_field(serialize_context(context), "the serialized encryption context")
    return b"".join(
        (
            _VERSION_BYTE,
            suite.id_bytes,
            message_id,
            context_bytes,
            _serialize_keys(tuple(keys)),
            _CONTENT_TYPE_BYTE,
            check_frame_length(frame_length).to_bytes(4, "big"),
            commitment,
        )
    )


class Truncated(MessageFormatError):
    """The bytes end inside the header; ``needed`` is how many bytes (from the start of the header) the next
    field needs. A stream reader catches it, reads that many and parses again."""

    def __init__(self, needed: int, have: int) -> None:
        super().__init__(f"the message is truncated: its header needs at least {needed} bytes, {have} are there")
        self.needed = needed


def parse_header(data: bytes | bytearray | memoryview, start: int = 0) -> tuple[Header, int]:
    """Parse the header at ``data[start:]``, checking every field's form: the header and where it ends.
    :class:`MessageFormatError` names the first field that is wrong (:class:`Truncated` if the bytes end)."""
    end = len(data)
    pos = start + _FIXED_START
    if pos > end:
        if end > start and data[start] != VERSION:
            _wrong_version(bytes(data[start : start + 3]))
        raise Truncated(pos - start, end - start)
    version, suite_id, context_length = _START(data, start)
    if version != VERSION:
        _wrong_version(bytes(data[start : start + 3]))
    suite = suite_by_id(suite_id)
    signed = suite.signed
    message_id = bytes(data[start + 3 : start + 3 + MESSAGE_ID_LENGTH])

    if pos + context_length + 2 > end:
        raise Truncated(pos + context_length + 2 - start, end - start)
    context = parse_context(bytes(data[pos : pos + context_length]))
    if (PUBLIC_KEY_FIELD in context) != signed:
        state = "has" if not signed else "lacks"
        raise MessageFormatError(
            f"the encryption context {state} {PUBLIC_KEY_FIELD} but the suite is {suite.name}: only signed suites "
            "carry it, and they must"
        )
    pos += context_length
    (count,) = _UINT16(data, pos)
    pos += 2
    if count == 0:
        raise MessageFormatError("the header has no encrypted data key")
    keys = []
    for _ in range(count):
        fields = []
        for _ in range(3):
            if pos + 2 > end:
                raise Truncated(pos + 2 - start, end - start)
            (length,) = _UINT16(data, pos)
            pos += 2
            if pos + length > end:
                raise Truncated(pos + length - start, end - start)
            fields.append(bytes(data[pos : pos + length]))
            pos += length
        provider_id, provider_info, ciphertext = fields
        try:
            provider_id.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError("an encrypted data key's provider id is not UTF-8") from None
        keys.append(EncryptedDataKey(provider_id, provider_info, ciphertext))

    body_end = pos + 5 + suite.commitment_length
    header_end = body_end + suite.tag_length
    if header_end > end:
        raise Truncated(header_end - start, end - start)
    content_type, frame_length = _TYPE_AND_FRAME(data, pos)
    if content_type != CONTENT_TYPE_FRAMED:
        kind = "non-framed content (type 0x01) is" if content_type == 0x01 else f"content type 0x{content_type:02X} is"
        raise MessageFormatError(f"{kind} not supported; kmsflow reads framed messages (type 0x02)")
    if not 1 <= frame_length <= MAX_FRAME_LENGTH:
        raise MessageFormatError(f"frame length {frame_length} is outside 1..{MAX_FRAME_LENGTH}")
    header = Header(
        suite,
        message_id,
        context,
        tuple(keys),
        frame_length,
        bytes(data[pos + 5 : body_end]),
        bytes(data[body_end:header_end]),
        bytes(data[start:body_end]),
    )
    return header, header_end


def _wrong_version(first: bytes) -> NoReturn:
    if first.startswith(_BASE64_STARTS):
        raise MessageFormatError("this looks like the Base64 text of a message: decode it to bytes first")
    if first[0] == 0x01:
        raise MessageFormatError(
            "message format version 1 (the SDK's non-committing suites) is not supported; kmsflow reads "
            "version 2 (committing suites)"
        )
    raise MessageFormatError(f"not an AWS Encryption SDK message: version byte 0x{first[0]:02X}, expected 0x02")


def read_header(data: bytes | bytearray | memoryview) -> Header:
    """The header at the start of ``data``, for inspection: checked for form only, NOT authenticated."""
    return parse_header(data)[0]
