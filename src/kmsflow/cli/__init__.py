"""The ``kmsflow`` command: ``kmsflow config check``, ``kmsflow keys import-material``.

Every command prints errors as one readable message on stderr and exits non-zero, never with a traceback:
2 for invalid configuration (as ``cdk synth`` does), 1 for a failed AWS operation.
"""

from __future__ import annotations

import typer

from kmsflow.cli.config import app as config_app
from kmsflow.cli.keys import app as keys_app

app = typer.Typer(
    help="kmsflow: AWS KMS customer managed keys, their policies and workflows, as AWS CDK v2 code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")


def main() -> None:
    """Console-script entry point."""
    app()
