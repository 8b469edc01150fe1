"""Whole messages in memory: round trips of every size class, the keyring contract (what is wiped, what is
not), the encryption context on both sides, and the header errors."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pytest

from kmsflow.envelope.exceptions import AuthenticationError, ContextError, EnvelopeError, MessageFormatError
from kmsflow.envelope.header import HEADER_IV, MAX_FRAME_LENGTH, Header, parse_header, serialize_header_body
from kmsflow.envelope.materials import DataKey, EncryptedDataKey
from kmsflow.envelope.message import DEFAULT_FRAME_LENGTH, decrypt, encrypt, read_header
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite
from tests.envelope.raw_aes_keyring import FIXED_KEY, FixedKeyring, RawAesKeyring
from tests.envelope.refusals import configuration_error

SUITES = [pytest.param(COMMITTING, id="committing"), pytest.param(COMMITTING_SIGNED, id="signed")]
FRAME = 4096


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 5 * FRAME + 17, 3 * FRAME])
def test_round_trip(suite: AlgorithmSuite, size: int, raw_aes_keyring: RawAesKeyring) -> None:
    plaintext = os.urandom(size)
    message = encrypt(plaintext, raw_aes_keyring, context={"purpose": "test"}, suite=suite, frame_length=FRAME)
    assert isinstance(message, bytes)
    assert decrypt(message, raw_aes_keyring) == plaintext
    assert decrypt(message, raw_aes_keyring, required_context={"purpose": "test"}) == plaintext


@pytest.mark.parametrize("size", [0, 1, DEFAULT_FRAME_LENGTH - 1, DEFAULT_FRAME_LENGTH, DEFAULT_FRAME_LENGTH + 1])
def test_round_trip_default_frame_length(size: int, fixed_keyring: FixedKeyring) -> None:
    plaintext = os.urandom(size)
    message = encrypt(plaintext, fixed_keyring)
    assert read_header(message).frame_length == DEFAULT_FRAME_LENGTH
    assert decrypt(message, fixed_keyring) == plaintext


def test_round_trip_64_mib(fixed_keyring: FixedKeyring) -> None:
    plaintext = os.urandom(64 * 1024 * 1024)
    message = encrypt(plaintext, fixed_keyring)
    assert decrypt(message, fixed_keyring) == plaintext


def test_buffer_types_accepted(fixed_keyring: FixedKeyring) -> None:
    plaintext = os.urandom(1000)
    for given in (bytearray(plaintext), memoryview(plaintext)):
        message = encrypt(given, fixed_keyring, frame_length=300)
        assert decrypt(bytearray(message), fixed_keyring) == plaintext
        assert decrypt(memoryview(message), fixed_keyring) == plaintext


class RecordingKeyring:
    """A keyring that keeps what it handed out, to see what the format wipes."""

    def __init__(self) -> None:
        self.data_key = DataKey(bytearray(FIXED_KEY), (EncryptedDataKey(b"p", b"i", b"c"),))
        self.decrypted: list[bytearray] = []
        self.decrypt_args: list[tuple[AlgorithmSuite, dict[str, str], tuple[EncryptedDataKey, ...]]] = []

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        return self.data_key

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        self.decrypt_args.append((suite, dict(context), tuple(keys)))
        key = bytearray(FIXED_KEY)
        self.decrypted.append(key)
        return key


def test_encrypt_keeps_the_keyring_data_key_and_decrypt_wipes_its_own() -> None:
    keyring = RecordingKeyring()
    message = encrypt(b"secret", keyring, context={"a": "b"})
    assert keyring.data_key.plaintext == bytearray(FIXED_KEY)  # a cache may hand it out again
    assert decrypt(message, keyring) == b"secret"
    assert keyring.decrypted == [bytearray(32)]  # overwritten once the keys were derived
    assert keyring.decrypt_args == [(COMMITTING, {"a": "b"}, (EncryptedDataKey(b"p", b"i", b"c"),))]


def test_decrypt_wipes_the_data_key_when_the_message_is_refused() -> None:
    keyring = RecordingKeyring()
    message = bytearray(encrypt(b"secret", keyring))
    message[-1] ^= 1
    with pytest.raises(AuthenticationError):
        decrypt(message, keyring)
    assert keyring.decrypted == [bytearray(32)]


def test_wrong_data_key_fails_the_commitment() -> None:
    message = encrypt(b"secret", FixedKeyring())
    with pytest.raises(AuthenticationError, match="key commitment mismatch"):
        decrypt(message, FixedKeyring(key=bytes(32)))


def test_wrong_wrapping_key() -> None:
    message = encrypt(b"secret", RawAesKeyring("ns", "name", bytes(32)))
    with pytest.raises(EnvelopeError, match="no encrypted data key decrypts"):
        decrypt(message, RawAesKeyring("ns", "name", bytes(31) + b"\x01"))


def test_reserved_context_keys_refused_before_the_keyring_is_called(fixed_keyring: FixedKeyring) -> None:
    with pytest.raises(ContextError, match="reserved prefix"):
        encrypt(b"x", fixed_keyring, context={"aws-crypto-public-key": "forged"})
    with pytest.raises(ContextError, match="reserved prefix"):
        encrypt(b"x", fixed_keyring, context={"aws-crypto-other": "1"}, suite=COMMITTING_SIGNED)
    assert fixed_keyring.encrypt_contexts == []
    message = encrypt(b"x", fixed_keyring)
    with pytest.raises(ContextError, match="reserved prefix"):
        decrypt(message, fixed_keyring, required_context={"aws-crypto-public-key": "x"})
    assert fixed_keyring.decrypt_calls == 0


def test_required_context(fixed_keyring: FixedKeyring) -> None:
    message = encrypt(b"payload", fixed_keyring, context={"tenant": "orders", "stage": "prod"})
    assert decrypt(message, fixed_keyring, required_context={}) == b"payload"
    assert decrypt(message, fixed_keyring, required_context={"stage": "prod"}) == b"payload"
    with pytest.raises(ContextError, match="another value for the required key 'tenant'"):
        decrypt(message, fixed_keyring, required_context={"tenant": "billing"})
    with pytest.raises(ContextError, match="has no key 'region', which is required"):
        decrypt(message, fixed_keyring, required_context={"stage": "prod", "region": "eu"})


def test_signed_suite_context_carries_the_key_but_callers_do_not_need_it(fixed_keyring: FixedKeyring) -> None:
    message = encrypt(b"payload", fixed_keyring, context={"tenant": "orders"}, suite=COMMITTING_SIGNED)
    assert decrypt(message, fixed_keyring, required_context={"tenant": "orders"}) == b"payload"
    assert set(read_header(message).context) == {"tenant", "aws-crypto-public-key"}


@pytest.mark.parametrize("frame_length", [0, -1, MAX_FRAME_LENGTH + 1, 2**32])
def test_frame_length_bounds(frame_length: int, fixed_keyring: FixedKeyring) -> None:
    assert configuration_error(lambda: encrypt(b"x", fixed_keyring, frame_length=frame_length)) == (
        f"frame length must be an integer from 1 to 2147483647; got {frame_length!r}: pass a frame_length in that range"
    )


def test_frame_length_one(fixed_keyring: FixedKeyring) -> None:
    assert decrypt(encrypt(b"abc", fixed_keyring, frame_length=1), fixed_keyring) == b"abc"


def test_unknown_suite_object_refused(fixed_keyring: FixedKeyring) -> None:
    old = AlgorithmSuite(0x0178, "AES_256_GCM_IV12_TAG16_HKDF_SHA256", False)
    assert configuration_error(lambda: encrypt(b"x", fixed_keyring, suite=old)) == (
        f"unsupported algorithm suite {old!r}; kmsflow writes AES_256_GCM_HKDF_SHA512_COMMIT_KEY and "
        "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384: pass suite=COMMITTING or suite=COMMITTING_SIGNED"
    )


class BadKeyring(FixedKeyring):
    def __init__(self, data_key: DataKey) -> None:
        super().__init__()
        self.data_key = data_key

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        return self.data_key


def test_keyring_results_checked() -> None:
    with pytest.raises(EnvelopeError, match="data key of 16 bytes"):
        encrypt(b"x", BadKeyring(DataKey(bytearray(16), (EncryptedDataKey(b"p", b"i", b"c"),))))
    with pytest.raises(EnvelopeError, match="1 to 65535 encrypted data keys; the keyring returned 0"):
        encrypt(b"x", BadKeyring(DataKey(bytearray(32), ())))
    with pytest.raises(EnvelopeError, match="an encrypted data key is 65536 bytes"):
        encrypt(b"x", BadKeyring(DataKey(bytearray(32), (EncryptedDataKey(b"p", b"i", bytes(65536)),))))


def test_several_encrypted_data_keys_round_trip() -> None:
    keys = tuple(EncryptedDataKey(f"p{i}".encode(), f"info{i}".encode(), os.urandom(i)) for i in range(5))
    keyring = BadKeyring(DataKey(bytearray(FIXED_KEY), keys))
    message = encrypt(b"payload", keyring)
    assert read_header(message).encrypted_data_keys == keys
    assert decrypt(message, keyring) == b"payload"


def test_trailing_bytes_refused(fixed_keyring: FixedKeyring) -> None:
    for suite in (COMMITTING, COMMITTING_SIGNED):
        message = encrypt(b"payload", fixed_keyring, suite=suite)
        with pytest.raises(MessageFormatError, match="1 bytes follow the end of the message"):
            decrypt(message + b"\x00", fixed_keyring)


def header_with(**changes: object) -> bytes:
    """A header for FIXED_KEY with some fields changed, re-authenticated so that only the form check can
    refuse it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from kmsflow.envelope.derive import derive_keys

    fields: dict[str, object] = {
        "suite": COMMITTING,
        "message_id": bytes(32),
        "context": {},
        "keys": (EncryptedDataKey(b"p", b"i", b"c"),),
        "frame_length": 100,
    }
    fields.update(changes)
    suite = fields["suite"]
    assert isinstance(suite, AlgorithmSuite)
    key, commitment = derive_keys(FIXED_KEY, bytes(32), suite)
    body = serialize_header_body(commitment=commitment, **fields)  # type: ignore[arg-type]
    return body + AESGCM(bytes(key)).encrypt(HEADER_IV, b"", body)


def test_header_round_trip_through_parse() -> None:
    data = header_with(context={"k": "v"})
    header, end = parse_header(data + b"body")
    assert end == len(data)
    assert isinstance(header, Header)
    assert header.serialize() == data
    assert header.length == len(data)
    assert (header.suite, dict(header.context), header.frame_length) == (COMMITTING, {"k": "v"}, 100)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: b"\x01" + h[1:], "message format version 1"),
        (lambda h: b"\x03" + h[1:], "version byte 0x03, expected 0x02"),
        (lambda h: b"AgR4" + h[4:], "Base64 text of a message"),
        (lambda h: b"AYAA" + h[4:], "Base64 text of a message"),
        (lambda h: h[:1] + b"\x01\x78" + h[3:], "0x0178 is not supported"),
        (lambda h: h[:1], "truncated"),
        (lambda h: h[:-1], "truncated"),
        (lambda h: b"", "truncated"),
    ],
)
def test_header_form_errors(mutate: object, message: str) -> None:
    data = mutate(header_with())  # type: ignore[operator]
    with pytest.raises(MessageFormatError, match=message):
        read_header(data)


def test_header_field_errors() -> None:
    good = header_with()
    # no encrypted data key: count at offset 1 + 2 + 32 + 2 (empty context)
    no_keys = good[:37] + b"\x00\x00" + good[37 + 2 + 2 + 1 + 2 + 1 + 2 + 1 :]
    with pytest.raises(MessageFormatError, match="no encrypted data key"):
        read_header(no_keys)
    content_type_at = 37 + 2 + 2 + 1 + 2 + 1 + 2 + 1
    for value, text in ((b"\x01", "non-framed content"), (b"\x07", "content type 0x07")):
        with pytest.raises(MessageFormatError, match=text):
            read_header(good[:content_type_at] + value + good[content_type_at + 1 :])
    with pytest.raises(MessageFormatError, match="frame length 0 is outside"):
        read_header(good[: content_type_at + 1] + bytes(4) + good[content_type_at + 5 :])
    with pytest.raises(MessageFormatError, match="frame length 2147483648 is outside"):
        read_header(good[: content_type_at + 1] + b"\x80\x00\x00\x00" + good[content_type_at + 5 :])
    bad_provider = header_with(keys=(EncryptedDataKey(b"\xff", b"i", b"c"),))
    with pytest.raises(MessageFormatError, match="provider id is not UTF-8"):
        read_header(bad_provider)


def test_public_key_presence_must_match_the_suite() -> None:
    with pytest.raises(MessageFormatError, match="has aws-crypto-public-key but the suite is"):
        read_header(header_with(context={"aws-crypto-public-key": "AAAA"}))
    with pytest.raises(MessageFormatError, match="lacks aws-crypto-public-key but the suite is"):
        read_header(header_with(suite=COMMITTING_SIGNED))


def test_malformed_public_key_refused_before_the_keyring(fixed_keyring: FixedKeyring) -> None:
    data = header_with(suite=COMMITTING_SIGNED, context={"aws-crypto-public-key": "bm90IGEgcG9pbnQ="})
    with pytest.raises(MessageFormatError, match="not a Base64 P-384 point"):
        decrypt(data, fixed_keyring)
    assert fixed_keyring.decrypt_calls == 0
