"""Tests of :mod:`tests.support.moto_kms_rsa`: moto's gap (RSA ciphertext made outside it cannot be decrypted),
and the model's answers - success and each refusal - with moto unchanged for everything else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from moto import mock_aws

from kmsflow.lambdas.aws_clients import session_for
from tests.support.moto_kms_rsa import KmsRsaModel

REGION = "eu-west-1"


def oaep(hash_algorithm: hashes.HashAlgorithm) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hash_algorithm), algorithm=hash_algorithm, label=None)


@pytest.fixture
def kms() -> Iterator[Any]:
    with mock_aws():
        yield session_for(region=REGION).client("kms", region_name=REGION)


def rsa_key(kms: Any, spec: str = "RSA_2048", usage: str = "ENCRYPT_DECRYPT") -> tuple[str, Any]:
    arn = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["Arn"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])
    return arn, public


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_moto_alone_cannot_decrypt_rsa_ciphertext(kms: Any) -> None:
    """The gap the model fills (if moto learns RSA decryption, this test fails and the model can go)."""
    arn, public = rsa_key(kms)
    blob = public.encrypt(b"secret", oaep(hashes.SHA256()))
    assert (
        code_of(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256"))
        == "InvalidCiphertextException"
    )


@pytest.mark.parametrize(
    ("spec", "algorithm", "hash_algorithm"),
    [
        ("RSA_2048", "RSAES_OAEP_SHA_256", hashes.SHA256()),
        ("RSA_3072", "RSAES_OAEP_SHA_1", hashes.SHA1()),
        ("RSA_4096", "RSAES_OAEP_SHA_256", hashes.SHA256()),
    ],
)
def test_model_decrypts_as_kms(kms: Any, spec: str, algorithm: str, hash_algorithm: hashes.HashAlgorithm) -> None:
    arn, public = rsa_key(kms, spec)
    blob = public.encrypt(b"secret", oaep(hash_algorithm))
    with KmsRsaModel().install() as model:
        answer = kms.decrypt(KeyId=arn, CiphertextBlob=blob, EncryptionAlgorithm=algorithm)
        key_id = arn.rsplit("/", 1)[1]
        by_id = kms.decrypt(KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm=algorithm)
    assert (answer["Plaintext"], answer["KeyId"], answer["EncryptionAlgorithm"]) == (b"secret", arn, algorithm)
    assert by_id["Plaintext"] == b"secret"
    assert model.decrypts == {arn: 2}
    assert model.requests == [frozenset({"KeyId", "CiphertextBlob", "EncryptionAlgorithm"})] * 2


def test_model_refusals(kms: Any) -> None:
    arn, public = rsa_key(kms)
    blob = public.encrypt(b"secret", oaep(hashes.SHA256()))
    symmetric = kms.create_key()["KeyMetadata"]["Arn"]
    signing, _ = rsa_key(kms, usage="SIGN_VERIFY")
    missing = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with KmsRsaModel().install() as model:

        def decrypt(**kwargs: Any) -> Any:
            return lambda: kms.decrypt(
                **{"CiphertextBlob": blob, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256", **kwargs}
            )

        assert code_of(decrypt(KeyId=arn, EncryptionAlgorithm="RSAES_OAEP_SHA_1")) == "InvalidCiphertextException"
        assert (
            code_of(decrypt(KeyId=arn, CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1])))
            == "InvalidCiphertextException"
        )
        assert code_of(decrypt()) == "InvalidCiphertextException"  # no KeyId: KMS cannot tell the key
        assert code_of(decrypt(KeyId=missing)) == "NotFoundException"
        assert code_of(decrypt(KeyId=symmetric)) == "InvalidKeyUsageException"
        assert code_of(decrypt(KeyId=signing)) == "InvalidKeyUsageException"
        kms.disable_key(KeyId=arn.rsplit("/", 1)[1])
        assert code_of(decrypt(KeyId=arn)) == "DisabledException"
        kms.enable_key(KeyId=arn.rsplit("/", 1)[1])
        assert kms.decrypt(KeyId=arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == (
            b"secret"
        )
        kms.schedule_key_deletion(KeyId=arn.rsplit("/", 1)[1], PendingWindowInDays=7)
        assert code_of(decrypt(KeyId=arn)) == "KMSInvalidStateException"
    assert model.decrypts == {arn: 1}


def test_symmetric_decrypt_is_moto_unchanged(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"data", EncryptionContext={"a": "b"})["CiphertextBlob"]
    with KmsRsaModel().install() as model:
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"data"
        assert (
            kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"}, EncryptionAlgorithm="SYMMETRIC_DEFAULT")[
                "KeyId"
            ]
            == key
        )
        assert code_of(lambda: kms.decrypt(CiphertextBlob=blob)) == "InvalidCiphertextException"
    assert model.decrypts == {}
    assert model.requests == []


def test_install_is_undone(kms: Any) -> None:
    arn, public = rsa_key(kms)
    blob = public.encrypt(b"secret", oaep(hashes.SHA256()))
    with KmsRsaModel().install():
        kms.decrypt(KeyId=arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert (
        code_of(lambda: kms.decrypt(KeyId=arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256"))
        == "InvalidCiphertextException"
    )
