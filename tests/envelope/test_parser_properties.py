"""Property tests of the parsers (hypothesis): arbitrary or damaged bytes never raise anything but
:class:`MessageFormatError` / :class:`AuthenticationError`, and valid headers survive a round trip."""

from __future__ import annotations

import base64
import contextlib
import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kmsflow.envelope.context import parse_context, serialize_context
from kmsflow.envelope.exceptions import AuthenticationError, MessageFormatError
from kmsflow.envelope.header import HEADER_IV, MAX_FRAME_LENGTH, parse_header, read_header, serialize_header_body
from kmsflow.envelope.materials import EncryptedDataKey
from kmsflow.envelope.message import decrypt, encrypt
from kmsflow.envelope.stream import decrypt_stream
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED
from tests.envelope.raw_aes_keyring import FixedKeyring

REFUSED = (MessageFormatError, AuthenticationError)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_POINT = (
    ec.generate_private_key(ec.SECP384R1())
    .public_key()
    .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
)
PUBLIC_KEY = base64.b64encode(_POINT).decode()

text = st.text(st.characters(codec="utf-8"), max_size=20)
contexts = st.dictionaries(text.filter(lambda k: not k.startswith("aws-crypto-")), text, max_size=5)
keys = st.lists(
    st.builds(EncryptedDataKey, text.map(str.encode), st.binary(max_size=60), st.binary(max_size=200)),
    min_size=1,
    max_size=4,
)


def message_prefix(data: bytes) -> bytes:
    """A plausible start (version and a known suite) so that the fuzzed bytes reach the deeper fields."""
    return b"\x02\x04\x78" + data


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash_the_header_parser(data: bytes) -> None:
    for candidate in (data, message_prefix(data)):
        with contextlib.suppress(MessageFormatError):
            read_header(candidate)


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash_decrypt(data: bytes) -> None:
    for candidate in (data, message_prefix(data)):
        with contextlib.suppress(*REFUSED):
            decrypt(candidate, FixedKeyring())
        with contextlib.suppress(*REFUSED):
            decrypt_stream(io.BytesIO(candidate), io.BytesIO(), FixedKeyring())


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_context_bytes(data: bytes) -> None:
    try:
        context = parse_context(data)
    except MessageFormatError:
        return
    assert serialize_context(context) == data  # whatever parses is the one canonical encoding


@SETTINGS
@given(contexts)
def test_context_round_trip(context: dict[str, str]) -> None:
    assert parse_context(serialize_context(context)) == context


@SETTINGS
@given(
    signed=st.booleans(),
    message_id=st.binary(min_size=32, max_size=32),
    context=contexts,
    encrypted_keys=keys,
    frame_length=st.integers(min_value=1, max_value=MAX_FRAME_LENGTH),
    commitment=st.binary(min_size=32, max_size=32),
    tag=st.binary(min_size=16, max_size=16),
    tail=st.binary(max_size=20),
)
def test_valid_headers_round_trip(
    signed: bool,
    message_id: bytes,
    context: dict[str, str],
    encrypted_keys: list[EncryptedDataKey],
    frame_length: int,
    commitment: bytes,
    tag: bytes,
    tail: bytes,
) -> None:
    suite = COMMITTING_SIGNED if signed else COMMITTING
    if signed:
        context = {**context, "aws-crypto-public-key": PUBLIC_KEY}
    body = serialize_header_body(suite, message_id, context, encrypted_keys, frame_length, commitment)
    header, end = parse_header(body + tag + tail)
    assert end == len(body) + 16
    assert (header.suite, header.message_id, dict(header.context)) == (suite, message_id, context)
    assert header.encrypted_data_keys == tuple(encrypted_keys)
    assert (header.frame_length, header.commitment, header.auth_tag) == (frame_length, commitment, tag)
    assert header.serialize() == body + tag
    # every strict prefix is refused as truncated
    for cut in {0, 1, len(body) // 2, len(body), len(body) + 15}:
        with pytest.raises(MessageFormatError, match="truncated"):
            parse_header(body[:cut] if cut <= len(body) else body + tag[: cut - len(body)])


@settings(max_examples=150, deadline=None)
@given(
    plaintext=st.binary(max_size=300),
    frame_length=st.integers(min_value=1, max_value=64),
    signed=st.booleans(),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=3),
)
def test_damaged_messages_are_refused(
    plaintext: bytes, frame_length: int, signed: bool, edits: list[tuple[int, int]]
) -> None:
    suite = COMMITTING_SIGNED if signed else COMMITTING
    original = encrypt(plaintext, FixedKeyring(), context={"k": "v"}, suite=suite, frame_length=frame_length)
    message = bytearray(original)
    for position, mask in edits:
        message[position % len(message)] ^= mask
    assume(message != original)  # two edits of one byte can cancel out
    try:
        decrypt(bytes(message), FixedKeyring())
    except REFUSED:
        return
    raise AssertionError("a damaged message decrypted")


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=200), cut=st.integers(min_value=0))
def test_truncated_messages_are_refused(plaintext: bytes, cut: int) -> None:
    message = encrypt(plaintext, FixedKeyring(), frame_length=16)
    cut %= len(message)
    assume(cut < len(message))
    try:
        decrypt(message[:cut], FixedKeyring())
    except MessageFormatError:
        return
    raise AssertionError("a truncated message decrypted")


def test_header_tag_is_over_the_body_with_a_zero_iv() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from kmsflow.envelope.derive import derive_keys

    message = encrypt(b"x", FixedKeyring())
    header = read_header(message)
    key, _ = derive_keys(FixedKeyring().key, header.message_id, COMMITTING)
    assert AESGCM(bytes(key)).encrypt(HEADER_IV, b"", header.body) == header.auth_tag
