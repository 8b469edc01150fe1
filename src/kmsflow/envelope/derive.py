"""Key derivation for the committing suites (spec ``client-apis/key-derivation.md``): HKDF-SHA512 (RFC 5869)
with the data key as input keying material and the message id as salt; one extract, two expands:

* encryption key = expand(info = suite id (2 bytes) + ``DERIVEKEY``, 32 bytes)
* commitment key = expand(info = ``COMMITKEY``, 32 bytes), stored in the header and compared on decrypt in
  constant time.

32 bytes is less than one SHA-512 output, so each expand is a single HMAC of ``info | 0x01``. HMAC-SHA512 is
written out on :mod:`hashlib` (RFC 2104: ``H(K ^ opad | H(K ^ ipad | m))``, the key zero-padded to the 128-byte
block; our keys are 32 and 64 bytes) and the keyed inner and outer states of the pseudorandom key are hashed once
and copied for the two expands. That costs ~4.4 us per message where ``hmac.digest`` three times costs ~6.7 us and
two ``cryptography`` HKDF objects ~8.2 us (they would each redo the extract); per-message cost is a target of
the issue. ``tests/envelope/test_format_derive.py`` checks the result against ``cryptography``'s HKDF and
:mod:`hmac`.
"""

from __future__ import annotations

import hashlib
import hmac

from kmsflow.envelope.exceptions import AuthenticationError, EnvelopeError
from kmsflow.envelope.suites import AlgorithmSuite

_BLOCK = 128  # SHA-512 block size
_OPAD = bytes(x ^ 0x5C for x in range(256))
_IPAD = bytes(x ^ 0x36 for x in range(256))
_COMMIT_INFO = b"COMMITKEY\x01"


def _hmac_sha512(key: bytes, message: bytes | bytearray) -> bytes:
    block = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha512(block.translate(_IPAD))
    inner.update(message)
    return hashlib.sha512(block.translate(_OPAD) + inner.digest()).digest()


def derive_keys(data_key: bytes | bytearray, message_id: bytes, suite: AlgorithmSuite) -> tuple[bytearray, bytes]:
    """(encryption key, commitment key) for one message. The encryption key is a ``bytearray`` so the caller
    can overwrite it once the cipher object holds its own copy."""
    if len(data_key) != suite.data_key_length:
        raise EnvelopeError(
            f"the keyring returned a data key of {len(data_key)} bytes; suite {suite.name} needs "
            f"{suite.data_key_length}"
        )
    prk = _hmac_sha512(message_id, data_key).ljust(_BLOCK, b"\0")
    inner = hashlib.sha512(prk.translate(_IPAD))
    outer = hashlib.sha512(prk.translate(_OPAD))
    keys: list[bytes] = []
    for info in (suite.id_bytes + b"DERIVEKEY\x01", _COMMIT_INFO):
        step = inner.copy()
        step.update(info)
        final = outer.copy()
        final.update(step.digest())
        keys.append(final.digest())
    return bytearray(keys[0][: suite.data_key_length]), keys[1][: suite.commitment_length]


def check_commitment(expected: bytes, stored: bytes) -> None:
    """Constant-time comparison of the derived commitment key with the header's: a mismatch means the data key
    is not the one this message was made with (or the header was changed)."""
    if not hmac.compare_digest(expected, stored):
        raise AuthenticationError("key commitment mismatch: the data key does not match this message")
