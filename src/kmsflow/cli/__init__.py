"""The ``kmsflow`` command: ``config check``, ``keys import-material``, ``audit usage``, ``copy``, ``share``,
``review``, ``envelope`` and ``delivery``.

Every command prints errors as one readable message on stderr and exits non-zero, never with a traceback:
2 for invalid configuration or arguments (as ``cdk synth`` does) or an unreadable cloud assembly, 1 for a failed
AWS operation (``review``: a finding at or above ``--fail-on``), and 3 when ``audit usage`` had to skip
unreadable files or malformed records, or when ``envelope decrypt`` refused a message.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kmsflow import __version__
from kmsflow.cli.audit import app as audit_app
from kmsflow.cli.config import app as config_app
from kmsflow.cli.copy import app as copy_app
from kmsflow.cli.delivery import app as delivery_app
from kmsflow.cli.envelope import app as envelope_app
from kmsflow.cli.keys import app as keys_app
from kmsflow.cli.review import app as review_app
from kmsflow.cli.share import app as share_app
from kmsflow.node import prefer_pinned_node

app = typer.Typer(
    help="kmsflow: AWS KMS customer managed keys, their policies and workflows, as AWS CDK v2 code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"kmsflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print kmsflow's version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """kmsflow: AWS KMS customer managed keys, their policies and workflows, as AWS CDK v2 code."""


app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(copy_app, name="copy")
app.add_typer(share_app, name="share")
app.add_typer(review_app)
app.add_typer(envelope_app, name="envelope")
app.add_typer(delivery_app, name="delivery")


def main() -> None:
    """Console-script entry point (the pinned Node first on PATH before any command imports aws_cdk)."""
    prefer_pinned_node()
    app()
