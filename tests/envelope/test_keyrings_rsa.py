"""The KMS RSA keyring: encryption offline from the public key (a PEM, or one GetPublicKey), decryption through
moto KMS with :mod:`tests.support.moto_kms_rsa`, the encryption context bound by its SHA-384 digest, and what
the official keyring refuses (signed suites, small keys, aliases); messages exchanged with the official SDK's KMS
RSA keyring both ways."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import aws_encryption_sdk  # type: ignore[import-untyped]
import pytest
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders  # type: ignore[import-untyped]
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig  # type: ignore[import-untyped]
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsRsaKeyringInput  # type: ignore[import-untyped]
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from moto import mock_aws
from moto.kms.models import kms_backends

from kmsflow.envelope import message
from kmsflow.envelope.decrypt_keyring import KmsDecryptKeyring
from kmsflow.envelope.exceptions import AuthenticationError, ConfigurationError, EnvelopeError, KeyNotAllowedError
from kmsflow.envelope.header import read_header
from kmsflow.envelope.materials import KMS_RSA_PROVIDER_ID, EncryptedDataKey
from kmsflow.envelope.retry import RetryStats
from kmsflow.envelope.rsa_keyring import KmsRsaKeyring, context_digest, load_rsa_public_key
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED
from kmsflow.lambdas.aws_clients import session_for
from tests.envelope.refusals import configuration_error
from tests.support.moto_kms_rsa import KmsRsaModel

REGION = "eu-west-1"
ACCOUNT = "123456789012"
CONTEXT = {"purpose": "test", "tenant": "a"}


@dataclass
class RsaWorld:
    kms: Any
    key: str  # RSA_2048 ENCRYPT_DECRYPT key ARN
    pem: bytes  # its public key, PEM
    model: KmsRsaModel
    sent: list[str]

    def client(self) -> Any:
        client = session_for(region=REGION).client("kms", region_name=REGION)
        client.meta.events.register("request-created.kms", lambda operation_name, **_: self.sent.append(operation_name))
        return client


@pytest.fixture
def world() -> Iterator[RsaWorld]:
    with mock_aws(), KmsRsaModel().install() as model:
        kms = session_for(region=REGION).client("kms", region_name=REGION)
        key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
        der = kms.get_public_key(KeyId=key)["PublicKey"]
        pem = serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        yield RsaWorld(kms, key, pem, model, [])


def test_offline_encrypt_from_pem_then_decrypt_through_kms(world: RsaWorld) -> None:
    stats = RetryStats()
    keyring = KmsRsaKeyring(world.key, public_key_pem=world.pem, client=world.client(), stats=stats)
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert world.sent == []  # offline
    assert stats.calls == 0
    [edk] = data_key.encrypted
    assert edk.provider_id == b"aws-kms-rsa"
    assert edk.provider_info == world.key.encode()
    assert len(edk.ciphertext) == 256  # one RSA-2048 block
    assert len(data_key.plaintext) == 32
    assert keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == data_key.plaintext
    assert world.sent == ["Decrypt"]
    assert world.model.decrypts == {world.key: 1}
    # KMS RSA decryption takes no encryption context: none was sent
    assert world.model.requests == [frozenset({"KeyId", "CiphertextBlob", "EncryptionAlgorithm"})]


def test_the_rsa_plaintext_is_the_context_digest_then_the_key(world: RsaWorld) -> None:
    data_key = KmsRsaKeyring(world.key, public_key_pem=world.pem).on_encrypt(COMMITTING, CONTEXT)
    answer = world.kms.decrypt(
        KeyId=world.key, CiphertextBlob=data_key.encrypted[0].ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    serialized = (
        b"\x00\x02" + b"\x00\x07purpose\x00\x04test" + b"\x00\x06tenant\x00\x01a"  # sorted by key bytes
    )
    assert answer["Plaintext"] == hashlib.sha384(serialized).digest() + bytes(data_key.plaintext)
    assert context_digest({}) == hashlib.sha384(b"").digest()  # an empty context serializes to no bytes


def test_one_get_public_key_for_many_messages(world: RsaWorld) -> None:
    stats = RetryStats()
    keyring = KmsRsaKeyring(world.key, client=world.client(), stats=stats)
    keys = [keyring.on_encrypt(COMMITTING, {"n": str(i)}) for i in range(5)]
    assert world.sent == ["GetPublicKey"]
    assert stats.calls == 1
    decrypting = KmsRsaKeyring(world.key, client=world.client())
    for i, data_key in enumerate(keys):
        assert decrypting.on_decrypt(COMMITTING, {"n": str(i)}, data_key.encrypted) == data_key.plaintext
    assert world.sent == ["GetPublicKey"] + ["Decrypt"] * 5


def test_another_context_fails_the_digest_check(world: RsaWorld) -> None:
    keyring = KmsRsaKeyring(world.key, public_key_pem=world.pem, client=world.client())
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    with pytest.raises(AuthenticationError, match=r"encryption context digest .* does not match"):
        keyring.on_decrypt(COMMITTING, {**CONTEXT, "tenant": "b"}, data_key.encrypted)


def test_strict_decrypt_keyring_reads_rsa_edks(world: RsaWorld) -> None:
    data_key = KmsRsaKeyring(world.key, public_key_pem=world.pem).on_encrypt(COMMITTING, CONTEXT)
    strict = KmsDecryptKeyring([world.key], client=world.client())
    assert strict.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == data_key.plaintext
    discovery = KmsDecryptKeyring(discovery_accounts=[ACCOUNT], client=world.client())
    assert discovery.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == data_key.plaintext
    with pytest.raises(AuthenticationError):
        strict.on_decrypt(COMMITTING, {}, data_key.encrypted)


def test_rsa_keyring_decrypts_only_its_key(world: RsaWorld) -> None:
    other = world.kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    data_key = KmsRsaKeyring(other, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    assert len(data_key.encrypted[0].ciphertext) == 384
    world.sent.clear()
    with pytest.raises(KeyNotAllowedError, match=f"under the RSA key {world.key}"):
        KmsRsaKeyring(world.key, public_key_pem=world.pem, client=world.client()).on_decrypt(
            COMMITTING, CONTEXT, data_key.encrypted
        )
    assert world.sent == []


def test_sha1_padding_when_configured(world: RsaWorld) -> None:
    keyring = KmsRsaKeyring(world.key, public_key_pem=world.pem, algorithm="RSAES_OAEP_SHA_1", client=world.client())
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == data_key.plaintext
    # decrypting with the other padding fails in KMS
    sha256 = KmsRsaKeyring(world.key, public_key_pem=world.pem, client=world.client())
    with pytest.raises(KeyNotAllowedError, match="InvalidCiphertextException"):
        sha256.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)


def test_signed_suites_are_refused_both_ways(world: RsaWorld) -> None:
    keyring = KmsRsaKeyring(world.key, public_key_pem=world.pem, client=world.client())
    refused = (
        f"the KMS RSA keyring cannot be used with the signed suite {COMMITTING_SIGNED.name}: anyone with the public "
        "key could make a message under another context (the AWS Encryption SDK refuses it too); use an unsigned suite"
    )
    with pytest.raises(ConfigurationError) as chosen:  # encrypting: the caller chose the suite
        keyring.on_encrypt(COMMITTING_SIGNED, CONTEXT)
    assert str(chosen.value) == refused
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    with pytest.raises(EnvelopeError) as made:  # decrypting: the message did
        keyring.on_decrypt(COMMITTING_SIGNED, CONTEXT, data_key.encrypted)
    assert (type(made.value), str(made.value)) == (EnvelopeError, refused)
    with pytest.raises(KeyNotAllowedError, match="signed suite"):
        KmsDecryptKeyring([world.key], client=world.client()).on_decrypt(COMMITTING_SIGNED, CONTEXT, data_key.encrypted)
    assert world.sent == []


def test_a_sign_verify_key_is_refused_at_get_public_key(world: RsaWorld) -> None:
    signing = world.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    with pytest.raises(ConfigurationError) as caught:
        KmsRsaKeyring(signing, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    assert str(caught.value) == (
        f"{signing} is not an RSA key for RSAES_OAEP_SHA_256 encryption: KMS reports KeyUsage SIGN_VERIFY, "
        "encryption algorithms none; the KMS RSA keyring needs KeyUsage ENCRYPT_DECRYPT with RSAES_OAEP_SHA_256: use "
        "such a key, or pass an algorithm it offers"
    )


def test_configuration_errors() -> None:
    for alias, kind in (("alias/rsa", "an alias name"), (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/rsa", "an alias ARN")):
        assert configuration_error(partial(KmsRsaKeyring, alias)).startswith(
            f"the KMS RSA keyring needs key ARNs (arn:<partition>:kms:<region>:<account>:key/<key id>); got "
            f"{alias!r}, {kind}. "
        )
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert configuration_error(lambda: KmsRsaKeyring(arn, algorithm="RSAES_PKCS1")) == (  # type: ignore[arg-type]
        "unknown RSA encryption algorithm 'RSAES_PKCS1'; the KMS RSA keyring takes 'RSAES_OAEP_SHA_256' or "
        "'RSAES_OAEP_SHA_1': pass one of those as algorithm"
    )
    assert configuration_error(lambda: KmsDecryptKeyring([arn], rsa_algorithm="SHA_256")).endswith(  # type: ignore[arg-type]
        "pass one of those as rsa_algorithm"
    )
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    small_pem = small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert configuration_error(lambda: KmsRsaKeyring(arn, public_key_pem=small_pem)) == (
        "the RSA public key has 1024 bits; the KMS RSA keyring needs at least 2048: use a KMS key of spec RSA_2048 "
        "or larger"
    )
    ecc = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = ecc.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert configuration_error(lambda: load_rsa_public_key(der)) == (
        f"the public key is {type(ecc).__name__}, not RSA; the KMS RSA keyring needs the public key of an RSA "
        "ENCRYPT_DECRYPT key: pass that key's public key"
    )
    message = configuration_error(
        lambda: load_rsa_public_key(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    )
    assert message.startswith("not a PEM or DER public key: ")
    assert message.endswith(
        "; the KMS RSA keyring needs the key's SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----, or the DER bytes "
        "GetPublicKey returns): pass that as public_key_pem"
    )


def test_encryption_matches_a_plain_oaep_reading(world: RsaWorld) -> None:
    """Independent of KMS: the private key (moto's) opens the EDK with plain OAEP-SHA-256."""
    data_key = KmsRsaKeyring(world.key, public_key_pem=world.pem).on_encrypt(COMMITTING, {})
    key = kms_backends[ACCOUNT][REGION].describe_key(world.key)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    opened = key.private_key.private_key.decrypt(data_key.encrypted[0].ciphertext, oaep)  # type: ignore[attr-defined]
    assert opened == hashlib.sha384(b"").digest() + bytes(data_key.plaintext)
    assert world.model.decrypts == {}


def test_malformed_rsa_edks_never_reach_kms(world: RsaWorld) -> None:
    odd = [
        EncryptedDataKey(KMS_RSA_PROVIDER_ID, b"alias/rsa", b"\x00" * 256),
        EncryptedDataKey(KMS_RSA_PROVIDER_ID, world.key.encode() + b"x", b"\x00" * 256),
    ]
    with pytest.raises(KeyNotAllowedError):
        KmsRsaKeyring(world.key, public_key_pem=world.pem, client=world.client()).on_decrypt(COMMITTING, CONTEXT, odd)
    assert world.sent == []


# --------------------------------------------------------------------- the official SDK's KMS RSA keyring


def official_rsa_keyring(world: RsaWorld, *, with_public_key: bool) -> Any:
    providers = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    return providers.create_aws_kms_rsa_keyring(
        input=CreateAwsKmsRsaKeyringInput(
            kms_key_id=world.key,
            encryption_algorithm="RSAES_OAEP_SHA_256",
            public_key=world.pem if with_public_key else None,
            kms_client=session_for(region=REGION).client("kms", region_name=REGION),
        )
    )


def sdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def test_official_rsa_messages_decrypt_here(world: RsaWorld) -> None:
    ciphertext, _ = sdk().encrypt(
        source=b"from the SDK",
        keyring=official_rsa_keyring(world, with_public_key=True),
        encryption_context=CONTEXT,
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    )
    [edk] = read_header(bytes(ciphertext)).encrypted_data_keys
    assert (edk.provider_id, edk.provider_info, len(edk.ciphertext)) == (b"aws-kms-rsa", world.key.encode(), 256)
    keyring = KmsRsaKeyring(world.key, client=world.client())
    assert message.decrypt(bytes(ciphertext), keyring, required_context=CONTEXT) == b"from the SDK"
    assert message.decrypt(bytes(ciphertext), KmsDecryptKeyring([world.key], client=world.client())) == b"from the SDK"


def test_messages_made_here_decrypt_with_the_official_rsa_keyring(world: RsaWorld) -> None:
    data = message.encrypt(b"from kmsflow", KmsRsaKeyring(world.key, public_key_pem=world.pem), context=CONTEXT)
    plaintext, header = sdk().decrypt(source=data, keyring=official_rsa_keyring(world, with_public_key=False))
    assert bytes(plaintext) == b"from kmsflow"
    assert header.encryption_context == CONTEXT
    assert world.model.decrypts == {world.key: 1}
