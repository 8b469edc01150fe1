"""Key derivation (spec ``client-apis/key-derivation.md``) checked against ``cryptography``'s HKDF and the
standard library's HMAC, which kmsflow's hand-written HMAC-SHA512 must agree with."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from kmsflow.envelope.derive import check_commitment, derive_keys
from kmsflow.envelope.exceptions import AuthenticationError, EnvelopeError
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED


def reference(data_key: bytes, message_id: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=32, salt=message_id, info=info).derive(data_key)


@settings(max_examples=200, deadline=None)
@given(data_key=st.binary(min_size=32, max_size=32), message_id=st.binary(min_size=32, max_size=32))
def test_matches_cryptography_hkdf(data_key: bytes, message_id: bytes) -> None:
    for suite in (COMMITTING, COMMITTING_SIGNED):
        encryption_key, commitment = derive_keys(bytearray(data_key), message_id, suite)
        assert bytes(encryption_key) == reference(data_key, message_id, suite.id_bytes + b"DERIVEKEY")
        assert commitment == reference(data_key, message_id, b"COMMITKEY")


def test_known_values_and_types() -> None:
    data_key, message_id = bytes(range(32)), bytes(range(32, 64))
    encryption_key, commitment = derive_keys(data_key, message_id, COMMITTING)
    prk = hmac.digest(message_id, data_key, hashlib.sha512)
    assert isinstance(encryption_key, bytearray)
    assert bytes(encryption_key) == hmac.digest(prk, b"\x04\x78DERIVEKEY\x01", hashlib.sha512)[:32]
    assert commitment == hmac.digest(prk, b"COMMITKEY\x01", hashlib.sha512)[:32]
    # the two suites derive different encryption keys from the same inputs, and the same commitment key
    other_key, other_commitment = derive_keys(data_key, message_id, COMMITTING_SIGNED)
    assert other_key != encryption_key
    assert other_commitment == commitment


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_wrong_data_key_length(length: int) -> None:
    with pytest.raises(EnvelopeError, match=f"data key of {length} bytes; suite .* needs 32"):
        derive_keys(bytes(length), bytes(32), COMMITTING)


def test_commitment_comparison() -> None:
    check_commitment(b"a" * 32, b"a" * 32)
    with pytest.raises(AuthenticationError, match="key commitment mismatch"):
        check_commitment(b"a" * 32, b"a" * 31 + b"b")
