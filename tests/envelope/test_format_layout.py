"""The bytes kmsflow writes, read back by an independent decoder written here from the specification
(``data-format/message-header.md``, ``message-body.md``, ``message-body-aad.md``, ``message-footer.md``,
``client-apis/encrypt.md``) with ``cryptography``'s HKDF and AES-GCM - not with kmsflow's parser - so that a
mistake shared by kmsflow's writer and reader cannot pass."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmsflow.envelope.body import MAX_FRAMES, body_length, frame_plan
from kmsflow.envelope.exceptions import EnvelopeError
from kmsflow.envelope.footer import FOOTER_LENGTH
from kmsflow.envelope.message import DEFAULT_FRAME_LENGTH, decrypt, encrypt, read_header
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite
from tests.envelope.raw_aes_keyring import FAKE_EDK, FIXED_KEY, FixedKeyring


@dataclass
class Decoded:
    suite_id: int
    message_id: bytes
    context: dict[str, str]
    keys: list[tuple[bytes, bytes, bytes]]
    frame_length: int
    frames: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, sequence, plaintext length)
    plaintext: bytes = b""
    signature: bytes = b""


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.data), "truncated"
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")


def hkdf(data_key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=32, salt=salt, info=info).derive(data_key)


def spec_decode(message: bytes, data_key: bytes = FIXED_KEY) -> Decoded:
    r = Reader(message)
    assert r.take(1) == b"\x02"  # version 2.0
    suite_id = r.uint(2)
    message_id = r.take(32)
    aad = r.take(r.uint(2))
    context: dict[str, str] = {}
    if aad:
        a = Reader(aad)
        for _ in range(a.uint(2)):
            key = a.take(a.uint(2)).decode()
            context[key] = a.take(a.uint(2)).decode()
        assert a.pos == len(aad)
    keys = [(r.take(r.uint(2)), r.take(r.uint(2)), r.take(r.uint(2))) for _ in range(r.uint(2))]
    assert r.take(1) == b"\x02"  # framed
    frame_length = r.uint(4)
    commitment = r.take(32)
    body_end = r.pos
    tag = r.take(16)

    suite = suite_id.to_bytes(2, "big")
    aes = AESGCM(hkdf(data_key, message_id, suite + b"DERIVEKEY"))
    assert commitment == hkdf(data_key, message_id, b"COMMITKEY")
    assert aes.decrypt(bytes(12), tag, message[:body_end]) == b""  # header tag: zero IV, empty plaintext
    decoded = Decoded(suite_id, message_id, context, keys, frame_length)

    plaintext = []
    sequence = 1
    while True:
        marker = r.uint(4)
        final = marker == 0xFFFFFFFF
        seq = r.uint(4) if final else marker
        assert seq == sequence
        iv = r.take(12)
        assert iv == seq.to_bytes(12, "big")  # sequence number, left-padded with zeros
        length = r.uint(4) if final else frame_length
        sealed = r.take(length + 16)
        label = b"AWSKMSEncryptionClient Final Frame" if final else b"AWSKMSEncryptionClient Frame"
        body_aad = message_id + label + seq.to_bytes(4, "big") + length.to_bytes(8, "big")
        plaintext.append(aes.decrypt(iv, sealed, body_aad))
        decoded.frames.append(("final" if final else "regular", seq, length))
        sequence += 1
        if final:
            break
    decoded.plaintext = b"".join(plaintext)
    if suite_id == 0x0578:
        signed_end = r.pos
        decoded.signature = r.take(r.uint(2))
        point = base64.b64decode(context["aws-crypto-public-key"])
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), point)
        digest = hashlib.sha384(message[:signed_end]).digest()
        public_key.verify(decoded.signature, digest, ec.ECDSA(Prehashed(hashes.SHA384())))
    assert r.pos == len(message), "bytes after the message"
    return decoded


SUITES = [pytest.param(COMMITTING, id="committing"), pytest.param(COMMITTING_SIGNED, id="signed")]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(
    ("size", "expected_frames"),
    [
        (0, [("final", 1, 0)]),
        (1, [("final", 1, 1)]),
        (99, [("final", 1, 99)]),
        (100, [("final", 1, 100)]),  # exactly one frame: a full final frame, no empty one
        (101, [("regular", 1, 100), ("final", 2, 1)]),
        (300, [("regular", 1, 100), ("regular", 2, 100), ("final", 3, 100)]),
        (345, [("regular", 1, 100), ("regular", 2, 100), ("regular", 3, 100), ("final", 4, 45)]),
    ],
)
def test_frames_as_specified(suite: AlgorithmSuite, size: int, expected_frames: list[tuple[str, int, int]]) -> None:
    plaintext = os.urandom(size)
    keyring = FixedKeyring()
    message = encrypt(plaintext, keyring, context={"tenant": "orders"}, suite=suite, frame_length=100)
    decoded = spec_decode(message)
    assert decoded.frames == expected_frames
    assert decoded.plaintext == plaintext
    assert decoded.suite_id == suite.id
    assert decoded.frame_length == 100
    assert decoded.keys == [(FAKE_EDK.provider_id, FAKE_EDK.provider_info, FAKE_EDK.ciphertext)]
    assert decoded.context == keyring.encrypt_contexts[0]
    if suite.signed:
        assert set(decoded.context) == {"tenant", "aws-crypto-public-key"}
        assert len(decoded.signature) == 103
    else:
        assert decoded.context == {"tenant": "orders"}
    header = read_header(message)
    assert len(message) == header.length + body_length(size, 100) + (FOOTER_LENGTH if suite.signed else 0)


def test_frame_plan_and_the_frame_count_limit() -> None:
    assert frame_plan(0, 100) == (0, 0)
    assert frame_plan(100, 100) == (0, 100)
    assert frame_plan(101, 100) == (1, 1)
    assert frame_plan(MAX_FRAMES, 1) == (MAX_FRAMES - 1, 1)  # the final frame's sequence number is 2^32 - 1
    with pytest.raises(EnvelopeError, match="need 4294967296 frames of 1 bytes; a message holds at most 4294967295"):
        frame_plan(MAX_FRAMES + 1, 1)
    assert body_length(MAX_FRAMES * 1000, 1000) == (MAX_FRAMES - 1) * 1032 + 1000 + 40


def test_signed_public_key_is_a_compressed_p384_point_given_to_the_keyring() -> None:
    keyring = FixedKeyring()
    message = encrypt(b"x", keyring, suite=COMMITTING_SIGNED)
    value = keyring.encrypt_contexts[0]["aws-crypto-public-key"]
    point = base64.b64decode(value, validate=True)
    assert len(point) == 49
    assert point[0] in (2, 3)
    assert read_header(message).context == {"aws-crypto-public-key": value}
    # a fresh key pair per message
    encrypt(b"x", keyring, suite=COMMITTING_SIGNED)
    assert keyring.encrypt_contexts[1]["aws-crypto-public-key"] != value


def test_header_fields_and_message_ids() -> None:
    keyring = FixedKeyring()
    first = encrypt(b"abc", keyring, context={"b": "2", "a": "1"}, frame_length=4096)
    second = encrypt(b"abc", keyring, context={"b": "2", "a": "1"}, frame_length=4096)
    header = read_header(first)
    assert first[:3] == b"\x02\x04\x78"
    assert first[3:35] == header.message_id
    assert first[35:37] == (2 + 2 * (2 + 1 + 2 + 1)).to_bytes(2, "big")
    assert first[37:51] == bytes.fromhex("0002 0001 61 0001 31 0001 62 0001 32")
    assert header.frame_length == 4096
    assert header.version == 2
    assert header.message_id != read_header(second).message_id
    assert first != second


def test_default_frame_length_written() -> None:
    message = encrypt(b"", FixedKeyring())
    assert read_header(message).frame_length == DEFAULT_FRAME_LENGTH
    assert spec_decode(message).frame_length == DEFAULT_FRAME_LENGTH


def test_reader_accepts_an_empty_final_frame_after_a_full_regular_one() -> None:
    """The spec's MAY (what the official SDK writes when the length is a multiple of the frame length): build
    such a body from the specification and decrypt it."""
    plaintext = os.urandom(64)
    keyring = FixedKeyring()
    single = encrypt(plaintext, keyring, frame_length=64)  # one full final frame
    header = read_header(single)
    aes = AESGCM(hkdf(FIXED_KEY, header.message_id, b"\x04\x78DERIVEKEY"))
    mid = header.message_id
    seq1, seq2 = (1).to_bytes(4, "big"), (2).to_bytes(4, "big")
    regular_aad = mid + b"AWSKMSEncryptionClient Frame" + seq1 + (64).to_bytes(8, "big")
    regular = seq1 + bytes(8) + seq1 + aes.encrypt(bytes(8) + seq1, plaintext, regular_aad)
    final_aad = mid + b"AWSKMSEncryptionClient Final Frame" + seq2 + bytes(8)
    final = b"\xff" * 4 + seq2 + bytes(8) + seq2 + bytes(4) + aes.encrypt(bytes(8) + seq2, b"", final_aad)
    message = header.serialize() + regular + final
    assert spec_decode(message).frames == [("regular", 1, 64), ("final", 2, 0)]
    assert decrypt(message, keyring) == plaintext
