"""What the format caches across messages, and that it never serves a stale answer: the header fields written
(cached by context pairs, keys and frame length), the header fields parsed (cached by their bytes, with the most
recent per context length in front), and the one-frame paths of ``encrypt``/``decrypt`` (the same bytes and the
same errors as the general ones). Per message, nothing is cached: message id, derived keys, commitment."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping

import pytest

from kmsflow.envelope import message
from kmsflow.envelope.context import check_context
from kmsflow.envelope.exceptions import AuthenticationError, MessageFormatError
from kmsflow.envelope.header import Truncated, parse_header, read_header, serialize_header_body
from kmsflow.envelope.materials import DataKey, EncryptedDataKey
from kmsflow.envelope.stream import decrypt_stream
from kmsflow.envelope.suites import COMMITTING, AlgorithmSuite
from tests.envelope.raw_aes_keyring import FIXED_KEY, FixedKeyring

FRAME = 4096
EDK = EncryptedDataKey(b"p", b"i", b"c")


class SameKeyring(FixedKeyring):
    """Hands out the same DataKey object (the same key tuple) every time, as a caching keyring does."""

    def __init__(self, edk: EncryptedDataKey = EDK) -> None:
        super().__init__()
        self.data_key = DataKey(bytearray(FIXED_KEY), (edk,))

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        super().on_encrypt(suite, context)
        return self.data_key


class AddingKeyring(SameKeyring):
    """Adds a pair to the context it is given (what the header must then carry)."""

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        context["added"] = str(len(self.encrypt_contexts))  # type: ignore[index]
        return super().on_encrypt(suite, context)


# ----------------------------------------------------------------------------------------- header written


def test_a_context_changed_after_a_call_is_serialized_afresh() -> None:
    keyring = SameKeyring()
    context = {"tenant": "a"}
    first = message.encrypt(b"x", keyring, context=context)
    context["tenant"] = "b"  # the same dict, changed: the same keys tuple comes back from the keyring
    second = message.encrypt(b"x", keyring, context=context)
    context["extra"] = "c"
    third = message.encrypt(b"x", keyring, context=context)
    del context["tenant"]
    fourth = message.encrypt(b"x", keyring, context=context)
    assert [dict(read_header(m).context) for m in (first, second, third, fourth)] == [
        {"tenant": "a"},
        {"tenant": "b"},
        {"tenant": "b", "extra": "c"},
        {"extra": "c"},
    ]
    for sealed, required in ((first, {"tenant": "a"}), (second, {"tenant": "b"}), (fourth, {"extra": "c"})):
        assert message.decrypt(sealed, keyring, required_context=required) == b"x"


def test_the_header_carries_the_context_as_the_keyring_left_it() -> None:
    keyring = AddingKeyring()
    contexts = [dict(read_header(message.encrypt(b"x", keyring, context={"k": "v"})).context) for _ in range(3)]
    assert contexts == [{"k": "v", "added": "0"}, {"k": "v", "added": "1"}, {"k": "v", "added": "2"}]


def test_written_fields_follow_keys_frame_length_and_suite() -> None:
    context = {"k": "v"}
    ids = [os.urandom(32) for _ in range(2)]
    one = (EncryptedDataKey(b"p", b"i", b"one"),)
    same_content = (EncryptedDataKey(b"p", b"i", b"one"),)
    other = (EncryptedDataKey(b"p", b"i", b"two"),)
    body = serialize_header_body(COMMITTING, ids[0], context, one, FRAME, bytes(32))
    assert serialize_header_body(COMMITTING, ids[0], context, same_content, FRAME, bytes(32)) == body
    assert serialize_header_body(COMMITTING, ids[0], context, list(one), FRAME, bytes(32)) == body
    parsed = [
        parse_header(serialize_header_body(COMMITTING, i, context, keys, frame, c) + bytes(16))[0]
        for i, keys, frame, c in ((ids[0], other, FRAME, bytes(32)), (ids[1], one, FRAME + 1, b"\1" * 32))
    ]
    assert (parsed[0].message_id, parsed[0].encrypted_data_keys, parsed[0].frame_length) == (ids[0], other, FRAME)
    assert (parsed[1].message_id, parsed[1].encrypted_data_keys, parsed[1].frame_length) == (ids[1], one, FRAME + 1)
    assert parsed[1].commitment == b"\1" * 32


def test_every_message_has_its_own_id_and_keys() -> None:
    keyring = SameKeyring()
    headers = [read_header(message.encrypt(b"x", keyring, context={"k": "v"})) for _ in range(50)]
    assert len({h.message_id for h in headers}) == 50
    assert len({h.commitment for h in headers}) == 50  # derived per message id
    assert len({h.auth_tag for h in headers}) == 50


def test_context_strings_are_plain_str() -> None:
    class Text(str):
        def __eq__(self, other: object) -> bool:
            return True  # a subclass must not decide what equals it in a cache

        __hash__ = str.__hash__

    checked = check_context({Text("k"): Text("v")})
    assert checked == {"k": "v"}
    assert [type(part) for pair in checked.items() for part in pair] == [str, str]
    keyring = SameKeyring()
    message.encrypt(b"x", keyring, context={"k": "other"})
    sealed = message.encrypt(b"x", keyring, context={Text("k"): Text("v")})
    assert dict(read_header(sealed).context) == {"k": "v"}


# ------------------------------------------------------------------------------------------ header parsed


def messages_with(edks: list[EncryptedDataKey], context: dict[str, str]) -> Iterator[bytes]:
    for edk in edks:
        yield message.encrypt(b"payload", SameKeyring(edk), context=context)


def test_parsed_fields_follow_the_bytes() -> None:
    # Same suite and context length (the recent-fields slot), keys alternating, then a changed context.
    edks = [EncryptedDataKey(b"p", b"i", bytes([n]) * 20) for n in range(3)]
    sealed = list(messages_with(edks, {"k": "v"})) + list(messages_with(edks[:1], {"k": "w"}))
    for _ in range(2):
        for data, edk in zip(sealed, [*edks, edks[0]], strict=True):
            for form in (data, bytearray(data), memoryview(data)):
                header, end = parse_header(form)
                assert header.encrypted_data_keys == (edk,)
                assert header.serialize() == data[:end]
    assert dict(read_header(sealed[-1]).context) == {"k": "w"}


def test_parsed_context_is_a_copy() -> None:
    sealed = message.encrypt(b"x", SameKeyring(), context={"k": "v"})
    first = read_header(sealed)
    first.context["k"] = "changed"  # type: ignore[index]
    assert dict(read_header(sealed).context) == {"k": "v"}
    assert message.decrypt(sealed, FixedKeyring(), required_context={"k": "v"}) == b"x"


def test_a_changed_key_after_a_cached_parse_is_read_as_changed() -> None:
    sealed = message.encrypt(b"x", SameKeyring(), context={"k": "v"})
    read_header(sealed)
    at = sealed.index(b"\0\1p\0\1i\0\1c") + 8  # the EDK's ciphertext byte
    changed = sealed[:at] + b"d" + sealed[at + 1 :]
    assert read_header(changed).encrypted_data_keys == (EncryptedDataKey(b"p", b"i", b"d"),)
    with pytest.raises(AuthenticationError, match="header authentication tag mismatch"):
        message.decrypt(changed, FixedKeyring())


def test_truncated_headers_still_say_what_they_need() -> None:
    sealed = message.encrypt(b"x", SameKeyring(), context={"k": "v"})
    header = read_header(sealed)
    for cut in (37, 50, header.length - 49, header.length - 1):
        read_header(sealed)  # the fields are cached, and recent
        with pytest.raises(Truncated) as error:
            parse_header(sealed[:cut])
        assert cut < error.value.needed <= header.length


# ---------------------------------------------------------------------------------------- one-frame paths


@pytest.mark.parametrize("size", [0, 1, 1000, FRAME - 1, FRAME])
def test_one_frame_messages_are_the_general_paths_bytes(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    plaintext = os.urandom(size)
    message_id = os.urandom(32)
    monkeypatch.setattr(os, "urandom", lambda n: message_id[:n])
    small = message.encrypt(plaintext, FixedKeyring(), context={"k": "v"}, frame_length=FRAME)
    monkeypatch.setattr(message, "SMALL_MESSAGE", -1)  # the in-place path for every size
    general = message.encrypt(plaintext, FixedKeyring(), context={"k": "v"}, frame_length=FRAME)
    assert small == general
    assert message.decrypt(small, FixedKeyring()) == plaintext
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(small), out, FixedKeyring())
    assert out.getvalue() == plaintext


def test_small_path_bound() -> None:
    for size in (message.SMALL_MESSAGE, message.SMALL_MESSAGE + 1):
        plaintext = os.urandom(size)
        sealed = message.encrypt(plaintext, FixedKeyring())
        assert message.decrypt(sealed, FixedKeyring()) == plaintext
        assert message.decrypt(bytearray(sealed), FixedKeyring()) == plaintext


def test_one_frame_errors_are_the_general_paths() -> None:
    sealed = message.encrypt(b"payload", FixedKeyring(), frame_length=FRAME)
    body = len(sealed) - (24 + 7 + 16)  # marker, sequence number, IV, length | 7 bytes | tag

    def changed(at: int, new: bytes) -> bytes:
        return sealed[:at] + new + sealed[at + len(new) :]

    cases = {
        "trailing": (sealed + b"\0", MessageFormatError, "1 bytes follow the end of the message"),
        "short": (sealed[:-1], MessageFormatError, "truncated in or before frame 1"),
        "tag": (changed(len(sealed) - 1, bytes([sealed[-1] ^ 1])), AuthenticationError, "final frame 1: auth"),
        "content": (changed(body + 24, bytes([sealed[body + 24] ^ 1])), AuthenticationError, "final frame 1"),
        # a shorter content length: the general path decrypts (tag first), then would count what follows
        "length": (changed(body + 20, b"\0\0\0\6"), AuthenticationError, "final frame 1: authentication"),
        "longer": (changed(body + 20, b"\0\0\0\x08"), MessageFormatError, "truncated in or before frame 1"),
        "beyond frame": (changed(body + 20, b"\0\0\x10\1"), MessageFormatError, "exceeds the frame length"),
        "sequence": (changed(body + 4, b"\0\0\0\2"), MessageFormatError, "sequence number 2, expected 1"),
        "iv": (changed(body + 8, b"\1"), MessageFormatError, "the IV is not the sequence number"),
        "marker": (changed(body, b"\xff\xff\xff\xfe"), MessageFormatError, "sequence number 4294967294"),
    }
    for data, error, text in cases.values():
        with pytest.raises(error, match=text):
            message.decrypt(data, FixedKeyring())
