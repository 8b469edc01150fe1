"""``kmsflow config check``: validate a configuration file and show what it declares, without synthesizing."""

from __future__ import annotations

from typing import Annotated

import typer

from kmsflow.config import DEFAULT_CONFIG
from kmsflow.delivery.github_workflows import deploy_stages
from kmsflow.errors import ConfigError
from kmsflow.stacks.naming import audit_stack_name, keys_stack_name, share_target_stack_name, workflows_stack_name

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
    from kmsflow.app import check_config, first_line

    try:
        cfg = check_config(path)
    except ConfigError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None
    except RuntimeError as err:  # a construct validation, which pipeline.codepipeline runs while building stages
        typer.echo(f"kmsflow: {path}: a construct refused the configuration: {first_line(err)}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{path}: valid; {len(cfg.keys)} key(s), partition {cfg.partition}")
    for key in cfg.keys:
        settings, _ = key.settings()
        assert settings is not None  # load_config refused the file otherwise
        rotation = f"rotates every {settings.rotation_days} days" if settings.rotation else "no rotation"
        stacks = ", ".join(keys_stack_name(key.account, r) for r in [key.region, *key.replicas])
        typer.echo(f"  {key.name}: {settings.spec} {settings.usage}, {rotation}, policy {key.policy.mode} -> {stacks}")
    if cfg.audit is not None:
        audit = cfg.audit
        typer.echo(
            f"  audit: trail {audit.trail_name}, {len(audit.alarms.subscriptions)} alarm subscription(s) -> "
            f"{audit_stack_name(audit.account, audit.region)}"
        )
        for member in cfg.audit_members():
            typer.echo(
                f"  audit: trail {audit.trail_name} of account {member}, delivering to {audit.account}'s bucket -> "
                f"{audit_stack_name(member, audit.region)}"
            )
    for flow in cfg.workflows.snapshot_copy:
        destinations = ", ".join(flow.destination_regions)
        stack = workflows_stack_name(flow.account, flow.region)
        typer.echo(f"  workflow snapshot-copy: {flow.region} -> {destinations} -> {stack}")
    for share in cfg.workflows.snapshot_share:
        stack = workflows_stack_name(share.account, share.region)
        for target in share.targets:
            stacks = ", ".join(share_target_stack_name(target.account, region) for region in target.regions)
            typer.echo(
                f"  workflow snapshot-share: {share.account} {share.region} -> {target.account} "
                f"[{', '.join(target.regions)}] -> {stack}, {stacks}"
            )
    if cfg.pipeline is not None:
        for stage in deploy_stages(cfg):
            approval = ", after approval" if stage.approval else ""
            typer.echo(f"  stage {stage.name}{approval}: {', '.join(stage.stacks)}")
    principals = cfg.policy_principals()
    if principals:
        typer.echo("  principals named in key policies (they must exist before `cdk deploy`; README, 'Before deploy'):")
        for ref, places in principals.items():
            typer.echo(f"    {ref} ({', '.join(places)})")
    unaudited = cfg.unaudited_accounts()
    if unaudited:
        typer.echo(
            f"  warning: no trail records the KMS calls of account(s) {', '.join(unaudited)}, which hold keys or run "
            "workflows; add them to audit.member_accounts (or set audit.organization_trail: true)"
        )
