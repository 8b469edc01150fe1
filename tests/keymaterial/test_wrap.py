"""Wrapping key material: round trips through a real RSA private key, size limits, and the key spec table."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kmsflow.errors import KeyMaterialError
from kmsflow.keymaterial.wrap import (
    MATERIAL_RULES,
    WRAPPING_ALGORITHMS,
    check_material_for_key_spec,
    max_oaep_plaintext,
    wrap_key_material,
)

from .fake_kms import WRAPPING_KEY_BITS, public_key_der, unwrap_key_material, wrapping_private_key

OAEP_ALGORITHMS = [name for name, spec in WRAPPING_ALGORITHMS.items() if not spec.aes_key_wrap]
AES_KEY_WRAP_ALGORITHMS = [name for name, spec in WRAPPING_ALGORITHMS.items() if spec.aes_key_wrap]


def _pkcs8(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# ----- round trips ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrapping_key_spec", list(WRAPPING_KEY_BITS))
@pytest.mark.parametrize("algorithm", list(WRAPPING_ALGORITHMS))
def test_round_trip_every_algorithm_and_wrapping_key_size(algorithm: str, wrapping_key_spec: str) -> None:
    private_key = wrapping_private_key(WRAPPING_KEY_BITS[wrapping_key_spec])
    material = os.urandom(32)

    blob = wrap_key_material(public_key_der(private_key), material, algorithm)

    assert unwrap_key_material(private_key, blob, algorithm) == material
    assert material not in blob


@pytest.mark.parametrize("algorithm", AES_KEY_WRAP_ALGORITHMS)
def test_aes_key_wrap_carries_a_whole_rsa_private_key(algorithm: str) -> None:
    private_key = wrapping_private_key(2048)
    material = _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    blob = wrap_key_material(public_key_der(private_key), material, algorithm)

    assert unwrap_key_material(private_key, blob, algorithm) == material


@pytest.mark.parametrize("algorithm", AES_KEY_WRAP_ALGORITHMS)
def test_aes_key_wrap_layout_is_wrapped_aes_key_then_rfc5649_material(algorithm: str) -> None:
    private_key = wrapping_private_key(3072)
    material = os.urandom(45)  # not a multiple of 8: RFC 5649 pads it

    blob = wrap_key_material(public_key_der(private_key), material, algorithm)

    # 384 bytes of RSA-OAEP(AES key), then RFC 5649: 8-byte integrity block + material padded to 8 bytes.
    assert len(blob) == 384 + 8 + 48


def test_every_wrap_uses_fresh_randomness() -> None:
    der = public_key_der(wrapping_private_key(2048))
    material = os.urandom(32)
    for algorithm in WRAPPING_ALGORITHMS:
        assert wrap_key_material(der, material, algorithm) != wrap_key_material(der, material, algorithm)


# ----- size limits ----------------------------------------------------------------------------------------

#: k - 2*hLen - 2 with k = modulus bytes, hLen = 20 (SHA-1) or 32 (SHA-256): RFC 8017 section 7.1.1.
OAEP_LIMITS = {
    (2048, "RSAES_OAEP_SHA_1"): 214,
    (2048, "RSAES_OAEP_SHA_256"): 190,
    (3072, "RSAES_OAEP_SHA_1"): 342,
    (3072, "RSAES_OAEP_SHA_256"): 318,
    (4096, "RSAES_OAEP_SHA_1"): 470,
    (4096, "RSAES_OAEP_SHA_256"): 446,
}


@pytest.mark.parametrize(("bits", "algorithm"), list(OAEP_LIMITS))
def test_oaep_wraps_up_to_its_limit_and_not_one_byte_more(bits: int, algorithm: str) -> None:
    private_key = wrapping_private_key(bits)
    der = public_key_der(private_key)
    limit = OAEP_LIMITS[(bits, algorithm)]
    assert max_oaep_plaintext(private_key.public_key(), WRAPPING_ALGORITHMS[algorithm]) == limit

    fitting = os.urandom(limit)
    assert unwrap_key_material(private_key, wrap_key_material(der, fitting, algorithm), algorithm) == fitting

    with pytest.raises(KeyMaterialError) as caught:
        wrap_key_material(der, os.urandom(limit + 1), algorithm)
    message = str(caught.value)
    assert f"{limit + 1} bytes" in message
    assert f"at most {limit} bytes" in message
    assert "RSA_AES_KEY_WRAP_SHA_256" in message


def test_ecc_p521_private_key_does_not_fit_rsa_2048_oaep_as_aws_documents() -> None:
    material = _pkcs8(ec.generate_private_key(ec.SECP521R1()))
    check_material_for_key_spec("ECC_NIST_P521", material, "RSAES_OAEP_SHA_256")  # allowed in principle

    with pytest.raises(KeyMaterialError, match="RSA_AES_KEY_WRAP_SHA_256"):
        wrap_key_material(public_key_der(wrapping_private_key(2048)), material, "RSAES_OAEP_SHA_256")
    private_key = wrapping_private_key(4096)
    blob = wrap_key_material(public_key_der(private_key), material, "RSAES_OAEP_SHA_256")
    assert unwrap_key_material(private_key, blob, "RSAES_OAEP_SHA_256") == material


def test_empty_material_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match="empty"):
        wrap_key_material(public_key_der(wrapping_private_key(2048)), b"", "RSA_AES_KEY_WRAP_SHA_256")


# ----- algorithms and public keys -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RSAES_PKCS1_V1_5", "SM2PKE", "RSA_OAEP", ""])
def test_unsupported_algorithms_are_refused_naming_the_allowed_ones(algorithm: str) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        wrap_key_material(public_key_der(wrapping_private_key(2048)), os.urandom(32), algorithm)
    message = str(caught.value)
    assert repr(algorithm) in message
    for allowed in WRAPPING_ALGORITHMS:
        assert allowed in message


def test_pkcs1_v1_5_is_refused_as_deprecated() -> None:
    with pytest.raises(KeyMaterialError, match="October 10, 2023"):
        check_material_for_key_spec("SYMMETRIC_DEFAULT", os.urandom(32), "RSAES_PKCS1_V1_5")


def test_public_key_must_be_der() -> None:
    pem = (
        wrapping_private_key(2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyMaterialError, match="not a DER SubjectPublicKeyInfo"):
        wrap_key_material(pem, os.urandom(32), "RSAES_OAEP_SHA_256")


def test_public_key_must_be_rsa() -> None:
    ec_der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyMaterialError, match="not an RSA key"):
        wrap_key_material(ec_der, os.urandom(32), "RSAES_OAEP_SHA_256")


# ----- the key spec table ---------------------------------------------------------------------------------

#: The AWS facts, restated (AWS KMS Developer Guide, "Requirements for imported key material"), so that an
#: edit of the table that drifts from AWS fails here. None = no fixed maximum (PKCS#8 private keys).
AWS_MATERIAL_LENGTHS = {
    "SYMMETRIC_DEFAULT": (32, 32),
    "HMAC_224": (28, 128),
    "HMAC_256": (32, 128),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
    "RSA_2048": (1, None),
    "RSA_3072": (1, None),
    "RSA_4096": (1, None),
    "ECC_NIST_P256": (1, None),
    "ECC_NIST_P384": (1, None),
    "ECC_NIST_P521": (1, None),
    "ECC_SECG_P256K1": (1, None),
}


def test_table_matches_the_aws_documentation() -> None:
    assert {spec: (rule.min_bytes, rule.max_bytes) for spec, rule in MATERIAL_RULES.items()} == (AWS_MATERIAL_LENGTHS)
    assert [spec for spec, rule in MATERIAL_RULES.items() if rule.needs_aes_key_wrap] == [
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
    ]


def _boundaries() -> list[tuple[str, int, bool]]:
    """(key spec, length, accepted) for min-1, min, max, max+1 of every row of the table itself."""
    cases: list[tuple[str, int, bool]] = []
    for spec, rule in MATERIAL_RULES.items():
        cases += [(spec, rule.min_bytes - 1, False), (spec, rule.min_bytes, True)]
        if rule.max_bytes is not None:
            cases += [(spec, rule.max_bytes, True), (spec, rule.max_bytes + 1, False)]
    return cases


@pytest.mark.parametrize(("key_spec", "length", "accepted"), _boundaries())
def test_length_boundaries_from_the_table(key_spec: str, length: int, accepted: bool) -> None:
    algorithm = "RSA_AES_KEY_WRAP_SHA_256"  # valid for every key spec, so only the length decides
    material = os.urandom(length)
    if accepted:
        assert check_material_for_key_spec(key_spec, material, algorithm) is MATERIAL_RULES[key_spec]
        return
    with pytest.raises(KeyMaterialError) as caught:
        check_material_for_key_spec(key_spec, material, algorithm)
    message = str(caught.value)
    assert key_spec in message
    assert f"received {length} bytes" in message
    assert MATERIAL_RULES[key_spec].range_text() in message
    if material:
        assert material.hex() not in message


@pytest.mark.parametrize("key_spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("algorithm", OAEP_ALGORITHMS)
def test_rsa_private_keys_need_an_aes_key_wrap_algorithm(key_spec: str, algorithm: str) -> None:
    with pytest.raises(KeyMaterialError, match="RSA_AES_KEY_WRAP_SHA_256"):
        check_material_for_key_spec(key_spec, os.urandom(1200), algorithm)


@pytest.mark.parametrize("key_spec", ["ML_DSA_44", "SM2", "ECC_NIST_EDWARDS25519", "NOPE"])
def test_key_specs_without_imported_material_are_refused(key_spec: str) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        check_material_for_key_spec(key_spec, os.urandom(32), "RSAES_OAEP_SHA_256")
    message = str(caught.value)
    assert repr(key_spec) in message
    assert "SYMMETRIC_DEFAULT" in message
    assert "origin: EXTERNAL" in message
