"""``kmsflow envelope encrypt|decrypt`` on moto: paths, standard streams and S3 objects; every exit code (0, 1 AWS,
2 arguments, 3 refused) with its one-line reason; nothing written and nothing on stdout when refused; no
plaintext ever printed; direct mode; an RSA key's public key; the progress bar (terminal only)."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from kmsflow.cli import envelope as envelope_cli
from kmsflow.envelope import Envelope
from tests.envelope.test_interop import REGION, World, moto_world, pattern, run
from tests.support.moto_kms_rsa import KmsRsaModel

SECRET = b"SECRET-PLAINTEXT-MARKER " * 50
BUCKET = "kmsflow-cli"


@pytest.fixture
def world() -> Iterator[World]:
    with moto_world() as made:
        Envelope(made.key_arn).s3_client().create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield made


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.txt"
    path.write_bytes(SECRET)
    return path


def never_printed(result: Any) -> None:
    """A failed command shows no plaintext anywhere."""
    assert result.exit_code != 0
    assert b"SECRET-PLAINTEXT" not in result.stderr_bytes + result.stdout_bytes


def encrypt_file(world: World, plain: Path, *extra: str) -> Path:
    out = plain.with_suffix(".enc")
    result = run("encrypt", "--key-id", world.key_arn, "--context", "tenant=orders", *extra, str(plain), str(out))
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "")
    return out


def test_help_documents_the_exit_codes() -> None:
    for args in (["--help"], ["encrypt", "--help"], ["decrypt", "--help"]):
        result = run(*args)
        assert result.exit_code == 0
        assert "Exit codes: 0" in result.stdout
        assert "3" in result.stdout.split("Exit codes")[1]
    assert envelope_cli.__doc__ is not None
    assert "Exit codes: 0 done; 1 AWS or KMS failure" in envelope_cli.__doc__


def test_file_round_trip_owner_only_and_quiet(world: World, plain: Path, tmp_path: Path) -> None:
    encrypted = encrypt_file(world, plain)
    assert SECRET not in encrypted.read_bytes()
    assert world.sdk_decrypt(encrypted.read_bytes())[0] == SECRET
    out = tmp_path / "back.txt"
    result = run("decrypt", "--key-id", world.key_arn, "--context", "tenant=orders", str(encrypted), str(out))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert out.read_bytes() == SECRET
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.txt", "plain.enc", "plain.txt"]


def test_standard_input_and_output(world: World) -> None:
    sealed = run("encrypt", "--key-id", world.key_arn, "-", "-", stdin=SECRET)
    assert sealed.exit_code == 0
    assert world.sdk_decrypt(sealed.stdout_bytes)[0] == SECRET
    opened = run("decrypt", "--key-id", world.key_arn, "-", "-", stdin=sealed.stdout_bytes)
    assert (opened.exit_code, opened.stdout_bytes, opened.stderr) == (0, SECRET, "")


def test_s3_in_and_out(world: World, plain: Path, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/data/plain.enc"
    assert run("encrypt", "--key-id", world.key_arn, "--signed", str(plain), url).exit_code == 0
    s3 = Envelope(world.key_arn).s3_client()
    head = s3.head_object(Bucket=BUCKET, Key="data/plain.enc")
    assert head["Metadata"] == {
        "kmsflow-format": "aws-encryption-sdk-message-v2",
        "kmsflow-suite": "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
    }
    out = tmp_path / "from-s3"
    result = run("decrypt", "--discovery-account", "123456789012", url, str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == SECRET
    assert run("decrypt", "--key-id", world.key_arn, url, f"s3://{BUCKET}/plain").exit_code == 0
    assert s3.get_object(Bucket=BUCKET, Key="plain")["Body"].read() == SECRET


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["decrypt", "in", "out"], "give --key-id"),
        (["decrypt", "--key-id", "K", "--discovery-account", "123456789012", "in", "out"], "not both"),
        (["decrypt", "--key-id", "alias/orders", "in", "out"], "is not a key ARN"),
        (["decrypt", "--discovery-account", "12345", "in", "out"], "not a 12-digit AWS account id"),
        (["encrypt", "--key-id", "K", "--context", "novalue", "in", "out"], "expected KEY=VALUE"),
        (["encrypt", "--key-id", "K", "--context", "a=1", "--context", "a=2", "in", "out"], "given twice"),
        (["encrypt", "--key-id", "K", "--direct", "--signed", "in", "out"], "--direct is KMS Encrypt"),
        (["decrypt", "--direct", "--discovery-account", "123456789012", "in", "out"], "exactly one --key-id"),
    ],
)
def test_bad_arguments_exit_2_before_any_aws_call(args: list[str], reason: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert reason in result.stderr
    assert result.stdout == ""


def test_unreadable_inputs_and_outputs_exit_2(world: World, plain: Path, tmp_path: Path) -> None:
    key = ["--key-id", world.key_arn]
    cases = [
        (["encrypt", *key, str(tmp_path / "missing"), str(tmp_path / "o")], "cannot read"),
        (["encrypt", *key, str(plain), str(tmp_path / "no" / "dir" / "o")], "cannot write"),
        (["encrypt", *key, str(plain), "s3://bucket-only"], "expected s3://bucket/key"),
        (["encrypt", *key, "--context", "aws-crypto-public-key=x", str(plain), str(tmp_path / "o")], "aws-crypto-"),
        (["encrypt", *key, "--public-key", str(plain), str(plain), str(tmp_path / "o")], "not a PEM public key"),
    ]
    for args, reason in cases:
        result = run(*args)
        assert (result.exit_code, reason in result.stderr) == (2, True), (args, result.output)
        never_printed(result)
    assert not (tmp_path / "o").exists()


def test_a_configuration_mistake_exits_2_even_when_decrypting(
    world: World, plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted = encrypt_file(world, plain)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    result = run("decrypt", "--discovery-account", "123456789012", str(encrypted), str(tmp_path / "o"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "kmsflow: no AWS region: neither a region nor a session with one was given, and boto3 resolves none "
        "(AWS_REGION, AWS_DEFAULT_REGION, the profile's region are unset): pass region=..., a session with a region, "
        "or set AWS_REGION\n"
    )
    assert not (tmp_path / "o").exists()


def test_aws_failures_exit_1(world: World, plain: Path, tmp_path: Path) -> None:
    missing_key = world.key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    result = run("encrypt", "--key-id", missing_key, str(plain), str(tmp_path / "o"))
    assert (result.exit_code, "GenerateDataKey" in result.stderr, "NotFoundException" in result.stderr) == (
        1,
        True,
        True,
    )
    result = run("decrypt", "--key-id", world.key_arn, f"s3://{BUCKET}/nothing-here", str(tmp_path / "o"))
    assert (result.exit_code, "NoSuchKey" in result.stderr) == (1, True)
    assert not (tmp_path / "o").exists()


def test_refused_messages_exit_3_with_nothing_written(world: World, plain: Path, tmp_path: Path) -> None:
    encrypted = encrypt_file(world, plain)
    other = world.kms.create_key()["KeyMetadata"]["Arn"]
    out = tmp_path / "out"
    cases = [
        (["--key-id", world.key_arn, "--context", "tenant=billing"], encrypted, "context"),
        (["--key-id", other], encrypted, "no encrypted data key"),
        (["--discovery-account", "111122223333"], encrypted, "discovery filter"),
        (["--key-id", world.key_arn], plain, ""),  # not a message at all
    ]
    for flags, source, reason in cases:
        for target in (str(out), "-"):
            result = run("decrypt", *flags, str(source), target)
            assert (result.exit_code, result.stdout_bytes, out.exists()) == (3, b"", False), (flags, result.output)
            assert reason in result.stderr
            assert (result.stderr[:9], result.stderr.count("\n")) == ("kmsflow: ", 1)
            never_printed(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.enc", "plain.txt"]


def test_direct_mode(world: World, tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(pattern(4096))
    large.write_bytes(pattern(4097))
    blob = tmp_path / "small.kms"
    assert (
        run("encrypt", "--key-id", world.key_arn, "--direct", "--context", "a=b", str(small), str(blob)).exit_code == 0
    )
    back = tmp_path / "back"
    result = run("decrypt", "--key-id", world.key_arn, "--direct", "--context", "a=b", str(blob), str(back))
    assert (result.exit_code, back.read_bytes()) == (0, pattern(4096))
    result = run("decrypt", "--key-id", world.key_arn, "--direct", "--context", "a=c", str(blob), "-")
    assert (result.exit_code, result.stdout_bytes) == (3, b"")
    result = run("encrypt", "--key-id", world.key_arn, "--direct", str(large), str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "at most 4,096 bytes" in result.stderr
    assert "use the envelope" in result.stderr
    assert not (tmp_path / "x").exists()


def test_rsa_public_key_encrypts_offline_and_kms_decrypts(world: World, plain: Path, tmp_path: Path) -> None:
    with KmsRsaModel().install() as model:
        arn = world.kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="RSA_3072")["KeyMetadata"]["Arn"]
        pem = tmp_path / "public.pem"
        der = world.kms.get_public_key(KeyId=arn)["PublicKey"]
        pem.write_bytes(load_der_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        encrypted = tmp_path / "rsa.enc"
        result = run(
            "encrypt", "--key-id", arn, "--public-key", str(pem), "--context", "k=v", str(plain), str(encrypted)
        )
        assert result.exit_code == 0, result.output
        back = tmp_path / "rsa.out"
        result = run("decrypt", "--key-id", arn, "--context", "k=v", str(encrypted), str(back))
        assert (result.exit_code, back.read_bytes()) == (0, SECRET), result.output
        assert model.decrypts[arn] == 1
        # An RSA key cannot sign-suite encrypt (anyone with the public key could forge the context).
        result = run("encrypt", "--key-id", arn, "--public-key", str(pem), "--signed", str(plain), str(tmp_path / "s"))
        assert (result.exit_code, "signed suite" in result.stderr) == (2, True)


def test_a_weak_public_key_is_refused(tmp_path: Path, plain: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = tmp_path / "weak.pem"
    pem.write_bytes(weak.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    result = run("encrypt", "--key-id", arn, "--public-key", str(pem), str(plain), str(tmp_path / "o"))
    assert (result.exit_code, "at least 2048" in result.stderr) == (2, True)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_terminal_for_large_inputs() -> None:
    big = envelope_cli.PROGRESS_FROM
    terminal = Tty()
    with envelope_cli.Progress("encrypt", 2 * big, terminal) as bar:
        bar.advance(big)
    first, final = terminal.getvalue().split("\r")[1:]
    assert first.startswith("encrypt [###############---------------]  50% 8.0 MiB ")
    assert final.startswith("encrypt [##############################] 100% 8.0 MiB ")
    assert final.endswith(" MB/s\n")
    for stream, total in ((io.StringIO(), 2 * big), (Tty(), big - 1)):
        with envelope_cli.Progress("encrypt", total, stream) as bar:
            bar.advance(total)
        assert stream.getvalue() == ""
    unknown = Tty()
    with envelope_cli.Progress("decrypt", None, unknown) as bar:
        bar.advance(big - 1)
        assert unknown.getvalue() == ""
        bar.advance(1)
    assert unknown.getvalue().startswith("\rdecrypt 8.0 MiB")


def test_large_inputs_through_the_cli_print_nothing_when_stderr_is_not_a_terminal(world: World, tmp_path: Path) -> None:
    data = tmp_path / "big"
    data.write_bytes(pattern(envelope_cli.PROGRESS_FROM + 1))
    result = run("encrypt", "--key-id", world.key_arn, str(data), str(tmp_path / "big.enc"))
    assert (result.exit_code, result.stderr) == (0, "")
