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

Messages made with a cached data key share their encrypted data keys and usually their context, so the bytes
between the message id and the commitment key repeat. Both directions cache them (none of them is secret), for
the committing suite only (a signed message's context holds a public key made for it):

* writing: those bytes per (suite, frame length, encrypted data keys, context pairs as they are when the header
  is written): a context changed after an earlier message is serialized afresh;
* reading: what those bytes parse to (context, keys, frame length), per the bytes themselves: the parse is a
  function of them, errors included (errors are not cached). In front, per (suite, context length), the fields
  parsed last: a header that starts with the same bytes there is found without reading the keys' lengths. The
  context is copied into each header, so a caller changing one changes nothing cached.

Per-message fields (message id, commitment key, tag) are never cached.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from kmsflow.envelope.context import PUBLIC_KEY_FIELD, parse_context, serialize_context
from kmsflow.envelope.exceptions import ConfigurationError, EnvelopeError, MessageFormatError
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


@dataclass(frozen=True)
class Header:
    """A parsed (or written) header. ``body`` is the serialized header body, the AAD of ``auth_tag``; the
    fields are not authenticated until that tag has been checked. (Not ``slots``: :func:`parse_header` makes
    one per message by setting its ``__dict__`` in one step, ~0.45 us less than the frozen ``__init__``.)"""

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


def _new_header(
    suite: AlgorithmSuite,
    message_id: bytes,
    context: Mapping[str, str],
    encrypted_data_keys: tuple[EncryptedDataKey, ...],
    frame_length: int,
    commitment: bytes,
    auth_tag: bytes,
    body: bytes,
) -> Header:
    """``Header(...)``, the same object, made without one ``object.__setattr__`` call per field."""
    header = _new(Header)
    _set(
        header,
        "__dict__",
        {
            "suite": suite,
            "message_id": message_id,
            "context": context,
            "encrypted_data_keys": encrypted_data_keys,
            "frame_length": frame_length,
            "commitment": commitment,
            "auth_tag": auth_tag,
            "body": body,
        },
    )
    return header


_new = object.__new__
_set = object.__setattr__


def check_frame_length(frame_length: int) -> int:
    if not isinstance(frame_length, int) or not 1 <= frame_length <= MAX_FRAME_LENGTH:
        raise ConfigurationError(
            f"frame length must be an integer from 1 to {MAX_FRAME_LENGTH}; got {frame_length!r}: pass a "
            "frame_length in that range"
        )
    return frame_length


def _u16_field(data: bytes, what: str) -> bytes:
    if len(data) > _U16:
        raise EnvelopeError(f"{what} is {len(data)} bytes; the message header holds at most {_U16}")
    return len(data).to_bytes(2, "big") + data


def _serialize_keys(keys: Sequence[EncryptedDataKey]) -> bytes:
    """The encrypted data keys field."""
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


def _fields(
    suite_id: int, frame_length: int, keys: Sequence[EncryptedDataKey], context: Iterable[tuple[str, str]]
) -> tuple[bytes, bytes]:
    """The header body but for the message id and the commitment key, in two pieces: version and suite id;
    AAD (the serialized context), encrypted data keys, content type and frame length."""
    return (
        _VERSION_BYTE + suite_id.to_bytes(2, "big"),
        b"".join(
            (
                _u16_field(serialize_context(dict(context)), "the serialized encryption context"),
                _serialize_keys(keys),
                _CONTENT_TYPE_BYTE,
                frame_length.to_bytes(4, "big"),
            )
        ),
    )


#: :func:`_fields` for the committing suite, cached: a caching keyring hands out the same encrypted data keys
#: for many messages, whose contexts are often the same too, and these bytes (none secret) are then the same
#: every time. Keyed by the context's pairs as they are when the header is written (so a context changed since
#: a call is serialized afresh), the keys themselves (frozen, compared by value) and the frame length. The signed
#: suite is not cached: its context holds a public key made for the message.
_cached_fields = functools.lru_cache(maxsize=256)(_fields)


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
    check_frame_length(frame_length)
    fields = _fields if suite.signed else _cached_fields
    start, middle = fields(suite.id, frame_length, tuple(keys), tuple(context.items()))
    return b"".join((start, message_id, middle, commitment))


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
    # The fields from the AAD length to the frame length: context, encrypted data keys, content type, frame length.
    recent = None if suite.signed else _RECENT.get((suite_id, context_length))
    if recent is not None and _starts_with(data, recent[0], pos - 2):
        fields, context, keys, frame_length = recent
        fields_end = pos - 2 + len(fields)
    else:
        fields_end = _fields_end(data, pos + context_length, end)
        if fields_end < 0:
            _truncated(data, start, pos, context_length, end, suite)
        fields = bytes(data[pos - 2 : fields_end])
        if suite.signed:
            context, keys, frame_length = _known_fields(fields, suite_id)
        else:
            context, keys, frame_length = _cached_known_fields(fields, suite_id)
            if len(_RECENT) >= _RECENT_SIZE:
                _RECENT.clear()
            _RECENT[suite_id, context_length] = (fields, context, keys, frame_length)
    body_end = fields_end + suite.commitment_length
    header_end = body_end + suite.tag_length
    if header_end > end:
        _truncated(data, start, pos, context_length, end, suite)
    header = _new_header(
        suite,
        bytes(data[start + 3 : start + 3 + MESSAGE_ID_LENGTH]),
        dict(context) if not suite.signed else context,  # a cached context is copied: it is never handed out
        keys,
        frame_length,
        bytes(data[fields_end:body_end]),
        bytes(data[body_end:header_end]),
        bytes(data[start:body_end]),
    )
    return header, header_end


def _truncated(
    data: bytes | bytearray | memoryview, start: int, pos: int, context_length: int, end: int, suite: AlgorithmSuite
) -> NoReturn:
    """The bytes end inside the header: the error of the first wrong field before that point, or
    :class:`Truncated` with what the next field needs (the full parse raises it)."""
    _parse_fields(data, start, pos, context_length, end, suite, 5 + suite.commitment_length + suite.tag_length)
    raise AssertionError("a truncated header parsed")  # pragma: no cover - _parse_fields raised


def _starts_with(data: bytes | bytearray | memoryview, prefix: bytes, pos: int) -> bool:
    if isinstance(data, memoryview):  # (comparing a memoryview itself costs 4x a copy)
        return bytes(data[pos : pos + len(prefix)]) == prefix
    return data.startswith(prefix, pos)


def _fields_end(data: bytes | bytearray | memoryview, pos: int, end: int) -> int:
    """Where the frame length field ends, for encrypted data keys starting at ``pos``; -1 if the bytes end
    before (lengths only: the fields are checked by :func:`_parse_fields`)."""
    if pos + 2 > end:
        return -1
    (count,) = _UINT16(data, pos)
    pos += 2
    for _ in range(3 * count):
        if pos + 2 > end:
            return -1
        pos += 2 + _UINT16(data, pos)[0]
    pos += 5
    return pos if pos <= end else -1


def _known_fields(fields: bytes, suite_id: int) -> tuple[dict[str, str], tuple[EncryptedDataKey, ...], int]:
    """Context, encrypted data keys and frame length from the header's bytes between the message id and the
    commitment key, which :func:`_fields_end` found complete."""
    return _parse_fields(fields, 0, 2, (fields[0] << 8) | fields[1], len(fields), suite_by_id(suite_id), 5)


#: :func:`_known_fields` for the committing suite, cached by those bytes (none secret): a caching keyring's
#: messages share their encrypted data keys, and often their context, so every message after the first parses
#: as one lookup. The parse is a function of those bytes alone, errors included (errors are not cached); the
#: context is copied for each header. The signed suite is not cached: its context holds a public key made for the
#: message.
_cached_known_fields = functools.lru_cache(maxsize=256)(_known_fields)

#: In front of that cache, per suite id and context length, the fields most recently parsed and what they
#: parsed to: a header whose bytes there start with the same fields is that parse (the fields delimit
#: themselves: the parser would read exactly those bytes), found without reading the lengths of the keys.
_RECENT: dict[tuple[int, int], tuple[bytes, dict[str, str], tuple[EncryptedDataKey, ...], int]] = {}
_RECENT_SIZE = 64


def _parse_fields(
    data: bytes | bytearray | memoryview,
    start: int,
    pos: int,
    context_length: int,
    end: int,
    suite: AlgorithmSuite,
    need: int,
) -> tuple[dict[str, str], tuple[EncryptedDataKey, ...], int]:
    """Context, encrypted data keys and frame length, for the context at ``pos`` (``context_length`` bytes) of
    the header at ``start``, each field checked in order. :class:`Truncated` if the bytes end before the keys
    do, or before the ``need`` bytes from the content type on (the rest of the header, or 5 for those two
    fields)."""
    signed = suite.signed
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

    if pos + need > end:
        raise Truncated(pos + need - start, end - start)
    content_type, frame_length = _TYPE_AND_FRAME(data, pos)
    if content_type != CONTENT_TYPE_FRAMED:
        kind = "non-framed content (type 0x01) is" if content_type == 0x01 else f"content type 0x{content_type:02X} is"
        raise MessageFormatError(f"{kind} not supported; kmsflow reads framed messages (type 0x02)")
    if not 1 <= frame_length <= MAX_FRAME_LENGTH:
        raise MessageFormatError(f"frame length {frame_length} is outside 1..{MAX_FRAME_LENGTH}")
    return context, tuple(keys), frame_length


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
