"""The encryption context: checking what callers pass, and its byte form (spec ``framework/structures.md``,
"Serialization").

The serialization is what the header stores (after a 2-byte length) and what keyrings use as AAD, so it must be
canonical: pairs sorted by the UTF-8 bytes of their keys, no duplicates, an empty context serialized as no bytes
at all. The reader enforces the same rules, so one context has exactly one encoding.
"""

from __future__ import annotations

from collections.abc import Mapping

from kmsflow.envelope.exceptions import ContextError, MessageFormatError

#: Keys with this prefix are the SDK's own (spec ``client-apis/encrypt.md``): refused on input.
RESERVED_PREFIX = "aws-crypto-"
#: Where a signed suite keeps its verification key: base64 of the compressed P-384 point (default CMM spec).
PUBLIC_KEY_FIELD = "aws-crypto-public-key"

_U16 = 0xFFFF


def check_context(context: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of a caller's context, refused (:class:`ContextError`) if a key or value is not a string or a key
    starts with ``aws-crypto-``. Keys and values are plain ``str`` in the copy (a subclass's are copied as
    ``str``: what is serialized, compared and cached is the text). (What cannot be encoded - lone surrogates,
    more than 65,535 bytes - is refused by :func:`serialize_context` when the header is written.)"""
    if context is None:
        return {}
    checked = dict(context)
    for key, value in checked.items():
        if type(key) is not str or type(value) is not str or key.startswith(RESERVED_PREFIX):
            return _check_pairs(checked)
    return checked


def _check_pairs(context: dict[str, str]) -> dict[str, str]:
    """:func:`check_context` for a context with a pair that is not two plain strings or a reserved key."""
    checked: dict[str, str] = {}
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ContextError(
                f"encryption context keys and values must be strings; got {type(key).__name__} -> "
                f"{type(value).__name__} for key {key!r}"
            )
        if key.startswith(RESERVED_PREFIX):
            raise ContextError(
                f"encryption context key {key!r} starts with the reserved prefix {RESERVED_PREFIX!r} (the AWS "
                "Encryption SDK's own keys); choose another key"
            )
        checked[str.__str__(key)] = str.__str__(value)
    return checked


def _utf8(text: str, what: str) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ContextError(f"encryption context {what} {text!r} is not encodable as UTF-8: {err.reason}") from None
    if len(data) > _U16:
        raise ContextError(f"encryption context {what} is {len(data)} bytes of UTF-8; at most {_U16} are allowed")
    return data


def serialize_context(context: Mapping[str, str]) -> bytes:
    """The spec's serialization: pair count (UInt16), then per pair key length, key, value length, value, sorted
    by the key's UTF-8 bytes (the same order as sorting the strings: UTF-8 preserves code point order); ``b""``
    for an empty context."""
    if not context:
        return b""
    if len(context) > _U16:
        raise ContextError(f"the encryption context has {len(context)} pairs; at most {_U16} fit the message header")
    parts = [len(context).to_bytes(2, "big")]
    for key in sorted(context):
        key_bytes = _utf8(key, "key")
        value_bytes = _utf8(context[key], f"value of {key!r}")
        parts += (len(key_bytes).to_bytes(2, "big"), key_bytes, len(value_bytes).to_bytes(2, "big"), value_bytes)
    data = b"".join(parts)
    if len(data) > _U16:
        raise ContextError(
            f"the serialized encryption context is {len(data)} bytes; the message header holds at most {_U16}"
        )
    return data


def parse_context(data: bytes) -> dict[str, str]:
    """The inverse of :func:`serialize_context`, strict: exact length, UTF-8, keys in ascending order without
    duplicates, at least one pair when there are any bytes. :class:`MessageFormatError` otherwise."""
    if not data:
        return {}
    end = len(data)
    if end < 2:
        raise MessageFormatError("encryption context: truncated pair count")
    count = (data[0] << 8) | data[1]
    if count == 0:
        raise MessageFormatError("encryption context: a non-empty context must have at least one pair")
    pos = 2
    context: dict[str, str] = {}
    previous = b""
    for index in range(count):
        if pos + 2 > end:
            raise _truncated_pair(index, count)
        key_end = pos + 2 + ((data[pos] << 8) | data[pos + 1])
        if key_end + 2 > end:
            raise _truncated_pair(index, count)
        value_end = key_end + 2 + ((data[key_end] << 8) | data[key_end + 1])
        if value_end > end:
            raise _truncated_pair(index, count)
        key = data[pos + 2 : key_end]
        if index and key <= previous:
            raise MessageFormatError("encryption context: keys are not in ascending order or are duplicated")
        previous = key
        try:
            context[key.decode("utf-8")] = data[key_end + 2 : value_end].decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError(f"encryption context: pair {index + 1} is not valid UTF-8") from None
        pos = value_end
    if pos != end:
        raise MessageFormatError(f"encryption context: {end - pos} bytes left after {count} pairs")
    return context


def _truncated_pair(index: int, count: int) -> MessageFormatError:
    return MessageFormatError(f"encryption context: pair {index + 1} of {count} is truncated")
