"""The format against the official AWS Encryption SDK (4.0.7) without KMS: its Raw AES keyring (from
aws-cryptographic-material-providers) on one side, :class:`RawAesKeyring` - the same encrypted data key format,
written from the spec - on ours. Both directions, both suites, frame lengths ours and the SDK's, in memory and
as streams. (Interoperability through the KMS keyrings is tested by the API's tests.)"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
mpl = pytest.importorskip("aws_cryptographic_material_providers.mpl")

from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig  # type: ignore[import-untyped]  # noqa: E402
from aws_cryptographic_material_providers.mpl.models import (  # type: ignore[import-untyped]  # noqa: E402
    AesWrappingAlg,
    CreateRawAesKeyringInput,
)
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy  # type: ignore[import-untyped]  # noqa: E402
from cryptography.exceptions import InvalidTag  # noqa: E402

from kmsflow.envelope.exceptions import AuthenticationError, MessageFormatError  # noqa: E402
from kmsflow.envelope.message import DEFAULT_FRAME_LENGTH, decrypt, encrypt, read_header  # noqa: E402
from kmsflow.envelope.stream import decrypt_stream, encrypt_stream  # noqa: E402
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite  # noqa: E402
from tests.envelope.raw_aes_keyring import RawAesKeyring  # noqa: E402

WRAPPING_KEY = bytes(range(200, 232))
NAMESPACE, NAME = "kmsflow-interop", "raw-aes-1"
CONTEXT = {"tenant": "orders", "région": "eu-ouest", "\U0001f511": "\u00e9"}
SUITES = [pytest.param(COMMITTING, id="committing"), pytest.param(COMMITTING_SIGNED, id="signed")]
SDK_FRAME = 4096
SIZES = [0, 1, SDK_FRAME - 1, SDK_FRAME, SDK_FRAME + 1, 3 * SDK_FRAME, 300_000]


@pytest.fixture(scope="module")
def sdk() -> Any:
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


@pytest.fixture(scope="module")
def sdk_keyring() -> Any:
    providers = mpl.AwsCryptographicMaterialProviders(MaterialProvidersConfig())
    return providers.create_raw_aes_keyring(
        CreateRawAesKeyringInput(
            key_namespace=NAMESPACE,
            key_name=NAME,
            wrapping_key=WRAPPING_KEY,
            wrapping_alg=AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16,
        )
    )


@pytest.fixture
def ours() -> RawAesKeyring:
    return RawAesKeyring(NAMESPACE, NAME, WRAPPING_KEY)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("size", SIZES)
def test_sdk_to_kmsflow(size: int, suite: AlgorithmSuite, sdk: Any, sdk_keyring: Any, ours: RawAesKeyring) -> None:
    plaintext = os.urandom(size)
    message, _ = sdk.encrypt(
        source=plaintext, keyring=sdk_keyring, encryption_context=CONTEXT, algorithm=Algorithm.get_by_id(suite.id)
    )
    header = read_header(message)
    assert (header.suite, header.frame_length) == (suite, SDK_FRAME)
    assert decrypt(message, ours, required_context=CONTEXT) == plaintext
    if not suite.signed:
        out = io.BytesIO()
        decrypt_stream(io.BytesIO(message), out, ours, required_context=CONTEXT)
        assert out.getvalue() == plaintext


#: (size, frame length): every size with the SDK's and our default frame length; one-byte frames for small sizes.
OUR_CASES = [(size, frame) for frame in (SDK_FRAME, DEFAULT_FRAME_LENGTH) for size in SIZES] + [
    (size, 1) for size in SIZES if size <= SDK_FRAME + 1
]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("size", "frame_length"), OUR_CASES)
def test_kmsflow_to_sdk(
    size: int, suite: AlgorithmSuite, frame_length: int, sdk: Any, sdk_keyring: Any, ours: RawAesKeyring
) -> None:
    plaintext = os.urandom(size)
    message = encrypt(plaintext, ours, context=CONTEXT, suite=suite, frame_length=frame_length)
    result, header = sdk.decrypt(source=message, keyring=sdk_keyring)
    assert result == plaintext
    assert header.algorithm.algorithm_id == suite.id
    assert {k: v for k, v in header.encryption_context.items() if k != "aws-crypto-public-key"} == CONTEXT
    streamed = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), streamed, ours, context=CONTEXT, suite=suite, frame_length=frame_length)
    assert sdk.decrypt(source=streamed.getvalue(), keyring=sdk_keyring)[0] == plaintext


def test_sdk_refuses_what_kmsflow_refuses(sdk: Any, sdk_keyring: Any, ours: RawAesKeyring) -> None:
    """A byte changed in the body of our message: the SDK refuses it too, and kmsflow says why."""
    message = bytearray(encrypt(os.urandom(10_000), ours, context=CONTEXT, frame_length=SDK_FRAME))
    message[-30] ^= 1
    with pytest.raises(InvalidTag):  # the SDK lets cryptography's error through
        sdk.decrypt(source=bytes(message), keyring=sdk_keyring)
    with pytest.raises((AuthenticationError, MessageFormatError)):
        decrypt(bytes(message), ours)
