"""Importing external key material into a KMS key with origin EXTERNAL: DescribeKey, GetParametersForImport,
wrap, ImportKeyMaterial.

Every input is checked before the first request that could change anything, and every AWS error comes back
as a :class:`KeyMaterialError` that names the AWS error code and what to do. No message ever contains the
plaintext material (only its length).

About the plaintext: this module drops its own reference to the material as soon as it is wrapped, but
Python cannot guarantee that the bytes are erased from memory - ``bytes`` are immutable, the caller still
holds its own reference, and the allocator may keep copies. Treat the process's memory as holding the
material until it exits, and run imports from a machine you trust with the material.

AWS facts (API Reference, ImportKeyMaterial / GetParametersForImport, as shipped in botocore's KMS model):
the wrapping public key and import token are valid for 24 hours; ``ValidTo`` "must be a future date and
time. The maximum value is 365 days from the request date"; ``KEY_MATERIAL_EXPIRES`` requires ``ValidTo`` and
``KEY_MATERIAL_DOES_NOT_EXPIRE`` forbids it; GetParametersForImport's ``KeyId`` takes a key ID or ARN only,
which is why the ARN from DescribeKey (which also resolves aliases) is sent to the later calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsflow.errors import KeyMaterialError
from kmsflow.keymaterial.wrap import check_material_for_key_spec, get_wrapping_algorithm, wrap_key_material

#: Key states in which KMS accepts an import: a fresh EXTERNAL key (PendingImport) or a reimport.
IMPORTABLE_STATES = ("PendingImport", "Enabled", "Disabled")

#: RSA wrapping key specs GetParametersForImport offers outside China Regions.
WRAPPING_KEY_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")

#: ImportKeyMaterial's limit on ValidTo: at most 365 days after the request.
MAX_VALIDITY = timedelta(days=365)

EXPIRES = "KEY_MATERIAL_EXPIRES"
DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"

#: AWS error code -> what the person should do about it.
_ERROR_ADVICE = {
    "NotFoundException": "check the key ID or ARN and the --region (keys are regional)",
    "InvalidArnException": "pass a key ID, key ARN or alias name of a key in this account and region",
    "UnsupportedOperationException": "create the key with origin: EXTERNAL, then import into that key",
    "KMSInvalidStateException": "the key must be PendingImport, Enabled or Disabled (cancel a pending deletion first)",
    "InvalidCiphertextException": "KMS could not unwrap the material: run the import again, so that the "
    "material is wrapped under the public key of a fresh GetParametersForImport response",
    "ExpiredImportTokenException": "the import token and wrapping key are valid for 24 hours: run the import "
    "again to get a new pair",
    "InvalidImportTokenException": "use the import token from the same GetParametersForImport response, "
    "for the same key; run the import again",
    "IncorrectKeyMaterialException": "a key accepts only the material it was first given (or material of "
    "its key spec's length): import that same material again",
    "AccessDeniedException": "the caller needs kms:DescribeKey, kms:GetParametersForImport and "
    "kms:ImportKeyMaterial on this key",
}


@dataclass(frozen=True)
class ImportResult:
    """What was imported where: the facts to show a person, and never the material itself."""

    key_id: str
    key_arn: str
    key_spec: str
    wrapping_algorithm: str
    expiration_model: str
    valid_to: datetime | None


def import_key_material(
    kms: Any,
    *,
    key_id: str,
    material: bytes,
    wrapping_algorithm: str = "RSAES_OAEP_SHA_256",
    wrapping_key_spec: str = "RSA_4096",
    valid_to: datetime | None = None,
) -> ImportResult:
    """Wrap ``material`` under a fresh KMS wrapping key and import it into the EXTERNAL key ``key_id``.

    ``valid_to`` (timezone-aware, in the future, within 365 days) makes the material expire then; without
    it the material does not expire. Raises :class:`KeyMaterialError` for any invalid input or AWS error.
    """
    get_wrapping_algorithm(wrapping_algorithm)
    _check_wrapping_key_spec(wrapping_key_spec)
    _check_valid_to(valid_to)
    metadata = _describe_importable_key(kms, key_id)
    key_arn: str = metadata["Arn"]
    key_spec: str = metadata.get("KeySpec", "SYMMETRIC_DEFAULT")
    check_material_for_key_spec(key_spec, material, wrapping_algorithm)
    parameters = _call(
        kms.get_parameters_for_import,
        "GetParametersForImport",
        key_id,
        KeyId=key_arn,
        WrappingAlgorithm=wrapping_algorithm,
        WrappingKeySpec=wrapping_key_spec,
    )
    encrypted = wrap_key_material(parameters["PublicKey"], material, wrapping_algorithm)
    # Drop this frame's reference to the plaintext now that it is wrapped (see the module docstring for
    # why that is all Python allows).
    del material
    expiration_model = _send_import(kms, key_id, key_arn, parameters["ImportToken"], encrypted, valid_to)
    return ImportResult(
        key_id=metadata["KeyId"],
        key_arn=key_arn,
        key_spec=key_spec,
        wrapping_algorithm=wrapping_algorithm,
        expiration_model=expiration_model,
        valid_to=valid_to,
    )


def _check_wrapping_key_spec(wrapping_key_spec: str) -> None:
    if wrapping_key_spec not in WRAPPING_KEY_SPECS:
        raise KeyMaterialError(
            f"wrapping key spec {wrapping_key_spec!r} is not supported; "
            f"allowed: {', '.join(WRAPPING_KEY_SPECS)}. "
            "Use RSA_4096 (the longest RSA wrapping key, as AWS recommends)."
        )


def _check_valid_to(valid_to: datetime | None) -> None:
    """Refuse an expiry KMS would refuse, before anything is sent: naive, past, or beyond 365 days."""
    if valid_to is None:
        return
    if valid_to.tzinfo is None or valid_to.utcoffset() is None:
        raise KeyMaterialError(
            f"the expiry {valid_to.isoformat()} has no time zone, so the moment it names is ambiguous. "
            "Give a timezone-aware time, e.g. 2027-01-01T00:00:00Z."
        )
    now = datetime.now(UTC)
    if valid_to <= now:
        raise KeyMaterialError(
            f"the expiry {valid_to.isoformat()} is not in the future "
            f"(now: {now.isoformat(timespec='seconds')}). "
            "Give a later time, or none for material that does not expire."
        )
    if valid_to > now + MAX_VALIDITY:
        raise KeyMaterialError(
            f"the expiry {valid_to.isoformat()} is more than 365 days away; KMS allows at most "
            f"{(now + MAX_VALIDITY).isoformat(timespec='seconds')}. Give an earlier time, or none for "
            "material that does not expire."
        )


def _describe_importable_key(kms: Any, key_id: str) -> dict[str, Any]:
    """DescribeKey, then refuse keys KMS would refuse, with their origin or state and the fix."""
    metadata: dict[str, Any] = _call(kms.describe_key, "DescribeKey", key_id, KeyId=key_id)["KeyMetadata"]
    origin = metadata.get("Origin")
    if origin != "EXTERNAL":
        raise KeyMaterialError(
            f"key {key_id} ({metadata.get('Arn')}) has origin {origin}; "
            "key material can be imported only into keys with origin EXTERNAL. "
            "Create the key with origin: EXTERNAL and import into that key."
        )
    state = metadata.get("KeyState")
    if state not in IMPORTABLE_STATES:
        raise KeyMaterialError(
            f"key {key_id} ({metadata.get('Arn')}) is in state {state}; "
            f"key material can be imported only in states {', '.join(IMPORTABLE_STATES)}. "
            f"Wait for the key to leave {state} (cancel its deletion if it is PendingDeletion), "
            "or create the key with origin: EXTERNAL."
        )
    return metadata


def _send_import(
    kms: Any, key_id: str, key_arn: str, import_token: bytes, encrypted: bytes, valid_to: datetime | None
) -> str:
    """ImportKeyMaterial with the expiration model that ``valid_to`` implies; returns that model."""
    expiry: dict[str, Any] = (
        {"ExpirationModel": EXPIRES, "ValidTo": valid_to}
        if valid_to is not None
        else {"ExpirationModel": DOES_NOT_EXPIRE}
    )
    _call(
        kms.import_key_material,
        "ImportKeyMaterial",
        key_id,
        KeyId=key_arn,
        ImportToken=import_token,
        EncryptedKeyMaterial=encrypted,
        **expiry,
    )
    return str(expiry["ExpirationModel"])


def _call(method: Any, operation: str, key_id: str, **kwargs: Any) -> dict[str, Any]:
    """Call one KMS operation, turning botocore errors into a :class:`KeyMaterialError` with advice.

    The request arguments are never put in the message: they hold the wrapped material and the token.
    """
    try:
        response: dict[str, Any] = method(**kwargs)
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code", "Unknown")
        advice = _ERROR_ADVICE.get(code, "check the key, the region and your permissions on the key")
        raise KeyMaterialError(
            f"{operation} failed for key {key_id}: {code}: {error.get('Message', '(no message)')}. {advice}."
        ) from err
    except BotoCoreError as err:
        raise KeyMaterialError(
            f"{operation} failed for key {key_id} before KMS answered: {err}. Check your AWS credentials, "
            "region and network access to KMS."
        ) from err
    return response
