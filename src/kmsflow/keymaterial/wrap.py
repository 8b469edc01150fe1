"""Wrapping (encrypting) key material under the RSA public key that KMS GetParametersForImport returns.

Pure functions over bytes, no AWS calls, so that every rule about what may be wrapped, and how, can be
tested without a network and is checked *before* a KMS request is made.

AWS facts used here (AWS KMS Developer Guide and API Reference):

* "Select a wrapping algorithm" (GetParametersForImport ``WrappingAlgorithm``, e.g.
  https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/kms/aws.sdk.kotlin.services.kms.model/-get-parameters-for-import-request/wrapping-algorithm.html):
  RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256 wrap the material directly and support every kind of material
  except RSA private keys; RSA_AES_KEY_WRAP_SHA_1 / RSA_AES_KEY_WRAP_SHA_256 support RSA and ECC keys
  (and all others); "RSAES_PKCS1_V1_5 (Deprecated) - As of October 10, 2023, KMS does not support the
  RSAES_PKCS1_V1_5 wrapping algorithm."
* "Step 3: Encrypt the key material"
  (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html):
  OAEP uses the same hash for the OAEP digest and for MGF1 (``rsa_oaep_md`` = ``rsa_mgf1_md``); the
  RSA_AES_KEY_WRAP_* algorithms generate a 256-bit AES key, wrap the material with AES key wrap with
  padding (RFC 5649, ``id-aes256-wrap-pad``), RSA-OAEP-encrypt the AES key with the given hash, and send
  ``wrapped AES key || wrapped material``.
* "Requirements for imported key material"
  (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements):
  see :data:`MATERIAL_RULES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from kmsflow.errors import KeyMaterialError

#: Size of the one-time AES key of the RSA_AES_KEY_WRAP_* algorithms: AWS specifies a 256-bit key.
AES_KEY_BYTES = 32


@dataclass(frozen=True)
class WrappingAlgorithm:
    """How one KMS wrapping algorithm encrypts: the OAEP hash, and whether an AES key wrap is layered in."""

    name: str
    hash_factory: Callable[[], hashes.HashAlgorithm]
    aes_key_wrap: bool

    def oaep(self) -> padding.OAEP:
        """The OAEP padding KMS expects: MGF1 with the same hash as the OAEP digest, no label."""
        return padding.OAEP(mgf=padding.MGF1(algorithm=self.hash_factory()), algorithm=self.hash_factory(), label=None)


#: Wrapping algorithms kmsflow supports, by their KMS name. RSAES_PKCS1_V1_5 is absent on purpose (KMS no
#: longer supports it); SM2PKE is absent because it exists only in China Regions with SM2 wrapping keys.
WRAPPING_ALGORITHMS: dict[str, WrappingAlgorithm] = {
    "RSAES_OAEP_SHA_1": WrappingAlgorithm("RSAES_OAEP_SHA_1", hashes.SHA1, aes_key_wrap=False),
    "RSAES_OAEP_SHA_256": WrappingAlgorithm("RSAES_OAEP_SHA_256", hashes.SHA256, aes_key_wrap=False),
    "RSA_AES_KEY_WRAP_SHA_1": WrappingAlgorithm("RSA_AES_KEY_WRAP_SHA_1", hashes.SHA1, aes_key_wrap=True),
    "RSA_AES_KEY_WRAP_SHA_256": WrappingAlgorithm("RSA_AES_KEY_WRAP_SHA_256", hashes.SHA256, aes_key_wrap=True),
}

#: Why a known algorithm is refused, for a message better than "unknown".
_REFUSED_ALGORITHMS = {
    "RSAES_PKCS1_V1_5": "KMS stopped supporting it on October 10, 2023 (deprecated, PKCS#1 v1.5 padding)",
    "SM2PKE": "it exists only in AWS China Regions with SM2 wrapping keys, which kmsflow does not support",
}


@dataclass(frozen=True)
class MaterialRule:
    """What key material a key spec accepts: its kind, its length range in bytes, and its wrapping needs.

    ``max_bytes`` is ``None`` for asymmetric private keys: their DER length varies and KMS checks their
    structure itself, so only emptiness is refused here.
    """

    kind: str
    min_bytes: int
    max_bytes: int | None
    needs_aes_key_wrap: bool
    description: str

    def allows(self, length: int) -> bool:
        """Whether ``length`` bytes of material fits this rule's range."""
        return length >= self.min_bytes and (self.max_bytes is None or length <= self.max_bytes)

    def range_text(self) -> str:
        """The allowed lengths in words, for error messages."""
        if self.max_bytes is None:
            return f"at least {self.min_bytes} byte"
        if self.min_bytes == self.max_bytes:
            return f"exactly {self.min_bytes} bytes"
        return f"{self.min_bytes} to {self.max_bytes} bytes"


_PKCS8 = "a DER-encoded PKCS#8 private key (RFC 5208); import only the private key, KMS derives the public key"


def _hmac_rule(bits: int) -> MaterialRule:
    return MaterialRule("hmac", bits // 8, 128, needs_aes_key_wrap=False, description="random bytes (RFC 2104)")


def _asymmetric_rule(kind: str, needs_aes_key_wrap: bool) -> MaterialRule:
    return MaterialRule(kind, 1, None, needs_aes_key_wrap=needs_aes_key_wrap, description=_PKCS8)


#: key spec -> what material it accepts. The single table the length check and its error message read.
#: Source: AWS KMS Developer Guide, "Requirements for imported key material"
#: (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements):
#:   * SYMMETRIC_DEFAULT: "256-bits (32 bytes) of binary data" (16 bytes only in China Regions: unsupported).
#:   * HMAC: "The key length must be at least the same length specified by the key spec. The maximum key
#:     length is 1024-bits." - HMAC_224: 224-1024 bits, HMAC_256: 256-1024, HMAC_384: 384-1024,
#:     HMAC_512: 512-1024 bits (so 28/32/48/64 to 128 bytes). The guide's "Step 3: Encrypt the key
#:     material" page says instead that an HMAC key's length "must match the length defined by the key
#:     spec"; kmsflow follows the requirements section, and KMS itself has the last word (its refusal comes
#:     back as IncorrectKeyMaterialException).
#:   * RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1: PKCS#8 DER private keys. RSA private
#:     keys need an RSA_AES_KEY_WRAP_* algorithm ("To import an RSA private key, you must use an RSA_AES
#:     wrapping algorithm"); ECC keys may use OAEP when they fit (ECC_NIST_P521 does not fit RSA_2048 OAEP,
#:     which the size check below catches).
#:   * ML-DSA keys: "Importing ML-DSA keys is not supported" - absent, as are SM2 and the other specs.
MATERIAL_RULES: dict[str, MaterialRule] = {
    "SYMMETRIC_DEFAULT": MaterialRule(
        "symmetric", 32, 32, needs_aes_key_wrap=False, description="256 random bits (32 bytes)"
    ),
    "HMAC_224": _hmac_rule(224),
    "HMAC_256": _hmac_rule(256),
    "HMAC_384": _hmac_rule(384),
    "HMAC_512": _hmac_rule(512),
    "RSA_2048": _asymmetric_rule("rsa", needs_aes_key_wrap=True),
    "RSA_3072": _asymmetric_rule("rsa", needs_aes_key_wrap=True),
    "RSA_4096": _asymmetric_rule("rsa", needs_aes_key_wrap=True),
    "ECC_NIST_P256": _asymmetric_rule("ecc", needs_aes_key_wrap=False),
    "ECC_NIST_P384": _asymmetric_rule("ecc", needs_aes_key_wrap=False),
    "ECC_NIST_P521": _asymmetric_rule("ecc", needs_aes_key_wrap=False),
    "ECC_SECG_P256K1": _asymmetric_rule("ecc", needs_aes_key_wrap=False),
}


def _rules_text() -> str:
    return "; ".join(f"{spec}: {rule.range_text()}" for spec, rule in MATERIAL_RULES.items())


def get_wrapping_algorithm(name: str) -> WrappingAlgorithm:
    """The :class:`WrappingAlgorithm` called ``name``, or a :class:`KeyMaterialError` saying which exist."""
    algorithm = WRAPPING_ALGORITHMS.get(name)
    if algorithm is not None:
        return algorithm
    why = _REFUSED_ALGORITHMS.get(name, "it is not a KMS wrapping algorithm")
    raise KeyMaterialError(
        f"wrapping algorithm {name!r} is not supported: {why}. Allowed: {', '.join(WRAPPING_ALGORITHMS)}. "
        "Use RSAES_OAEP_SHA_256 for symmetric and HMAC material, RSA_AES_KEY_WRAP_SHA_256 for private keys."
    )


def check_material_for_key_spec(key_spec: str, material: bytes, algorithm: str) -> MaterialRule:
    """Refuse material that the KMS key's spec cannot take, before any request is sent.

    Only the material's *length* is ever put in a message, never its bytes.
    """
    wrapping = get_wrapping_algorithm(algorithm)
    rule = MATERIAL_RULES.get(key_spec)
    if rule is None:
        raise KeyMaterialError(
            f"key spec {key_spec!r} cannot take imported key material through kmsflow. Allowed key specs: "
            f"{', '.join(MATERIAL_RULES)}. Create the key with one of them and origin: EXTERNAL."
        )
    if not rule.allows(len(material)):
        raise KeyMaterialError(
            f"key material for a {key_spec} key must be {rule.range_text()} ({rule.description}); "
            f"received {len(material)} bytes. Allowed lengths per key spec: {_rules_text()}. "
            "Check that the file holds the raw binary material (not hex, base64 or PEM) for this key spec."
        )
    if rule.needs_aes_key_wrap and not wrapping.aes_key_wrap:
        raise KeyMaterialError(
            f"wrapping algorithm {algorithm} cannot wrap {rule.kind.upper()} private key material for a "
            f"{key_spec} key: KMS requires an RSA_AES_KEY_WRAP algorithm for it. "
            "Use --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256."
        )
    return rule


def load_wrapping_public_key(public_key_der: bytes) -> rsa.RSAPublicKey:
    """Parse the DER SubjectPublicKeyInfo of GetParametersForImport's ``PublicKey``; it must be RSA."""
    try:
        key = serialization.load_der_public_key(public_key_der)
    except ValueError as err:
        raise KeyMaterialError(
            f"the wrapping public key is not a DER SubjectPublicKeyInfo "
            f"({len(public_key_der)} bytes received). "
            "Pass the PublicKey bytes of the GetParametersForImport response unchanged (not base64)."
        ) from err
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyMaterialError(
            f"the wrapping public key is a {type(key).__name__}, not an RSA key; kmsflow wraps only with "
            "RSA_2048, RSA_3072 or RSA_4096 wrapping keys. Request one of them from GetParametersForImport."
        )
    return key


def max_oaep_plaintext(public_key: rsa.RSAPublicKey, algorithm: WrappingAlgorithm) -> int:
    """Largest plaintext RSA-OAEP can encrypt under ``public_key``: k - 2*hLen - 2 (RFC 8017, 7.1.1)."""
    modulus_bytes = (public_key.key_size + 7) // 8
    return modulus_bytes - 2 * algorithm.hash_factory().digest_size - 2


def wrap_key_material(public_key_der: bytes, material: bytes, algorithm: str) -> bytes:
    """Encrypt ``material`` for ImportKeyMaterial's ``EncryptedKeyMaterial`` with ``algorithm``.

    For RSAES_OAEP_* the material is OAEP-encrypted directly; for RSA_AES_KEY_WRAP_* a fresh 256-bit AES
    key wraps the material (RFC 5649) and is itself OAEP-encrypted, and the result is
    ``wrapped AES key || wrapped material``, the layout KMS expects.
    """
    wrapping = get_wrapping_algorithm(algorithm)
    public_key = load_wrapping_public_key(public_key_der)
    if not material:
        raise KeyMaterialError("the key material is empty (0 bytes received); pass a file with the material.")
    if wrapping.aes_key_wrap:
        return _wrap_with_aes_key(public_key, material, wrapping)
    _check_fits_oaep(public_key, material, wrapping)
    return public_key.encrypt(material, wrapping.oaep())


def _check_fits_oaep(public_key: rsa.RSAPublicKey, material: bytes, wrapping: WrappingAlgorithm) -> None:
    limit = max_oaep_plaintext(public_key, wrapping)
    if len(material) > limit:
        raise KeyMaterialError(
            f"key material of {len(material)} bytes is too large for {wrapping.name} with an "
            f"RSA_{public_key.key_size} wrapping key: RSA-OAEP can wrap at most {limit} bytes "
            "(modulus bytes - 2 x hash bytes - 2). Use --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256, "
            "which has no such limit, or a larger --wrapping-key-spec."
        )


def _wrap_with_aes_key(public_key: rsa.RSAPublicKey, material: bytes, wrapping: WrappingAlgorithm) -> bytes:
    # The AES key is a one-time key; like the material, Python cannot zero it (bytes are immutable), so the
    # only thing we can do is not keep a reference once it has been used.
    aes_key = os.urandom(AES_KEY_BYTES)
    wrapped_key = public_key.encrypt(aes_key, wrapping.oaep())
    wrapped_material = aes_key_wrap_with_padding(aes_key, material)
    del aes_key
    return wrapped_key + wrapped_material
