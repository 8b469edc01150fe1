"""Direct mode: KMS Encrypt/Decrypt of a small payload, no data key, no message format.

KMS Encrypt takes at most 4,096 bytes of plaintext with a symmetric key (KMS API Reference, Encrypt: "Encrypts
plaintext of up to 4,096 bytes"; ``SYMMETRIC_DEFAULT: 4096 bytes``). Direct mode is chosen explicitly, for
secrets such as passwords or keys: every encryption and decryption is a KMS call (logged, throttled, billed),
and the payload travels to KMS. A larger payload raises :class:`DirectModeError` before any call; it belongs in
the envelope (a data key encrypts locally, only the data key goes to KMS).

The result of :func:`direct_encrypt` is KMS's ciphertext blob, opaque; :func:`direct_decrypt` sends it back with
the key it must have been made under (``KeyId``: KMS refuses a blob of another key) and the same encryption
context (else KMS answers ``InvalidCiphertextException``, raised here as :class:`AuthenticationError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

from kmsflow.envelope.arns import check_identifier, region_of
from kmsflow.envelope.exceptions import AuthenticationError, ContextError, DirectModeError
from kmsflow.envelope.kms_calls import KmsCaller, KmsOptions
from kmsflow.envelope.retry import KmsCallError

#: KMS Encrypt's plaintext limit for symmetric keys, in bytes.
DIRECT_LIMIT = 4096


def direct_encrypt(
    plaintext: bytes, key_id: str, *, context: Mapping[str, str] | None = None, **kms: Unpack[KmsOptions]
) -> bytes:
    """KMS ``Encrypt`` of ``plaintext`` (at most :data:`DIRECT_LIMIT` bytes) under ``key_id``; ``kms``: how to
    reach KMS (:class:`~kmsflow.envelope.kms_calls.KmsOptions`)."""
    size = len(plaintext)
    if size > DIRECT_LIMIT:
        raise DirectModeError(
            f"direct mode takes at most {DIRECT_LIMIT:,} bytes (KMS Encrypt's limit); this payload has {size:,} bytes: "
            "use the envelope (encrypt without --direct) for larger data"
        )
    if size == 0:
        raise DirectModeError("direct mode cannot encrypt an empty payload (KMS Encrypt needs at least 1 byte)")
    check_identifier(key_id)
    params = _context_params(context)
    caller = KmsCaller(region_of(key_id, None), **kms)
    response = caller.call(
        caller.clients.default(), "Encrypt", key_id, KeyId=key_id, Plaintext=bytes(plaintext), **params
    )
    return bytes(response["CiphertextBlob"])


def direct_decrypt(
    ciphertext: bytes, key_id: str, *, context: Mapping[str, str] | None = None, **kms: Unpack[KmsOptions]
) -> bytes:
    """KMS ``Decrypt`` of a blob from :func:`direct_encrypt`, allowed only under ``key_id``, with ``context``."""
    check_identifier(key_id)
    params = _context_params(context)
    caller = KmsCaller(region_of(key_id, None), **kms)
    try:
        response = caller.call(
            caller.clients.default(), "Decrypt", key_id, KeyId=key_id, CiphertextBlob=bytes(ciphertext), **params
        )
    except KmsCallError as err:
        if err.code == "InvalidCiphertextException":
            raise AuthenticationError(
                f"KMS refused the ciphertext under {key_id}: it was changed, or the encryption context differs "
                "from the one it was encrypted with"
            ) from err
        raise
    return bytes(response["Plaintext"])


def _context_params(context: Mapping[str, str] | None) -> dict[str, Any]:
    if not context:
        return {}
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ContextError(
                f"an encryption context maps strings to strings; got {type(key).__name__} -> "
                f"{type(value).__name__} for key {key!r}: pass str keys and values"
            )
    return {"EncryptionContext": dict(context)}
