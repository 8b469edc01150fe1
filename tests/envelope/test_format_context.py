"""Algorithm suites and the encryption context: what is refused on input, and the exact serialization (spec
``framework/structures.md``) in both directions."""

from __future__ import annotations

import pytest

from kmsflow.envelope.context import check_context, parse_context, serialize_context
from kmsflow.envelope.exceptions import ContextError, MessageFormatError
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, suite_by_id


def test_suites_are_the_two_committing_ones() -> None:
    assert (COMMITTING.id, COMMITTING.signed, COMMITTING.id_bytes) == (0x0478, False, b"\x04\x78")
    assert (COMMITTING_SIGNED.id, COMMITTING_SIGNED.signed, COMMITTING_SIGNED.id_bytes) == (0x0578, True, b"\x05\x78")
    for suite in (COMMITTING, COMMITTING_SIGNED):
        assert (suite.data_key_length, suite.iv_length, suite.tag_length, suite.commitment_length) == (32, 12, 16, 32)
        assert suite_by_id(suite.id) is suite


@pytest.mark.parametrize("suite_id", [0x0000, 0x0014, 0x0178, 0x0378, 0x0479, 0xFFFF])
def test_other_suites_are_refused(suite_id: int) -> None:
    with pytest.raises(MessageFormatError, match=f"0x{suite_id:04X} is not supported"):
        suite_by_id(suite_id)


def test_empty_context_serializes_to_no_bytes() -> None:
    assert serialize_context({}) == b""
    assert parse_context(b"") == {}


def test_serialization_bytes() -> None:
    # count 2 | len 1, "a" | len 1, "1" | len 1, "b" | len 1, "2"
    assert serialize_context({"b": "2", "a": "1"}) == bytes.fromhex("0002 0001 61 0001 31 0001 62 0001 32")


def test_keys_sorted_by_utf8_bytes_not_utf16() -> None:
    # UTF-16 would put U+10000 (a surrogate pair, D800 DC00) before U+FF61; UTF-8 (EF BD A1 < F0 90 80 80) does not.
    data = serialize_context({"\U00010000": "x", "\uff61": "y", "z": "w"})
    pairs = [(b"z", b"w"), (b"\xef\xbd\xa1", b"y"), (b"\xf0\x90\x80\x80", b"x")]
    expected = b"\x00\x03" + b"".join(len(k).to_bytes(2, "big") + k + b"\x00\x01" + v for k, v in pairs)
    assert data == expected
    assert list(parse_context(data)) == ["z", "\uff61", "\U00010000"]


def test_round_trip_unicode() -> None:
    context = {"tenant": "orders", "é": "ü", "": "", "k" * 300: "v" * 1000}
    assert parse_context(serialize_context(context)) == context


@pytest.mark.parametrize("key", ["aws-crypto-public-key", "aws-crypto-anything", "aws-crypto-"])
def test_reserved_keys_refused(key: str) -> None:
    with pytest.raises(ContextError, match="reserved prefix 'aws-crypto-'"):
        check_context({"ok": "1", key: "x"})


def test_aws_prefix_without_crypto_is_allowed() -> None:
    assert check_context({"aws-cryptography": "1", "aws": "2"}) == {"aws-cryptography": "1", "aws": "2"}


def test_check_context_copies() -> None:
    original = {"a": "1"}
    checked = check_context(original)
    checked["b"] = "2"
    assert original == {"a": "1"}
    assert check_context(None) == {}


@pytest.mark.parametrize("context", [{"a": 1}, {1: "a"}, {"a": b"x"}])
def test_non_strings_refused(context: dict[object, object]) -> None:
    with pytest.raises(ContextError, match="must be strings"):
        check_context(context)  # type: ignore[arg-type]


def test_unencodable_and_oversized_refused() -> None:
    with pytest.raises(ContextError, match="not encodable as UTF-8"):
        serialize_context({"a": "\ud800"})
    with pytest.raises(ContextError, match="at most 65535 are allowed"):
        serialize_context({"a": "x" * 65536})
    with pytest.raises(ContextError, match="serialized encryption context is 70012 bytes"):
        serialize_context({"a": "x" * 35000, "b": "y" * 35000})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00", "truncated pair count"),
        (b"\x00\x00", "at least one pair"),
        (b"\x00\x01\x00\x01a", "pair 1 of 1 is truncated"),
        (b"\x00\x01\x00\x01a\x00\x02b", "pair 1 of 1 is truncated"),
        (b"\x00\x02\x00\x01a\x00\x00", "pair 2 of 2 is truncated"),
        (b"\x00\x01\x00\x01a\x00\x00\x00", "1 bytes left after 1 pairs"),
        (b"\x00\x02\x00\x01b\x00\x00\x00\x01a\x00\x00", "not in ascending order"),
        (b"\x00\x02\x00\x01a\x00\x00\x00\x01a\x00\x00", "not in ascending order or are duplicated"),
        (b"\x00\x01\x00\x01\xff\x00\x00", "not valid UTF-8"),
        (b"\x00\x01\x00\x01a\x00\x01\xc3", "not valid UTF-8"),
    ],
)
def test_parse_is_strict(data: bytes, message: str) -> None:
    with pytest.raises(MessageFormatError, match=message):
        parse_context(data)
