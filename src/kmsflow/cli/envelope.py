"""``kmsflow envelope encrypt`` / ``kmsflow envelope decrypt``: files, standard streams and S3 objects in the AWS
Encryption SDK's message format, with kmsflow's own implementation (:mod:`kmsflow.envelope`).

IN and OUT are each a path, ``-`` (standard input / output) or ``s3://bucket/key``. Data streams through in
constant memory: frame by frame from IN, multipart to S3.

What a failure leaves behind: nothing. A path is written to a temporary file beside it (owner-only permissions)
and renamed into place only after the whole message verified; an S3 object is completed (or PUT) only then; a
decryption to standard output is held (in memory, past 64 MiB in an unlinked temporary file) and written only
then, so a refused message writes nothing to standard output. A message of the signed suite is verified whole
in memory before any of it is written (its signature comes last, after every frame). No plaintext and no data
key is ever printed; errors are one line on stderr. A progress bar goes to stderr for inputs of 8 MiB or more,
only when stderr is a terminal.

Exit codes: 0 done; 1 AWS or KMS failure (access denied, disabled key, throttling past the retries, no
credentials, a missing S3 object); 2 bad arguments, an unreadable input or unwritable output, a payload too large
for --direct, a reserved context key; 3 the message was refused: tampered, truncated, not a message, wrong
context, or no allowed key can decrypt it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, BinaryIO, cast

import typer

if TYPE_CHECKING:
    from kmsflow.envelope.api import Envelope

EXIT_AWS = 1
EXIT_ARGS = 2
EXIT_REFUSED = 3

#: Inputs at least this long get a progress bar (when stderr is a terminal).
PROGRESS_FROM = 8 * 1024 * 1024
#: A decryption to standard output is held in memory up to this size, then in an unlinked temporary file.
STDOUT_SPOOL = 64 * 1024 * 1024
#: The longest ciphertext blob KMS Decrypt takes (KMS API reference: CiphertextBlob, 1 to 6,144 bytes).
KMS_BLOB_LIMIT = 6144
CHUNK = 1024 * 1024

EXIT_CODES = (
    "Exit codes: 0 done; 1 AWS/KMS failure; 2 bad arguments, unreadable input or unwritable output; "
    "3 message refused (tampered, truncated, wrong context or no allowed key)."
)

app = typer.Typer(
    help="Envelope encryption with a KMS key, in the AWS Encryption SDK's message format. " + EXIT_CODES,
    no_args_is_help=True,
)


@app.callback()
def envelope() -> None:
    # Keeps ``envelope`` a command group.
    pass


class Refused(Exception):
    """Internal: carries an exit code and a one-line reason up to the command."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


InArg = Annotated[str, typer.Argument(metavar="IN", help="Input: a path, - (standard input) or s3://bucket/key.")]
OutArg = Annotated[str, typer.Argument(metavar="OUT", help="Output: a path, - (standard output) or s3://bucket/key.")]
ContextOpt = Annotated[
    list[str] | None,
    typer.Option("--context", help="Encryption context pair KEY=VALUE; repeatable."),
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="KMS and S3 region; default: the key ARN's, else the AWS config's.")
]


@app.command("encrypt")
def encrypt(
    source: InArg,
    target: OutArg,
    key_id: Annotated[str, typer.Option("--key-id", help="KMS key: key ARN, key id, alias name or alias ARN.")],
    region: RegionOpt = None,
    context: ContextOpt = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="PEM public key of the RSA ENCRYPT_DECRYPT key --key-id: encrypt offline (RSAES_OAEP_SHA_256).",
        ),
    ] = None,
    direct: Annotated[
        bool, typer.Option("--direct", help="KMS Encrypt of the whole input (at most 4,096 bytes), no data key.")
    ] = False,
    signed: Annotated[
        bool, typer.Option("--signed", help="The ECDSA P-384 signed suite (default: committing, unsigned).")
    ] = False,
) -> None:
    """Encrypt IN into OUT under the KMS key --key-id (AWS Encryption SDK message format v2, committing suite;
    --signed: the ECDSA-signed one). OUT appears only when the whole message is written.

    Exit codes: 0 done; 1 AWS/KMS failure; 2 bad arguments, unreadable input or unwritable output, a payload too
    large for --direct, a reserved context key.
    """
    pairs = parse_context(context or [])
    if direct and (public_key is not None or signed):
        _die(EXIT_ARGS, "--direct is KMS Encrypt with --key-id alone; it takes neither --public-key nor --signed")
    pem = _read_pem(public_key) if public_key is not None else None
    _run(lambda: _encrypt(source, target, key_id, region, pairs, pem, direct, signed), refused=EXIT_ARGS)


@app.command("decrypt")
def decrypt(
    source: InArg,
    target: OutArg,
    key_id: Annotated[
        list[str] | None,
        typer.Option("--key-id", help="A KMS key ARN allowed to decrypt the data key; repeatable."),
    ] = None,
    discovery_account: Annotated[
        list[str] | None,
        typer.Option("--discovery-account", help="Allow any key of this AWS account (discovery); repeatable."),
    ] = None,
    partition: Annotated[str, typer.Option("--partition", help="Partition of the discovery filter.")] = "aws",
    region: RegionOpt = None,
    context: ContextOpt = None,
    direct: Annotated[
        bool, typer.Option("--direct", help="IN is a KMS ciphertext blob from `encrypt --direct` (one --key-id).")
    ] = False,
) -> None:
    """Decrypt the message IN into OUT, allowing only the keys --key-id or the accounts --discovery-account (one of
    the two, never any key); every --context pair must be in the message's context. Nothing is written unless
    the whole message verified.

    Exit codes: 0 done; 1 AWS/KMS failure; 2 bad arguments, unreadable input or unwritable output; 3 the message
    was refused (tampered, truncated, wrong context, or no allowed key).
    """
    pairs = parse_context(context or [])
    keys, accounts = key_id or [], discovery_account or []
    if bool(keys) == bool(accounts):
        _die(EXIT_ARGS, "give --key-id (one or more key ARNs) or --discovery-account (one or more accounts), not both")
    if direct and (accounts or len(keys) != 1):
        _die(EXIT_ARGS, "--direct decrypts under exactly one --key-id")
    check_filter(keys, accounts)
    _run(lambda: _decrypt(source, target, keys, accounts, partition, region, pairs, direct), refused=EXIT_REFUSED)


def parse_context(pairs: list[str]) -> dict[str, str]:
    """``--context KEY=VALUE`` flags as a mapping (exit 2 on a malformed or repeated key)."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _die(EXIT_ARGS, f"--context {key!r}...: expected KEY=VALUE")
        if key in parsed:
            _die(EXIT_ARGS, f"--context key {key!r} given twice")
        parsed[key] = value
    return parsed


def check_filter(keys: list[str], accounts: list[str]) -> None:
    """Exit 2 unless every --key-id is a key ARN (encrypted data keys name their key by ARN) and every
    --discovery-account a 12-digit account id."""
    from kmsflow.envelope.arns import ACCOUNT_ID_DIGITS, KEY_ARN_FORM, is_account_id, parse_key_arn

    for key in keys:
        if parse_key_arn(key) is None:
            _die(EXIT_ARGS, f"--key-id {key!r} is not a key ARN ({KEY_ARN_FORM})")
    for account in accounts:
        if not is_account_id(account):
            _die(EXIT_ARGS, f"--discovery-account {account!r} is not a {ACCOUNT_ID_DIGITS}-digit AWS account id")


# --- the two operations ----------------------------------------------------------------------------------
def _encrypt(
    source: str,
    target: str,
    key_id: str,
    region: str | None,
    context: dict[str, str],
    pem: bytes | None,
    direct: bool,
    signed: bool,
) -> None:
    from kmsflow.envelope.api import Envelope
    from kmsflow.envelope.direct import DIRECT_LIMIT
    from kmsflow.envelope.s3 import FORMAT, FORMAT_KEY, SUITE_KEY
    from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED

    envelope = Envelope(key_id, region=region, public_key_pem=pem)
    suite = COMMITTING_SIGNED if signed else COMMITTING
    metadata = {} if direct else {FORMAT_KEY: FORMAT, SUITE_KEY: suite.name}
    with _open_input(source, envelope) as (src, size):
        if direct:
            data = src.read(DIRECT_LIMIT + 1)
            if len(data) > DIRECT_LIMIT:
                raise Refused(
                    EXIT_ARGS,
                    f"--direct takes at most {DIRECT_LIMIT:,} bytes (KMS Encrypt) and {source} holds more: "
                    "use the envelope (drop --direct)",
                )
            blob = envelope.encrypt_direct(data, context=context)
            with _open_output(target, envelope, hold=False, metadata=metadata) as dst:
                dst.write(blob)
            return
        with _open_output(target, envelope, hold=False, metadata=metadata) as dst, Progress("encrypt", size) as bar:
            envelope.encrypt_stream(src, dst, context=context, suite=suite, on_frame=bar.advance)


def _decrypt(
    source: str,
    target: str,
    keys: list[str],
    accounts: list[str],
    partition: str,
    region: str | None,
    context: dict[str, str],
    direct: bool,
) -> None:
    from kmsflow.envelope.api import Envelope

    envelope = Envelope(keys[0] if keys else None, region=region)
    with _open_input(source, envelope) as (src, size):
        if direct:
            blob = src.read(KMS_BLOB_LIMIT + 1)
            if len(blob) > KMS_BLOB_LIMIT:
                raise Refused(
                    EXIT_REFUSED, f"{source} is not a KMS ciphertext blob: more than {KMS_BLOB_LIMIT:,} bytes"
                )
            plaintext = envelope.decrypt_direct(blob, context=context)
            with _open_output(target, envelope, hold=True, metadata={}) as dst:
                dst.write(plaintext)
            return
        with _open_output(target, envelope, hold=True, metadata={}) as dst, Progress("decrypt", size) as bar:
            envelope.decrypt_stream(
                src,
                dst,
                context=context,
                key_ids=keys or None,
                discovery_accounts=accounts or None,
                partition=partition,
                on_frame=bar.advance,
            )


def _run(operation: Callable[[], None], *, refused: int) -> None:
    """Run one operation; map every failure to one line on stderr and its exit code (``refused``: the code of a
    message/input the envelope refuses: 2 on encrypt (bad input), 3 on decrypt (bad message))."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kmsflow.cli.copy import aws_failure
    from kmsflow.envelope.exceptions import ConfigurationError, ContextError, DirectModeError, EnvelopeError, KmsError

    try:
        operation()
    except Refused as err:
        _die(err.code, str(err))
    except KmsError as err:
        _die(EXIT_AWS, str(err))
    except (ConfigurationError, DirectModeError) as err:
        _die(EXIT_ARGS, str(err))
    except ContextError as err:
        _die(refused, str(err))
    except EnvelopeError as err:
        _die(refused, str(err))
    except (ClientError, BotoCoreError) as err:
        _die(EXIT_AWS, aws_failure(err))


def _die(code: int, reason: str) -> None:
    typer.echo(f"kmsflow: {reason}", err=True)
    raise typer.Exit(code)


# --- inputs and outputs ------------------------------------------------------------------------------------
@contextmanager
def _open_input(source: str, envelope: Envelope) -> Iterator[tuple[BinaryIO, int | None]]:
    """The input as a readable binary stream and its length when known."""
    if source == "-":
        yield sys.stdin.buffer, None
        return
    if source.startswith("s3://"):
        from kmsflow.envelope import s3

        bucket, key = _s3_url(source)
        body, length = s3.open_object(envelope.s3_client(), bucket, key)
        try:
            yield body, (length if length >= 0 else None)
        finally:
            body.close()
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115 -- closed below, after the operation
    except OSError as err:
        raise Refused(EXIT_ARGS, f"cannot read {source}: {err.strerror or err}") from None
    with handle:
        yield handle, os.fstat(handle.fileno()).st_size


@contextmanager
def _open_output(target: str, envelope: Envelope, *, hold: bool, metadata: dict[str, str]) -> Iterator[BinaryIO]:
    """Where the output goes, made visible only when the block ends without an error. ``hold``: standard output
    receives nothing until then (decryption)."""
    if target == "-":
        if not hold:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
            return
        with tempfile.SpooledTemporaryFile(max_size=STDOUT_SPOOL) as spool:
            yield cast(BinaryIO, spool)
            spool.seek(0)
            while chunk := spool.read(CHUNK):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        return
    if target.startswith("s3://"):
        from kmsflow.envelope.s3 import S3Writer

        bucket, key = _s3_url(target)
        with S3Writer(envelope.s3_client(), bucket, key, metadata=metadata) as writer:
            yield cast(BinaryIO, writer)
        return
    path = Path(target)
    try:
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as err:
        raise Refused(EXIT_ARGS, f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _s3_url(url: str) -> tuple[str, str]:
    from kmsflow.envelope.exceptions import EnvelopeError
    from kmsflow.envelope.s3 import parse_s3_url

    try:
        return parse_s3_url(url)
    except EnvelopeError as err:
        raise Refused(EXIT_ARGS, str(err)) from None


def _read_pem(path: Path) -> bytes:
    try:
        pem = path.read_bytes()
    except OSError as err:
        _die(EXIT_ARGS, f"cannot read --public-key {path}: {err.strerror or err}")
        raise  # unreachable: _die raises
    if b"-----BEGIN PUBLIC KEY-----" not in pem:
        _die(EXIT_ARGS, f"--public-key {path} is not a PEM public key (-----BEGIN PUBLIC KEY-----)")
    return pem


# --- progress ----------------------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr, for inputs of :data:`PROGRESS_FROM` bytes or more (or of unknown
    length once that much went through), only when stderr is a terminal. Counts plaintext bytes (``advance`` is
    the stream's ``on_frame``); against a ciphertext length (decryption) the percentage runs a little short
    of 100 until the end."""

    WIDTH = 30
    EVERY = 0.1  # seconds between redraws

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.enabled = _is_terminal(self.stream) and (total is None or total >= PROGRESS_FROM)
        self.drawn = False
        self.started = time.monotonic()
        self.last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self.drawn:
            if kind is None:
                self._draw(final=True)
            self.stream.write("\n")
            self.stream.flush()

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled or (self.total is None and self.done < PROGRESS_FROM):
            return
        now = time.monotonic()
        if now - self.last >= self.EVERY:
            self.last = now
            self._draw(final=False)

    def render(self, final: bool) -> str:
        mib = self.done / 1048576
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed / 1e6
        if self.total:
            fraction = 1.0 if final else min(self.done / self.total, 1.0)
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            return f"{self.label} [{bar}] {fraction:4.0%} {mib:,.1f} MiB {rate:,.0f} MB/s"
        return f"{self.label} {mib:,.1f} MiB {rate:,.0f} MB/s"

    def _draw(self, *, final: bool) -> None:
        self.stream.write("\r" + self.render(final))
        self.stream.flush()
        self.drawn = True


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
