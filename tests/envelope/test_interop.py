"""Interoperability with the official AWS Encryption SDK (4.0.7, its KMS keyring from
aws-cryptographic-material-providers) on moto's KMS, both ways, for every size class and both suites; and the
issue's CLI acceptance: a file from ``kmsflow envelope encrypt`` decrypts with the SDK and the reverse, and a
one-byte change anywhere in a message makes ``kmsflow envelope decrypt`` exit 3 with nothing written.

The helpers here (a moto world with a key, the SDK client and keyring) are imported by the API, S3 and CLI tests.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import boto3
import pytest
from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
from moto import mock_aws
from typer.testing import CliRunner

from kmsflow.cli import app
from kmsflow.envelope import COMMITTING, COMMITTING_SIGNED, DEFAULT_FRAME_LENGTH, AlgorithmSuite, Envelope

REGION = "eu-west-1"
CONTEXT = {"tenant": "orders", "purpose": "interop"}
KIB, MIB = 1024, 1024 * 1024
SIZES = [0, 1, 4 * KIB - 1, 4 * KIB, MIB, 10 * MIB]
SUITES = [COMMITTING, COMMITTING_SIGNED]


@dataclass
class World:
    """A moto account with one symmetric KMS key, and the SDK set up against it."""

    kms: Any
    key_arn: str
    sdk: aws_encryption_sdk.EncryptionSDKClient
    keyring: Any

    def sdk_encrypt(self, data: bytes, suite: AlgorithmSuite, context: dict[str, str] | None = None) -> bytes:
        ciphertext, _ = self.sdk.encrypt(
            source=data,
            keyring=self.keyring,
            encryption_context=CONTEXT if context is None else context,
            algorithm=Algorithm.get_by_id(suite.id),
        )
        return bytes(ciphertext)

    def sdk_decrypt(self, message: bytes) -> tuple[bytes, Any]:
        """The plaintext and the SDK's header (``algorithm``, ``encryption_context``)."""
        plaintext, header = self.sdk.decrypt(source=message, keyring=self.keyring)
        return bytes(plaintext), header


@contextmanager
def moto_world() -> Iterator[World]:
    """Inside ``mock_aws``: a key, and the official SDK (commitment required both ways) with its KMS keyring."""
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key(Description="kmsflow envelope interop")["KeyMetadata"]["Arn"]
        providers = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
        keyring = providers.create_aws_kms_keyring(input=CreateAwsKmsKeyringInput(kms_key_id=key_arn, kms_client=kms))
        sdk = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
        yield World(kms, key_arn, sdk, keyring)


def pattern(n: int, seed: int = 0) -> bytes:
    """``n`` bytes that differ from frame to frame (a swapped or repeated frame would show)."""
    block = bytes((i * 7 + seed) % 256 for i in range(4099))
    return (block * (n // len(block) + 1))[:n]


@pytest.fixture
def world() -> Iterator[World]:
    with moto_world() as made:
        yield made


def size_id(n: int) -> str:
    return f"{n // MIB}MiB" if n >= MIB and n % MIB == 0 else f"{n}B"


# --- kmsflow -> SDK ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("frame_length", [DEFAULT_FRAME_LENGTH, 4096], ids=["default-frames", "4096-frames"])
@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_kmsflow_encrypt_sdk_decrypt(world: World, size: int, suite: AlgorithmSuite, frame_length: int) -> None:
    data = pattern(size)
    message = Envelope(world.key_arn).encrypt(data, context=CONTEXT, suite=suite, frame_length=frame_length)
    plaintext, header = world.sdk_decrypt(message)
    assert plaintext == data
    assert header.algorithm.algorithm_id == suite.id
    assert header.frame_length == frame_length
    assert {k: v for k, v in header.encryption_context.items() if not k.startswith("aws-crypto-")} == CONTEXT
    assert ("aws-crypto-public-key" in header.encryption_context) is suite.signed


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_kmsflow_encrypt_stream_sdk_decrypt(world: World, size: int, suite: AlgorithmSuite) -> None:
    data = pattern(size, seed=1)
    out = io.BytesIO()
    written = Envelope(world.key_arn).encrypt_stream(io.BytesIO(data), out, context=CONTEXT, suite=suite)
    assert written == size
    assert world.sdk_decrypt(out.getvalue())[0] == data


# --- SDK -> kmsflow ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_sdk_encrypt_kmsflow_decrypt(world: World, size: int, suite: AlgorithmSuite) -> None:
    data = pattern(size, seed=2)
    message = world.sdk_encrypt(data, suite)
    envelope = Envelope(world.key_arn)
    assert envelope.decrypt(message, context=CONTEXT) == data
    out = io.BytesIO()
    header = envelope.decrypt_stream(io.BytesIO(message), out, context=CONTEXT)
    assert out.getvalue() == data
    assert header.suite == suite
    assert header.frame_length == 4096  # the SDK's default
    assert {k: v for k, v in header.context.items() if not k.startswith("aws-crypto-")} == CONTEXT


def test_sdk_message_with_a_wrong_required_context_is_refused(world: World) -> None:
    from kmsflow.envelope import ContextError

    message = world.sdk_encrypt(b"secret", COMMITTING)
    with pytest.raises(ContextError):
        Envelope(world.key_arn).decrypt(message, context={"tenant": "billing"})


# --- the CLI acceptance -----------------------------------------------------------------------------------


def run(*args: str, stdin: bytes | None = None) -> Any:
    return CliRunner().invoke(app, ["envelope", *args], input=stdin)


@pytest.mark.parametrize("signed", [False, True], ids=["committing", "signed"])
def test_a_file_from_the_cli_decrypts_with_the_sdk(world: World, tmp_path: Path, signed: bool) -> None:
    data = pattern(3 * MIB + 5, seed=3)
    (tmp_path / "plain").write_bytes(data)
    flags = ["--signed"] if signed else []
    context = [arg for k, v in CONTEXT.items() for arg in ("--context", f"{k}={v}")]
    result = run("encrypt", "--key-id", world.key_arn, *context, *flags, str(tmp_path / "plain"), str(tmp_path / "ct"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    plaintext, header = world.sdk_decrypt((tmp_path / "ct").read_bytes())
    assert plaintext == data
    assert header.algorithm.algorithm_id == (COMMITTING_SIGNED if signed else COMMITTING).id


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_a_file_from_the_sdk_decrypts_with_the_cli(world: World, tmp_path: Path, suite: AlgorithmSuite) -> None:
    data = pattern(2 * MIB + 3, seed=4)
    (tmp_path / "ct").write_bytes(world.sdk_encrypt(data, suite))
    result = run(
        "decrypt", "--key-id", world.key_arn, "--context", "tenant=orders", str(tmp_path / "ct"), str(tmp_path / "pt")
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pt").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct", "pt"]


def tamper_positions(length: int) -> list[int]:
    """Every other byte of the first 64 (version, suite, message id, context and EDK lengths), 40 spread over
    the rest (EDK, header tag, frames: sequence numbers, IVs, ciphertext, tags), and every other byte of the last
    40 (the final frame's tag; for the signed suite the footer's signature)."""
    spread = range(64, length - 40, max(1, (length - 104) // 40))
    return sorted({*range(0, min(64, length), 2), *spread, *range(max(0, length - 40), length, 2)})


@pytest.mark.parametrize("signed", [False, True], ids=["committing", "signed"])
def test_a_one_byte_change_anywhere_makes_the_cli_exit_3_writing_nothing(
    world: World, tmp_path: Path, signed: bool
) -> None:
    data = pattern(2 * DEFAULT_FRAME_LENGTH + 100, seed=5)
    (tmp_path / "plain").write_bytes(data)
    flags = ["--signed"] if signed else []
    assert (
        run("encrypt", "--key-id", world.key_arn, *flags, str(tmp_path / "plain"), str(tmp_path / "ct")).exit_code == 0
    )
    message = (tmp_path / "ct").read_bytes()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    bad = tmp_path / "bad"
    failures = []
    for position in tamper_positions(len(message)):
        changed = bytearray(message)
        changed[position] ^= 0x01
        bad.write_bytes(changed)
        result = run("decrypt", "--key-id", world.key_arn, str(bad), str(out_dir / "pt"))
        if result.exit_code != 3 or list(out_dir.iterdir()) or result.stdout:
            failures.append((position, result.exit_code, result.output[-200:]))
    assert failures == []
    # The same to standard output: nothing on it.
    changed = bytearray(message)
    changed[len(message) - 1] ^= 0x80
    bad.write_bytes(changed)
    result = run("decrypt", "--key-id", world.key_arn, str(bad), "-")
    assert (result.exit_code, result.stdout_bytes) == (3, b"")
    # Truncation (a byte, a frame) and an unchanged message for contrast.
    for cut in (1, DEFAULT_FRAME_LENGTH):
        bad.write_bytes(message[:-cut])
        result = run("decrypt", "--key-id", world.key_arn, str(bad), str(out_dir / "pt"))
        assert (result.exit_code, list(out_dir.iterdir())) == (3, [])
    result = run("decrypt", "--key-id", world.key_arn, str(tmp_path / "ct"), "-")
    assert (result.exit_code, result.stdout_bytes == data) == (0, True)
