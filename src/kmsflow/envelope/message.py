"""Whole messages in memory: the AWS Encryption SDK message format 2.0, framed, committing suites (spec
``client-apis/encrypt.md`` and ``decrypt.md``).

Encrypt: context checked -> (signed suite: key pair, public key into the context) -> ``keyring.on_encrypt`` ->
random 32-byte message id -> HKDF keys -> header body, header tag -> frames -> (signed suite: footer).

Decrypt: header parsed -> ``keyring.on_decrypt`` with the message's context -> HKDF keys -> commitment compared
in constant time -> header tag checked -> required context pairs compared -> every frame's tag checked while it
is decrypted into a private buffer -> (signed suite: signature checked) -> no bytes left over -> only then is the
plaintext returned. On any failure the private buffer is overwritten before the error propagates.

Output buffers are written in place: a ``BytesIO`` sized once, filled through ``getbuffer()`` and returned with
``getvalue()``, which CPython hands back without a copy when the buffer is unshared. The same bytes built with
``b"".join`` or ``bytes(bytearray)`` cost a second buffer of the message's size, and fresh memory is what limits
large messages here (see ``DEFAULT_FRAME_LENGTH``).

Small messages (a target of the issue: <= 20 us per cached 1 KiB message through the Envelope) take shorter
paths with the same bytes and the same checks: a plaintext of one frame up to :data:`SMALL_MESSAGE` is sealed
by one AES-GCM call and joined to the header (copying it once costs less than the in-place buffer); a message
whose body is one final frame ending where the message ends is opened by one AES-GCM call whose output is the
plaintext, released only if the tag matches (anything else about the body goes the general way, which names
what is wrong). Neither makes a :class:`FrameCipher`. What repeats from message to message - the header's
context and encrypted data keys, written and parsed - is cached in :mod:`~kmsflow.envelope.header`; what is
per message is never cached: message id, derived key, commitment key, the cipher, every tag.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsflow.envelope.body import FrameCipher, body_length, open_single, seal_single
from kmsflow.envelope.context import PUBLIC_KEY_FIELD, check_context
from kmsflow.envelope.derive import check_commitment, derive_keys
from kmsflow.envelope.exceptions import AuthenticationError, ConfigurationError, ContextError, MessageFormatError
from kmsflow.envelope.footer import FOOTER_LENGTH, Signer, parse_footer, verification_key, verify
from kmsflow.envelope.header import (
    HEADER_IV,
    MESSAGE_ID_LENGTH,
    Header,
    check_frame_length,
    parse_header,
    read_header,
    serialize_header_body,
)
from kmsflow.envelope.materials import Keyring, wipe
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite

__all__ = ["DEFAULT_FRAME_LENGTH", "Header", "decrypt", "encrypt", "read_header"]

#: Plaintext bytes per frame, chosen by measurement (cryptography 50.0.2, CPython 3.11.7, 2-vCPU AMD EPYC VM; a
#: fixed-key keyring; best of 7; "x" = time of one raw ``AESGCM`` encrypt/decrypt call on the same bytes divided
#: by ours; streams are ``BytesIO`` to ``BytesIO``, in GB/s):
#:
#: ========  ===============  ================  ===============  ================
#: frame     1 MiB in memory  64 MiB in memory  1 MiB streamed   64 MiB streamed
#:           enc     dec      enc      dec      enc     dec      enc      dec
#: ========  ===============  ================  ===============  ================
#: 4 KiB     0.24x   0.20x    0.62x    0.56x    1.44    1.23     0.70     0.65
#: 64 KiB    0.72x   0.69x    0.95x    0.94x    4.08    4.20     1.25     1.27
#: 256 KiB   0.81x   0.78x    1.00x    0.99x    4.04    4.27     1.29     1.34
#: 1 MiB     0.84x   0.82x    1.00x    0.97x    6.87    3.86     1.39     1.45
#: ========  ===============  ================  ===============  ================
#:
#: Each frame costs ~1.2 us whatever its size (one AES-GCM call's set-up ~0.65 us, the rest Python), so the SDK's
#: 4 KiB default is 4x slower here; past 256 KiB the gain is a few percent while a stream holds three frames
#: (768 KiB at 256 KiB, 3 MiB at 1 MiB) and releases plaintext in coarser steps. A 1 KiB message costs ~11 us to
#: encrypt and ~12 us to decrypt at any frame length (key derivation ~4.4 us of it, header, one frame; it was
#: ~17 and ~20 us before the small-message paths and the header caches). Raw AES-GCM itself runs
#: at 9.5 GB/s on 1 MiB but 1.55 GB/s on 64 MiB, where fresh memory (page faults) dominates, which is why the
#: in-memory paths write into one buffer allocated once.
DEFAULT_FRAME_LENGTH = 256 * 1024

#: Largest plaintext of one frame that :func:`encrypt` seals into a ``bytes`` of its own and joins to the header:
#: one copy of the ciphertext, which up to this size costs less than the in-place buffer's set-up (fixed-key
#: keyring: 1 KiB 12.1 us against 14.6, 64 KiB 18.6 against 19.7); at 128 KiB the copy's fresh memory costs
#: far more (110 us against 27).
SMALL_MESSAGE = 64 * 1024

_SUITES = (COMMITTING, COMMITTING_SIGNED)


class Sealer(NamedTuple):
    """A message being written: its serialized header, the frame cipher and (signed suite) the signer, whose
    hash has already seen the header."""

    header: bytes
    cipher: FrameCipher
    signer: Signer | None


def begin_message(
    keyring: Keyring, context: Mapping[str, str] | None, suite: AlgorithmSuite, frame_length: int
) -> Sealer:
    """Everything up to the first frame: materials from the keyring, derived keys, the authenticated header.
    The keyring's :class:`DataKey` is not wiped (a caching keyring may reuse it); the derived key is."""
    header, aes, message_id, signer = _seal_header(keyring, context, suite, frame_length)
    return Sealer(header, FrameCipher(aes, message_id, frame_length), signer)


def _seal_header(
    keyring: Keyring, context: Mapping[str, str] | None, suite: AlgorithmSuite, frame_length: int
) -> tuple[bytes, AESGCM, bytes, Signer | None]:
    """:func:`begin_message` up to its frame cipher: header, cipher, message id, signer."""
    if suite is not COMMITTING and suite is not COMMITTING_SIGNED and suite not in _SUITES:
        raise ConfigurationError(
            f"unsupported algorithm suite {suite!r}; kmsflow writes {COMMITTING.name} and {COMMITTING_SIGNED.name}: "
            "pass suite=COMMITTING or suite=COMMITTING_SIGNED"
        )
    check_frame_length(frame_length)
    full_context = check_context(context)
    signer = Signer() if suite.signed else None
    if signer is not None:
        full_context[PUBLIC_KEY_FIELD] = signer.public_key
    data_key = keyring.on_encrypt(suite, full_context)
    message_id = os.urandom(MESSAGE_ID_LENGTH)
    key, commitment = derive_keys(data_key.plaintext, message_id, suite)
    try:
        aes = AESGCM(key)
    finally:
        wipe(key)
    body = serialize_header_body(suite, message_id, full_context, data_key.encrypted, frame_length, commitment)
    header = body + aes.encrypt(HEADER_IV, b"", body)
    if signer is not None:
        signer.hash.update(header)
    return header, aes, message_id, signer


def open_message(header: Header, keyring: Keyring, required: Mapping[str, str]) -> FrameCipher:
    """Authenticate a parsed header: data key from the keyring (wiped here once used), commitment, header tag,
    then the required context pairs. The frame cipher for its body."""
    return FrameCipher(_open_header(header, keyring, required), header.message_id, header.frame_length)


def _open_header(header: Header, keyring: Keyring, required: Mapping[str, str]) -> AESGCM:
    """:func:`open_message` up to its frame cipher: the cipher of the message's derived key."""
    if header.suite.signed:
        verification_key(header.context)  # refuse a malformed public key before any KMS call
    data_key = keyring.on_decrypt(header.suite, header.context, header.encrypted_data_keys)
    try:
        key, commitment = derive_keys(data_key, header.message_id, header.suite)
    finally:
        if isinstance(data_key, bytearray):
            wipe(data_key)
    try:
        check_commitment(commitment, header.commitment)
        aes = AESGCM(key)
    finally:
        wipe(key)
    try:
        aes.decrypt(HEADER_IV, header.auth_tag, header.body)
    except InvalidTag:
        raise AuthenticationError("header authentication tag mismatch: the header was changed") from None
    check_required(header.context, required)
    return aes


def check_required(context: Mapping[str, str], required: Mapping[str, str]) -> None:
    """Every required pair must be in the (authenticated) context of the message with the same value."""
    for key, value in required.items():
        if key not in context:
            raise ContextError(f"the message's encryption context has no key {key!r}, which is required")
        if context[key] != value:
            raise ContextError(f"the message's encryption context has another value for the required key {key!r}")


def _check_end(end: int, size: int) -> None:
    if end != size:
        raise MessageFormatError(f"{size - end} bytes follow the end of the message")


def _buffer(size: int) -> io.BytesIO:
    """A ``BytesIO`` of ``size`` zero bytes that ``getbuffer()`` can write in place."""
    buffer = io.BytesIO()
    if size:
        buffer.seek(size - 1)
        buffer.write(b"\0")
    return buffer


def encrypt(
    plaintext: bytes | bytearray | memoryview,
    keyring: Keyring,
    *,
    context: Mapping[str, str] | None = None,
    suite: AlgorithmSuite = COMMITTING,
    frame_length: int = DEFAULT_FRAME_LENGTH,
) -> bytes:
    """The message for ``plaintext``: header, framed body, and for the signed suite the footer."""
    data = memoryview(plaintext).cast("B")
    header, aes, message_id, signer = _seal_header(keyring, context, suite, frame_length)
    if signer is None and len(data) <= frame_length and len(data) <= SMALL_MESSAGE:
        return b"".join((header, *seal_single(aes, message_id, data)))
    cipher = FrameCipher(aes, message_id, frame_length)
    start = len(header)
    total = start + body_length(len(data), frame_length) + (FOOTER_LENGTH if signer is not None else 0)
    buffer = _buffer(total)
    with buffer.getbuffer() as out:
        out[:start] = header
        end = cipher.seal_body(data, out, start)
        if signer is not None:
            signer.hash.update(out[start:end])
            out[end:] = signer.footer()
    return buffer.getvalue()


def decrypt(
    message: bytes | bytearray | memoryview,
    keyring: Keyring,
    *,
    required_context: Mapping[str, str] | None = None,
) -> bytes:
    """The plaintext of ``message``, returned only once the header, every frame, the signature (signed suite)
    and the required context have been checked and no byte is left over."""
    required = check_context(required_context)
    view = memoryview(message).cast("B")
    header, start = parse_header(message if type(message) is bytes else view)  # bytes: sliced without a view
    aes = _open_header(header, keyring, required)
    if not header.suite.signed:
        single = open_single(aes, header.message_id, header.frame_length, view, start)
        if single is not None:  # one frame, up to the end of the message: nothing else to check
            return single
    cipher = FrameCipher(aes, header.message_id, header.frame_length)
    buffer = _buffer(len(view) - start)  # the plaintext is shorter than the rest of the message
    written = 0
    with buffer.getbuffer() as out:
        try:
            body_end, written = cipher.open_body(view, start, out)
            signature, end = parse_footer(view, body_end) if header.suite.signed else (b"", body_end)
            _check_end(end, len(view))
            if header.suite.signed:
                verify(verification_key(header.context), hashlib.sha384(view[:body_end]).digest(), signature)
        except BaseException:
            out[:] = bytes(len(out))
            raise
    buffer.truncate(written)
    return buffer.getvalue()
