"""``kmsflow config check``: validate a configuration file and show what it declares, without synthesizing."""

from __future__ import annotations

from typing import Annotated

import typer

from kmsflow.config import DEFAULT_CONFIG
from kmsflow.errors import ConfigError
from kmsflow.keyspec import resolve_key_settings
from kmsflow.stacks.naming import keys_stack_name

app = typer.Typer(help="Check kmsflow configuration files.", no_args_is_help=True)


@app.callback()
def config() -> None:
    # Keeps ``config`` a command group while it has a single command.
    pass


@app.command("check")
def check(
    path: Annotated[
        str, typer.Argument(help=f"Configuration file to check (default: {DEFAULT_CONFIG}).")
    ] = DEFAULT_CONFIG,
) -> None:
    """Validate PATH as `cdk synth` would (except cdk-nag) and list the keys and stacks it declares.

    Exit code 0: valid; 2: invalid (every problem is listed with its line and path).
    """
    from kmsflow.app import check_config

    try:
        cfg = check_config(path)
    except ConfigError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{path}: valid; {len(cfg.keys)} key(s), partition {cfg.partition}")
    for key in cfg.keys:
        settings, _ = resolve_key_settings(
            spec=key.spec,
            usage=key.usage,
            rotation=key.rotation,
            rotation_days=key.rotation_days,
            deletion_window_days=key.deletion_window_days,
            origin=key.origin,
            multi_region=bool(key.multi_region or key.replicas),
        )
        assert settings is not None  # load_config refused the file otherwise
        rotation = f"rotates every {settings.rotation_days} days" if settings.rotation else "no rotation"
        stacks = ", ".join(keys_stack_name(key.account, r) for r in [key.region, *key.replicas])
        typer.echo(f"  {key.name}: {settings.spec} {settings.usage}, {rotation}, policy {key.policy.mode} -> {stacks}")
