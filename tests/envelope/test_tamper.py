"""Changed, truncated, extended and spliced messages are refused, and no plaintext comes out of them.

The keyring is :class:`FixedKeyring`: it returns the right data key whatever the header says, so every refusal
here comes from the format itself (header tag, key commitment, frame tags, sequence numbers and IVs, lengths,
signature) and not from a keyring noticing a changed encrypted data key.

In memory nothing is returned. As a stream, a frame's plaintext is written only after its tag verified, so the
destination holds exactly the frames BEFORE the damaged one (never a byte of it, and never the final frame of a
message that does not end properly).
"""

from __future__ import annotations

import io
import os

import pytest

from kmsflow.envelope.exceptions import AuthenticationError, MessageFormatError
from kmsflow.envelope.message import decrypt, encrypt, read_header
from kmsflow.envelope.stream import decrypt_stream
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite
from tests.envelope.raw_aes_keyring import FixedKeyring

FRAME = 32
PLAINTEXT = os.urandom(3 * FRAME + 4)  # three regular frames and a final frame of 4 bytes
CONTEXT = {"tenant": "orders"}
REFUSED = (AuthenticationError, MessageFormatError)
SUITES = [pytest.param(COMMITTING, id="committing"), pytest.param(COMMITTING_SIGNED, id="signed")]


def make(suite: AlgorithmSuite) -> bytes:
    return encrypt(PLAINTEXT, FixedKeyring(), context=CONTEXT, suite=suite, frame_length=FRAME)


def flip(message: bytes, index: int, bit: int = 1) -> bytes:
    changed = bytearray(message)
    changed[index] ^= bit
    return bytes(changed)


def released_before(message: bytes, index: int) -> bytes:
    """The plaintext a stream may have written when the byte at ``index`` is the first bad one: the regular
    frames that end before it."""
    start = read_header(message).length
    whole = 0 if index < start else min((index - start) // (FRAME + 32), 3)
    return PLAINTEXT[: whole * FRAME]


def stream_decrypt(message: bytes) -> tuple[Exception | None, bytes]:
    out = io.BytesIO()
    try:
        decrypt_stream(io.BytesIO(message), out, FixedKeyring())
    except REFUSED as err:
        return err, out.getvalue()
    return None, out.getvalue()


@pytest.mark.parametrize("suite", SUITES)
def test_every_byte_flipped_is_refused(suite: AlgorithmSuite) -> None:
    message = make(suite)
    assert decrypt(message, FixedKeyring()) == PLAINTEXT
    for index in range(len(message)):
        for bit in (0x01, 0x80):
            with pytest.raises(REFUSED):
                decrypt(flip(message, index, bit), FixedKeyring())


def test_every_byte_flipped_in_a_stream_releases_only_earlier_frames() -> None:
    message = make(COMMITTING)
    for index in range(len(message)):
        err, written = stream_decrypt(flip(message, index))
        assert err is not None, index
        assert written == released_before(message, index), index


def field_offsets(message: bytes) -> dict[str, int]:
    """Offset of one byte inside each field of ``message`` (the spec's field order)."""
    header = read_header(message)
    context_length = int.from_bytes(message[35:37], "big")
    edk = 37 + context_length + 2
    provider_id_length = int.from_bytes(message[edk : edk + 2], "big")
    info_at = edk + 2 + provider_id_length
    info_length = int.from_bytes(message[info_at : info_at + 2], "big")
    ciphertext_at = info_at + 2 + info_length
    content_type = header.length - 16 - 32 - 4 - 1
    frame2 = header.length + FRAME + 32
    final = header.length + 3 * (FRAME + 32)
    offsets = {
        "version": 0,
        "suite id": 2,
        "message id": 20,
        "AAD length": 36,
        "context value": 37 + context_length - 1,
        "EDK count": 37 + context_length + 1,
        "EDK provider id": edk + 2,
        "EDK provider info": info_at + 2,
        "EDK ciphertext": ciphertext_at + 2,
        "content type": content_type,
        "frame length": content_type + 4,
        "commitment key": content_type + 5 + 31,
        "header tag": header.length - 1,
        "frame 2 sequence number": frame2 + 3,
        "frame 2 IV": frame2 + 15,
        "frame 2 content": frame2 + 16 + 5,
        "frame 2 tag": frame2 + 16 + FRAME + 15,
        "final frame marker": final,
        "final frame sequence number": final + 7,
        "final frame IV": final + 19,
        "final frame content length": final + 23,
        "final frame content": final + 24,
        "final frame tag": final + 24 + 4 + 15,
    }
    if header.suite.signed:
        offsets["footer signature length"] = final + 24 + 4 + 16 + 1
        offsets["footer signature"] = len(message) - 1
    return offsets


#: What each field's change is refused as (unsigned suite): the check that must catch it.
EXPECTED = {
    "version": (MessageFormatError, "version byte 0x03"),
    "suite id": (MessageFormatError, "0x0[45]79 is not supported"),
    "message id": (AuthenticationError, "key commitment mismatch"),
    "AAD length": (MessageFormatError, "encryption context|truncated"),
    "context value": (AuthenticationError, "header authentication tag mismatch"),
    "EDK count": (MessageFormatError, "no encrypted data key"),
    "EDK provider id": (AuthenticationError, "header authentication tag mismatch"),
    "EDK provider info": (AuthenticationError, "header authentication tag mismatch"),
    "EDK ciphertext": (AuthenticationError, "header authentication tag mismatch"),
    "content type": (MessageFormatError, "content type 0x03"),
    "frame length": (AuthenticationError, "header authentication tag mismatch"),
    "commitment key": (AuthenticationError, "key commitment mismatch"),
    "header tag": (AuthenticationError, "header authentication tag mismatch"),
    "frame 2 sequence number": (MessageFormatError, "frame 2: sequence number 3, expected 2"),
    "frame 2 IV": (MessageFormatError, "frame 2: the IV is not the sequence number"),
    "frame 2 content": (AuthenticationError, "frame 2: authentication tag mismatch"),
    "frame 2 tag": (AuthenticationError, "frame 2: authentication tag mismatch"),
    "final frame marker": (MessageFormatError, "frame 4: sequence number 4278190079, expected 4"),
    "final frame sequence number": (MessageFormatError, "frame 4: sequence number 5, expected 4"),
    "final frame IV": (MessageFormatError, "frame 4: the IV is not the sequence number"),
    "final frame content length": (MessageFormatError, "truncated"),
    "final frame content": (AuthenticationError, "final frame 4: authentication tag mismatch"),
    "final frame tag": (AuthenticationError, "final frame 4: authentication tag mismatch"),
    "footer signature length": (MessageFormatError, "truncated|follow the end"),
    "footer signature": (AuthenticationError, "signature does not verify"),
}


@pytest.mark.parametrize("suite", SUITES)
def test_each_field_refused_by_its_check(suite: AlgorithmSuite) -> None:
    message = make(suite)
    for name, index in field_offsets(message).items():
        error, text = EXPECTED[name]
        if suite.signed and name == "final frame content length":
            error, text = AuthenticationError, "final frame 4: authentication tag mismatch"  # reads into the footer
        with pytest.raises(error, match=text):
            decrypt(flip(message, index), FixedKeyring())
        if not suite.signed:
            err, written = stream_decrypt(flip(message, index))
            assert isinstance(err, error), name
            assert written == released_before(message, index), name


@pytest.mark.parametrize("suite", SUITES)
def test_every_truncation_is_refused(suite: AlgorithmSuite) -> None:
    message = make(suite)
    for length in range(len(message)):
        with pytest.raises(MessageFormatError, match="truncated"):
            decrypt(message[:length], FixedKeyring())


def test_every_truncation_of_a_stream_releases_only_whole_earlier_frames() -> None:
    message = make(COMMITTING)
    header_length = read_header(message).length
    for length in range(len(message)):
        err, written = stream_decrypt(message[:length])
        assert isinstance(err, MessageFormatError), length
        whole = max(0, min((length - header_length) // (FRAME + 32), 3))
        assert written == PLAINTEXT[: whole * FRAME], length
    boundaries = [header_length + k * (FRAME + 32) for k in range(4)]
    assert [stream_decrypt(message[:b])[1] for b in boundaries] == [PLAINTEXT[: k * FRAME] for k in range(4)]


@pytest.mark.parametrize("suite", SUITES)
def test_extended_messages_refused(suite: AlgorithmSuite) -> None:
    message = make(suite)
    for extra in (b"\x00", b"\xff" * 100, message):
        with pytest.raises(MessageFormatError, match="follow the end of the message"):
            decrypt(message + extra, FixedKeyring())
    if not suite.signed:
        err, written = stream_decrypt(message + b"\x00")
        assert isinstance(err, MessageFormatError)
        assert written == PLAINTEXT[: 3 * FRAME]  # the final frame is held back until the end is checked


def frames(message: bytes) -> tuple[bytes, list[bytes], bytes]:
    start = read_header(message).length
    regular = [message[start + k * (FRAME + 32) : start + (k + 1) * (FRAME + 32)] for k in range(3)]
    return message[:start], regular, message[start + 3 * (FRAME + 32) :]


def with_sequence(frame: bytes, sequence: int) -> bytes:
    seq = sequence.to_bytes(4, "big")
    return seq + bytes(8) + seq + frame[16:]


def test_frames_reordered_dropped_duplicated_or_spliced() -> None:
    message = make(COMMITTING)
    head, (f1, f2, f3), final = frames(message)
    cases = {
        "swapped": (head + f2 + f1 + f3 + final, MessageFormatError),
        "swapped, sequence numbers rewritten": (
            head + with_sequence(f2, 1) + with_sequence(f1, 2) + f3 + final,
            AuthenticationError,
        ),
        "dropped": (head + f1 + f3 + final, MessageFormatError),
        "dropped, renumbered": (head + f1 + with_sequence(f3, 2) + final, AuthenticationError),
        "duplicated": (head + f1 + f1 + f2 + f3 + final, MessageFormatError),
        "final frame dropped": (head + f1 + f2 + f3, MessageFormatError),
    }
    other_head, (g1, g2, g3), other_final = frames(make(COMMITTING))  # same data key, another message id
    cases["body of another message"] = (head + g1 + g2 + g3 + other_final, AuthenticationError)
    cases["final frame of another message"] = (head + f1 + f2 + f3 + other_final, AuthenticationError)
    cases["header of another message"] = (other_head + f1 + f2 + f3 + final, AuthenticationError)
    for name, (changed, error) in cases.items():
        with pytest.raises(error):
            decrypt(changed, FixedKeyring())
        err, _ = stream_decrypt(changed)
        assert isinstance(err, error), name


def test_signed_message_with_its_signature_replaced() -> None:
    message = make(COMMITTING_SIGNED)
    other = make(COMMITTING_SIGNED)
    signature_at = len(message) - 105
    with pytest.raises(AuthenticationError, match="signature does not verify"):
        decrypt(message[:signature_at] + other[-105:], FixedKeyring())
    with pytest.raises(AuthenticationError, match="signature does not verify"):
        decrypt(message[:signature_at] + b"\x00\x08" + bytes.fromhex("3006020101020101"), FixedKeyring())
