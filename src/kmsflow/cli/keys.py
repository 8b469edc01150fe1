"""``kmsflow keys``: commands that act on KMS keys themselves; for now ``import-material``.

The command is a thin shell over :func:`kmsflow.keymaterial.importer.import_key_material`: it reads the
material, builds the client through :func:`kmsflow.lambdas.aws_clients.client` (the only place clients are
made) and turns any :class:`~kmsflow.errors.KmsflowError` into one line on stderr and exit code 1, without a
traceback. The material itself is never printed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from kmsflow.errors import KeyMaterialError, KmsflowError
from kmsflow.keymaterial.importer import WRAPPING_KEY_SPECS, ImportResult, import_key_material
from kmsflow.keymaterial.wrap import MATERIAL_RULES, WRAPPING_ALGORITHMS
from kmsflow.lambdas.aws_clients import client

app = typer.Typer(
    help="Manage AWS KMS keys: import external key material into keys created with origin EXTERNAL.",
    no_args_is_help=True,
)


@app.callback()
def keys() -> None:
    # A callback keeps ``keys`` a command group even while it has a single command, so that
    # ``kmsflow keys import-material`` stays the spelling when the group is used on its own (as in tests).
    pass


_MATERIAL_HELP = (
    "File holding the raw binary key material (not hex, base64 or PEM); '-' reads it from standard input. "
    + "; ".join(f"{spec}: {rule.range_text()}" for spec, rule in MATERIAL_RULES.items() if rule.max_bytes)
    + "; RSA and ECC private keys: DER PKCS#8."
)


@app.command("import-material")
def import_material(
    key_id: Annotated[
        str,
        typer.Option("--key-id", help="Key ID, key ARN or alias (alias/NAME) of a KMS key with origin EXTERNAL."),
    ],
    material: Annotated[str, typer.Option("--material", help=_MATERIAL_HELP)],
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
            show_envvar=True,
            help="AWS Region of the key. Defaults to $AWS_REGION, then $AWS_DEFAULT_REGION; "
            "required if neither is set.",
        ),
    ] = None,
    role_arn: Annotated[
        str | None,
        typer.Option("--role-arn", help="IAM role to assume for the KMS calls (default: the current credentials)."),
    ] = None,
    wrapping_algorithm: Annotated[
        str,
        typer.Option(
            "--wrapping-algorithm",
            help=f"How the material is encrypted in transit; one of {', '.join(WRAPPING_ALGORITHMS)}. "
            "RSA and large private keys need RSA_AES_KEY_WRAP_SHA_256.",
        ),
    ] = "RSAES_OAEP_SHA_256",
    wrapping_key_spec: Annotated[
        str,
        typer.Option(
            "--wrapping-key-spec",
            help=f"Size of the RSA wrapping key KMS generates; one of {', '.join(WRAPPING_KEY_SPECS)}.",
        ),
    ] = "RSA_4096",
    expires_at: Annotated[
        str | None,
        typer.Option(
            "--expires-at",
            help="When KMS deletes the imported material, as an ISO 8601 time with a time zone "
            "(e.g. 2027-01-01T00:00:00Z), at most 365 days ahead. Default: the material does not expire.",
        ),
    ] = None,
) -> None:
    """Import key material from a file into a KMS key with origin EXTERNAL.

    The material is wrapped locally under a fresh KMS wrapping key and sent only in that wrapped form.
    """
    try:
        result = _run_import(key_id, material, region, role_arn, wrapping_algorithm, wrapping_key_spec, expires_at)
    except KmsflowError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(code=1) from None
    _print_result(result)


def _run_import(
    key_id: str,
    material_path: str,
    region: str | None,
    role_arn: str | None,
    wrapping_algorithm: str,
    wrapping_key_spec: str,
    expires_at: str | None,
) -> ImportResult:
    """Check the cheap inputs first, so that a typo never costs an STS or KMS round trip."""
    if not region:
        raise KeyMaterialError(
            "no AWS region: --region was not given and neither AWS_REGION nor AWS_DEFAULT_REGION is set. "
            "Pass --region (e.g. --region eu-west-1) or export AWS_REGION."
        )
    valid_to = _parse_expiry(expires_at)
    material = _read_material(material_path)
    kms = _kms_client(region, role_arn)
    return import_key_material(
        kms,
        key_id=key_id,
        material=material,
        wrapping_algorithm=wrapping_algorithm,
        wrapping_key_spec=wrapping_key_spec,
        valid_to=valid_to,
    )


def _parse_expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as err:
        raise KeyMaterialError(
            f"--expires-at {text!r} is not an ISO 8601 time. Give one with a time zone, e.g. 2027-01-01T00:00:00Z."
        ) from err


def _read_material(path: str) -> bytes:
    """The material as bytes, from a file or from stdin; an OSError becomes a message naming the file."""
    if path == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise KeyMaterialError(
            f"cannot read the key material file {path!r}: {err.strerror or err}. "
            "Pass a readable file with the raw binary material, or '-' to read standard input."
        ) from err


def _kms_client(region: str, role_arn: str | None) -> Any:
    """A KMS client; an STS or credentials failure (when assuming the role) becomes a clean message."""
    try:
        return client("kms", region=region, role_arn=role_arn)
    except (ClientError, BotoCoreError) as err:
        through = f" through role {role_arn}" if role_arn else ""
        raise KeyMaterialError(
            f"could not create a KMS client in {region}{through}: {err}. Check your AWS credentials and, "
            "with --role-arn, that you may assume that role."
        ) from err


def _print_result(result: ImportResult) -> None:
    """One line per fact, so that scripts can grep them; the material is never among them."""
    expiration = (
        f"{result.valid_to.isoformat()} ({result.expiration_model})"
        if result.valid_to is not None
        else f"never ({result.expiration_model})"
    )
    typer.echo("Imported key material.")
    typer.echo(f"Key ARN: {result.key_arn}")
    typer.echo(f"Key spec: {result.key_spec}")
    typer.echo(f"Wrapping algorithm: {result.wrapping_algorithm}")
    typer.echo(f"Expiration: {expiration}")
