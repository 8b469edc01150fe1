"""The two algorithm suites kmsflow writes and reads: the AWS Encryption SDK's committing suites, the only ones
of message format version 2 (spec ``framework/algorithm-suites.md``).

Both are AES-256-GCM (12-byte IV, 16-byte tag) under a key derived with HKDF-SHA512 (salt = the 32-byte message
id), with a 32-byte commitment key stored in the header; the second adds an ECDSA P-384/SHA-384 signature over
the whole message. Older suites (message format 1, no key commitment) are refused on purpose: a message that is
not key committing can decrypt to different plaintexts under different data keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsflow.envelope.exceptions import MessageFormatError


@dataclass(frozen=True)
class AlgorithmSuite:
    """One algorithm suite. Lengths are in bytes; ``id`` is the 2-byte suite id as the header stores it."""

    id: int
    name: str
    signed: bool
    data_key_length: int = 32
    iv_length: int = 12
    tag_length: int = 16
    commitment_length: int = 32

    @property
    def id_bytes(self) -> bytes:
        """The suite id as written in the header and used in the HKDF info (big-endian)."""
        return self.id.to_bytes(2, "big")


COMMITTING = AlgorithmSuite(0x0478, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", signed=False)
COMMITTING_SIGNED = AlgorithmSuite(0x0578, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", signed=True)

_BY_ID = {suite.id: suite for suite in (COMMITTING, COMMITTING_SIGNED)}


def suite_by_id(suite_id: int) -> AlgorithmSuite:
    """The suite with this id; :class:`MessageFormatError` for any other (including the SDK's non-committing
    suites of message format 1)."""
    try:
        return _BY_ID[suite_id]
    except KeyError:
        known = ", ".join(f"0x{s.id:04X} ({s.name})" for s in _BY_ID.values())
        raise MessageFormatError(
            f"algorithm suite 0x{suite_id:04X} is not supported; kmsflow reads only the committing suites {known}"
        ) from None
