"""The signed suite's signature (spec ``data-format/message-footer.md``, ``framework/default-cmm.md``).

* Before the keyring is called, a fresh P-384 key pair is made per message and its public key - the compressed
  point, Base64 - goes into the encryption context under ``aws-crypto-public-key`` (so KMS sees it, and the
  header authenticates it).
* The footer is the signature length (UInt16) and an ECDSA P-384 signature, DER-encoded, over SHA-384 of the
  serialized header and body.
* Signatures are written at a fixed 103 bytes, as the official Python SDK writes them (DER length varies with
  the leading bits of r and s; negating s or signing again fixes it), so the length of a message is a function of
  its plaintext length. Any valid DER length is accepted on reading.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

from kmsflow.envelope.context import PUBLIC_KEY_FIELD
from kmsflow.envelope.exceptions import AuthenticationError, MessageFormatError

SIGNATURE_LENGTH = 103
#: Signature length field + signature, as written.
FOOTER_LENGTH = 2 + SIGNATURE_LENGTH
_CURVE = ec.SECP384R1()
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973
_ALGORITHM = ec.ECDSA(Prehashed(hashes.SHA384()))


class Signer:
    """Signs one message: a fresh key pair, and the running SHA-384 of everything written."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(_CURVE)
        self.hash = hashlib.sha384()
        point = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self.public_key = base64.b64encode(point).decode("ascii")

    def footer(self) -> bytes:
        """The footer over everything passed to ``hash.update`` (header and body)."""
        digest = self.hash.digest()
        while True:
            signature = self._key.sign(digest, _ALGORITHM)
            if len(signature) != SIGNATURE_LENGTH:
                r, s = decode_dss_signature(signature)
                signature = encode_dss_signature(r, _ORDER - s)  # (r, n - s) is the same signature's twin
            if len(signature) == SIGNATURE_LENGTH:
                return SIGNATURE_LENGTH.to_bytes(2, "big") + signature


def verification_key(context: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    """The public key a signed message names in its encryption context."""
    try:
        point = base64.b64decode(context[PUBLIC_KEY_FIELD].encode("ascii"), validate=True)
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, point)
    except (KeyError, UnicodeEncodeError, binascii.Error, ValueError):
        raise MessageFormatError(f"{PUBLIC_KEY_FIELD} is not a Base64 P-384 point") from None


def parse_footer(data: bytes | bytearray | memoryview, pos: int) -> tuple[bytes, int]:
    """The signature of the footer at ``data[pos:]``, and where the footer ends."""
    if pos + 2 > len(data):
        raise MessageFormatError("the message is truncated: its footer (signature) is missing")
    end = pos + 2 + int.from_bytes(data[pos : pos + 2], "big")
    if end > len(data):
        raise MessageFormatError("the message is truncated in its footer (signature)")
    return bytes(data[pos + 2 : end]), end


def verify(key: ec.EllipticCurvePublicKey, digest: bytes, signature: bytes) -> None:
    """Check the footer's signature over the SHA-384 ``digest`` of header and body."""
    try:
        key.verify(signature, digest, _ALGORITHM)
    except InvalidSignature:
        raise AuthenticationError("the message signature does not verify") from None
