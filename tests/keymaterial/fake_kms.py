"""An in-memory fake of the KMS operations that importing key material uses: DescribeKey,
GetParametersForImport and ImportKeyMaterial.

Why a fake: moto (5.2.5, the pinned version) implements DescribeKey but NOT GetParametersForImport nor
ImportKeyMaterial, and these tests must run without network or AWS credentials.

Why it is "faithful" rather than a stub: it does what KMS does with the bytes, so the tests prove that
kmsflow's wrapping would be accepted by KMS, not merely that some call was made.

* Responses have boto3's shapes: ``PublicKey`` is DER SubjectPublicKeyInfo bytes, ``ImportToken`` bytes,
  ``ParametersValidTo`` an aware ``datetime``, ``KeyMetadata`` carries Arn/KeySpec/Origin/KeyState/...
  and every response a ``ResponseMetadata``.
* GetParametersForImport hands out a real RSA public key of the requested ``WrappingKeySpec`` size. Key
  pairs are generated once per size and cached for the whole test session (RSA-4096 generation is slow);
  each call gets a fresh random import token tied to that key pair, the key, the wrapping algorithm and an
  expiry (24 hours, like KMS, unless ``import_token_lifetime`` says otherwise).
* ImportKeyMaterial really UNWRAPS ``EncryptedKeyMaterial`` with the private key, per the token's algorithm
  (RSA-OAEP with MGF1 of the same hash, or RSA-OAEP of an AES key followed by RFC 5649 unwrap), then checks
  the token (known, same key, not expired), the expiration parameters, that the unwrapped material fits the
  key spec, and that a reimport brings the SAME material - and stores the material so tests can compare it
  with what they sent.
* Failures are ``botocore.exceptions.ClientError`` with KMS's error codes: NotFoundException,
  UnsupportedOperationException (key origin is not EXTERNAL), KMSInvalidStateException,
  InvalidImportTokenException, ExpiredImportTokenException, InvalidCiphertextException,
  IncorrectKeyMaterialException, ValidationException.

Facts used: the AWS KMS API Reference for the three operations (as shipped in botocore's KMS model) and the
Developer Guide's "Requirements for imported key material" and "Step 3: Encrypt the key material".
The material length rules are written here independently of ``kmsflow.keymaterial.wrap`` on purpose: the
fake must not agree with the code under test merely because it shares its table.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

WRAPPING_KEY_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

#: Wrapping algorithm -> (hash, whether an AES key wrap layer is used).
WRAPPING_ALGORITHMS: dict[str, tuple[type[hashes.HashAlgorithm], bool]] = {
    "RSAES_OAEP_SHA_1": (hashes.SHA1, False),
    "RSAES_OAEP_SHA_256": (hashes.SHA256, False),
    "RSA_AES_KEY_WRAP_SHA_1": (hashes.SHA1, True),
    "RSA_AES_KEY_WRAP_SHA_256": (hashes.SHA256, True),
}
_ALL_ALGORITHM_NAMES = ["RSAES_PKCS1_V1_5", *WRAPPING_ALGORITHMS, "SM2PKE"]

#: Symmetric and HMAC key specs -> (min, max) material bytes ("Requirements for imported key material").
_SECRET_LENGTHS = {
    "SYMMETRIC_DEFAULT": (32, 32),
    "HMAC_224": (28, 128),
    "HMAC_256": (32, 128),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_ECC_CURVES = {
    "ECC_NIST_P256": "secp256r1",
    "ECC_NIST_P384": "secp384r1",
    "ECC_NIST_P521": "secp521r1",
    "ECC_SECG_P256K1": "secp256k1",
}
_KEY_USAGE = {"hmac": "GENERATE_VERIFY_MAC", "ecc": "SIGN_VERIFY"}

_PRIVATE_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def wrapping_private_key(bits: int) -> rsa.RSAPrivateKey:
    """The session-wide RSA key pair of ``bits`` bits (generated on first use: RSA-4096 takes a while)."""
    if bits not in _PRIVATE_KEYS:
        _PRIVATE_KEYS[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _PRIVATE_KEYS[bits]


def public_key_der(private_key: rsa.RSAPrivateKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``private_key``'s public half, as GetParametersForImport returns it."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def unwrap_key_material(private_key: rsa.RSAPrivateKey, blob: bytes, algorithm: str) -> bytes:
    """What KMS does with EncryptedKeyMaterial: undo ``algorithm``. Raises ValueError if it cannot."""
    hash_type, aes_layer = WRAPPING_ALGORITHMS[algorithm]
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_type()), algorithm=hash_type(), label=None)
    if not aes_layer:
        return private_key.decrypt(blob, oaep)
    modulus_bytes = (private_key.key_size + 7) // 8
    aes_key = private_key.decrypt(blob[:modulus_bytes], oaep)
    if len(aes_key) != 32:
        raise ValueError(f"the wrapped AES key is {len(aes_key)} bytes, not 32")
    try:
        return aes_key_unwrap_with_padding(aes_key, blob[modulus_bytes:])
    except InvalidUnwrap as err:
        raise ValueError("RFC 5649 unwrap failed") from err


def client_error(operation: str, code: str, message: str) -> ClientError:
    """A ClientError shaped like the ones botocore raises for KMS (JSON protocol, HTTP 400)."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "message": message,
            "ResponseMetadata": {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 400, "RetryAttempts": 0},
        },
        operation,
    )


def _response_metadata() -> dict[str, Any]:
    return {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


def _family(key_spec: str) -> str:
    if key_spec == "SYMMETRIC_DEFAULT":
        return "symmetric"
    return key_spec.split("_", 1)[0].lower()  # hmac, rsa, ecc


@dataclass
class FakeKey:
    """One KMS key as the fake stores it, with the imported material once there is some."""

    key_id: str
    arn: str
    key_spec: str
    origin: str
    key_state: str
    creation_date: datetime
    material: bytes | None = None
    expiration_model: str | None = None
    valid_to: datetime | None = None
    import_count: int = 0

    def metadata(self, account_id: str) -> dict[str, Any]:
        """The ``KeyMetadata`` DescribeKey returns for this key."""
        family = _family(self.key_spec)
        meta: dict[str, Any] = {
            "AWSAccountId": account_id,
            "KeyId": self.key_id,
            "Arn": self.arn,
            "CreationDate": self.creation_date,
            "Enabled": self.key_state == "Enabled",
            "Description": "",
            "KeyUsage": _KEY_USAGE.get(family, "ENCRYPT_DECRYPT"),
            "KeyState": self.key_state,
            "Origin": self.origin,
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": self.key_spec,
            "KeySpec": self.key_spec,
            "MultiRegion": False,
        }
        if family == "symmetric":
            meta["EncryptionAlgorithms"] = ["SYMMETRIC_DEFAULT"]
        if family == "hmac":
            meta["MacAlgorithms"] = [f"HMAC_SHA_{self.key_spec.split('_')[1]}"]
        if self.expiration_model is not None:
            meta["ExpirationModel"] = self.expiration_model
        if self.valid_to is not None:
            meta["ValidTo"] = self.valid_to
        return meta


@dataclass(frozen=True)
class _ImportParameters:
    key_id: str
    algorithm: str
    private_key: rsa.RSAPrivateKey
    valid_to: datetime


@dataclass
class FakeKms:
    """The fake client. Create keys with :meth:`add_key`; read what was imported with :meth:`material_of`."""

    region: str = "us-east-1"
    account_id: str = "111122223333"
    import_token_lifetime: timedelta = timedelta(hours=24)
    keys: dict[str, FakeKey] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _tokens: dict[bytes, _ImportParameters] = field(default_factory=dict)

    # ----- test helpers -------------------------------------------------------------------------------

    def add_key(
        self,
        *,
        key_spec: str = "SYMMETRIC_DEFAULT",
        origin: str = "EXTERNAL",
        key_state: str | None = None,
        alias: str | None = None,
    ) -> FakeKey:
        """A new key, PendingImport if EXTERNAL (as CreateKey leaves it), else Enabled."""
        key_id = str(uuid.uuid4())
        state = key_state or ("PendingImport" if origin == "EXTERNAL" else "Enabled")
        key = FakeKey(
            key_id=key_id,
            arn=f"arn:aws:kms:{self.region}:{self.account_id}:key/{key_id}",
            key_spec=key_spec,
            origin=origin,
            key_state=state,
            creation_date=datetime.now(UTC),
        )
        self.keys[key_id] = key
        if alias is not None:
            self.aliases[alias] = key_id
        return key

    def material_of(self, key_id: str) -> bytes | None:
        """The material KMS would now hold for ``key_id`` (what the tests compare with the original)."""
        return self.keys[key_id].material

    def operations(self) -> list[str]:
        """The names of the operations called so far, in order."""
        return [name for name, _ in self.calls]

    # ----- KMS API ------------------------------------------------------------------------------------

    def describe_key(self, *, KeyId: str, GrantTokens: list[str] | None = None) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("DescribeKey", {"KeyId": KeyId}))
        key = self._resolve("DescribeKey", KeyId, aliases_allowed=True)
        return {"KeyMetadata": key.metadata(self.account_id), "ResponseMetadata": _response_metadata()}

    def get_parameters_for_import(
        self,
        *,
        KeyId: str,  # noqa: N803
        WrappingAlgorithm: str,  # noqa: N803
        WrappingKeySpec: str,  # noqa: N803
    ) -> dict[str, Any]:
        operation = "GetParametersForImport"
        self.calls.append(
            (
                operation,
                {"KeyId": KeyId, "WrappingAlgorithm": WrappingAlgorithm, "WrappingKeySpec": WrappingKeySpec},
            )
        )
        self._check_enum(operation, "wrappingAlgorithm", WrappingAlgorithm, _ALL_ALGORITHM_NAMES)
        self._check_enum(operation, "wrappingKeySpec", WrappingKeySpec, [*WRAPPING_KEY_BITS, "SM2"])
        if WrappingAlgorithm not in WRAPPING_ALGORITHMS or WrappingKeySpec not in WRAPPING_KEY_BITS:
            raise client_error(
                operation,
                "ValidationException",
                f"{WrappingAlgorithm} with {WrappingKeySpec} is not supported in {self.region}",
            )
        key = self._importable_key(operation, KeyId)
        private_key = wrapping_private_key(WRAPPING_KEY_BITS[WrappingKeySpec])
        token = os.urandom(768)
        valid_to = datetime.now(UTC) + self.import_token_lifetime
        self._tokens[token] = _ImportParameters(key.key_id, WrappingAlgorithm, private_key, valid_to)
        return {
            "KeyId": key.arn,
            "ImportToken": token,
            "PublicKey": public_key_der(private_key),
            "ParametersValidTo": valid_to,
            "ResponseMetadata": _response_metadata(),
        }

    def import_key_material(
        self,
        *,
        KeyId: str,  # noqa: N803
        ImportToken: bytes,  # noqa: N803
        EncryptedKeyMaterial: bytes,  # noqa: N803
        ValidTo: datetime | None = None,  # noqa: N803
        ExpirationModel: str | None = None,  # noqa: N803
        ImportType: str | None = None,  # noqa: N803
        KeyMaterialDescription: str | None = None,  # noqa: N803
        KeyMaterialId: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        operation = "ImportKeyMaterial"
        self.calls.append(
            (
                operation,
                {
                    "KeyId": KeyId,
                    "ImportToken": ImportToken,
                    "EncryptedKeyMaterial": EncryptedKeyMaterial,
                    "ValidTo": ValidTo,
                    "ExpirationModel": ExpirationModel,
                },
            )
        )
        if ImportType is not None or KeyMaterialId is not None:
            raise NotImplementedError("the fake models only the default ImportType (first import, then reimport)")
        key = self._importable_key(operation, KeyId)
        parameters = self._check_token(operation, key, ImportToken)
        expiration_model, valid_to = self._check_expiration(operation, ExpirationModel, ValidTo)
        material = self._unwrap(operation, parameters, EncryptedKeyMaterial)
        self._check_material(operation, key, material)
        key.material = material
        key.expiration_model = expiration_model
        key.valid_to = valid_to
        key.import_count += 1
        if key.key_state == "PendingImport":
            key.key_state = "Enabled"
        material_id = hashlib.sha256(key.key_id.encode() + material).hexdigest()
        return {"KeyId": key.arn, "KeyMaterialId": material_id, "ResponseMetadata": _response_metadata()}

    # ----- checks -------------------------------------------------------------------------------------

    @staticmethod
    def _check_enum(operation: str, member: str, value: str, allowed: list[str]) -> None:
        """KMS validates enums server side (botocore does not), with this wording."""
        if value not in allowed:
            raise client_error(
                operation,
                "ValidationException",
                f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(allowed)}]",
            )

    def _resolve(self, operation: str, key_id: str, *, aliases_allowed: bool) -> FakeKey:
        """Key ID or key ARN (and, for DescribeKey, alias name or alias ARN) -> key, or NotFoundException."""
        prefix = f"arn:aws:kms:{self.region}:{self.account_id}:"
        bare = key_id.removeprefix(prefix)
        if bare.startswith("alias/"):
            target = self.aliases.get(bare) if aliases_allowed else None
            if target is None:
                raise client_error(operation, "NotFoundException", f"Alias {prefix}{bare} is not found.")
            return self.keys[target]
        key = self.keys.get(bare.removeprefix("key/"))
        if key is None:
            raise client_error(
                operation,
                "NotFoundException",
                f"Key '{prefix}key/{bare.removeprefix('key/')}' does not exist",
            )
        return key

    def _importable_key(self, operation: str, key_id: str) -> FakeKey:
        key = self._resolve(operation, key_id, aliases_allowed=False)
        if key.origin != "EXTERNAL":
            raise client_error(
                operation,
                "UnsupportedOperationException",
                f"{key.arn} origin is {key.origin} which is not valid for this operation.",
            )
        if key.key_state not in ("PendingImport", "Enabled", "Disabled"):
            raise client_error(operation, "KMSInvalidStateException", f"{key.arn} is {key.key_state}")
        return key

    def _check_token(self, operation: str, key: FakeKey, token: bytes) -> _ImportParameters:
        parameters = self._tokens.get(bytes(token))
        if parameters is None or parameters.key_id != key.key_id:
            raise client_error(
                operation, "InvalidImportTokenException", "Import token is invalid or for a different key."
            )
        if datetime.now(UTC) >= parameters.valid_to:
            raise client_error(operation, "ExpiredImportTokenException", "Import token is expired.")
        return parameters

    def _check_expiration(
        self, operation: str, model: str | None, valid_to: datetime | None
    ) -> tuple[str, datetime | None]:
        model = model or "KEY_MATERIAL_EXPIRES"  # KMS's documented default
        if model == "KEY_MATERIAL_DOES_NOT_EXPIRE":
            if valid_to is not None:
                raise client_error(operation, "ValidationException", "ValidTo must be omitted.")
            return model, None
        if model != "KEY_MATERIAL_EXPIRES" or valid_to is None:
            raise client_error(operation, "ValidationException", "KEY_MATERIAL_EXPIRES requires ValidTo.")
        aware = valid_to if valid_to.tzinfo is not None else valid_to.replace(tzinfo=UTC)  # as botocore sends it
        now = datetime.now(UTC)
        if not now < aware <= now + timedelta(days=365):
            raise client_error(
                operation, "ValidationException", "ValidTo must be in the future and at most 365 days away."
            )
        return model, aware

    def _unwrap(self, operation: str, parameters: _ImportParameters, blob: bytes) -> bytes:
        try:
            return unwrap_key_material(parameters.private_key, bytes(blob), parameters.algorithm)
        except ValueError as err:
            raise client_error(
                operation, "InvalidCiphertextException", "The encrypted key material could not be decrypted."
            ) from err

    def _check_material(self, operation: str, key: FakeKey, material: bytes) -> None:
        if not _fits_key_spec(key.key_spec, material):
            raise client_error(
                operation,
                "IncorrectKeyMaterialException",
                f"The key material is not valid for a {key.key_spec} key.",
            )
        if key.material is not None and key.material != material:
            raise client_error(
                operation,
                "IncorrectKeyMaterialException",
                "The key material is not the same key material that was previously imported into this key.",
            )


def _fits_key_spec(key_spec: str, material: bytes) -> bool:
    """Whether ``material`` is what a ``key_spec`` key takes: lengths for secrets, parsed PKCS#8 for keys."""
    if key_spec in _SECRET_LENGTHS:
        low, high = _SECRET_LENGTHS[key_spec]
        return low <= len(material) <= high
    try:
        private_key = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError):
        return False
    if key_spec in _RSA_BITS:
        return isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == _RSA_BITS[key_spec]
    if key_spec in _ECC_CURVES:
        return isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name == _ECC_CURVES[key_spec]
    return False
