"""``kmsflow delivery``: the GitHub Actions workflows the configuration implies, and the digest that ties a deployed
cloud assembly to the reviewed one.

``github-workflows`` writes (or, with ``--check``, compares) ``.github/workflows/pull-request.yml`` and, with
``pipeline.github``, ``deploy.yml``. ``digest`` prints a cloud assembly's digest, or checks it against the review
job's. Exit codes: 0 done or matching; 1 drift or a digest that is not the reviewed one; 2 an invalid configuration
or an unreadable assembly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kmsflow.config import DEFAULT_CONFIG
from kmsflow.delivery.github_workflows import WORKFLOWS_DIR

app = typer.Typer(
    help="Delivery: generated GitHub Actions workflows and reviewed-assembly digests.", no_args_is_help=True
)


@app.command("github-workflows")
def github_workflows(
    config_path: Annotated[
        str, typer.Option("--config", help=f"The configuration (default: {DEFAULT_CONFIG}).")
    ] = DEFAULT_CONFIG,
    directory: Annotated[Path, typer.Option("--directory", help="Where the workflows live.")] = WORKFLOWS_DIR,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the files differ from what the config implies.")
    ] = False,
) -> None:
    """Write the workflows the configuration implies (or check the committed ones with --check)."""
    from kmsflow.config import load_config
    from kmsflow.delivery.exceptions import WorkflowDriftError
    from kmsflow.delivery.github_workflows import check_workflows, write_workflows
    from kmsflow.errors import ConfigError

    try:
        config = load_config(config_path)
    except ConfigError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None
    if check:
        try:
            check_workflows(config, directory)
        except WorkflowDriftError as err:
            typer.echo(f"kmsflow: {err}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{directory}: the workflows match {config_path}")
        return
    for path in write_workflows(config, directory):
        typer.echo(f"wrote {path}")


@app.command("digest")
def digest(
    cdk_out: Annotated[Path, typer.Argument(help="The cloud assembly (what `cdk synth` wrote).")] = Path("cdk.out"),
    expect: Annotated[
        str | None, typer.Option(help="The reviewed assembly's digest: exit 1 unless this assembly has it.")
    ] = None,
) -> None:
    """Print the assembly's digest (sha256:<hex>), or check it against --expect."""
    from kmsflow.delivery.digest import assembly_digest, check_digest
    from kmsflow.delivery.exceptions import AssemblyDigestError, DigestMismatchError

    try:
        if expect is None:
            typer.echo(assembly_digest(cdk_out))
            return
        typer.echo(f"{cdk_out}: {check_digest(cdk_out, expect)} is the reviewed assembly")
    except DigestMismatchError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(1) from None
    except AssemblyDigestError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None
