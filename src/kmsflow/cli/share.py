"""``kmsflow share start`` / ``kmsflow share status``: run and watch the snapshot-share state machine.

The same shape as ``kmsflow copy`` (whose following, naming and error wording this reuses): ``start`` builds the
input from flags (or a JSON file), checks its form locally with the handler's own parser, starts an execution of
``kmsflow-snapshot-share-<region>`` and follows it; the summary shows the target copy and what was revoked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from kmsflow.cli.copy import KINDS, describe_one, launch, parse_tags
from kmsflow.lambdas.errors import InvalidInput
from kmsflow.lambdas.snapshot_share.job import DeclaredTarget, parse_input
from kmsflow.stacks.naming import snapshot_share_name

app = typer.Typer(
    help="Share KMS-encrypted snapshots with another account by grant-and-copy, revoking every access after.",
    no_args_is_help=True,
)


@app.callback()
def share() -> None:
    # Keeps ``share`` a command group.
    pass


def check_input(payload: object) -> None:
    """Refuse, before any AWS call, an input whose form the first step would refuse (exit 2). Whether the target
    account and region are declared for the machine is known only to the machine: its first step checks that."""
    target = payload.get("target") if isinstance(payload, dict) else None
    account = target.get("account") if isinstance(target, dict) else None
    region = target.get("region") if isinstance(target, dict) else None
    declared: dict[str, DeclaredTarget] = {}
    if isinstance(account, str) and isinstance(region, str):
        declared[account] = DeclaredTarget(regions=[region], roles={region: "checked-by-the-machine"}, external_id=None)
    try:
        parse_input(payload, {"Id": "local-check", "Name": "local-check"}, declared)
    except InvalidInput as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None


def build_input(
    *,
    kind: str,
    source_id: str,
    source_region: str,
    account: str,
    target_region: str,
    kms_key_id: str,
    tags: list[str],
    delete_source: bool,
) -> dict[str, Any]:
    """The execution input of the contract in README "Workflows II" (the state machine validates it again)."""
    if kind not in KINDS:
        raise typer.BadParameter(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    return {
        "source": {"kind": kind, "id": source_id, "region": source_region},
        "target": {"account": account, "region": target_region, "kms_key_id": kms_key_id},
        "options": {"tags": parse_tags(tags), "delete_source_snapshot": delete_source},
    }


def state_machine_arn(region: str, account: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{snapshot_share_name(region)}"


def summary(description: dict[str, Any]) -> list[str]:
    """Status; the target copy and what the revocation removed; or why it failed (the cause lists revocations)."""
    lines = [f"{description['executionArn']}: {description['status']}"]
    if description.get("output"):
        output = json.loads(description["output"])
        target, revoked = output.get("target", {}), output.get("revoked", {})
        lines += [
            f"  copy in {target.get('account', '?')}: {target.get('snapshot_arn', '?')}",
            f"  key:  {target.get('kms_key_id', '?')}",
            f"  revoked grants: {', '.join(revoked.get('grants', [])) or 'none'}",
            f"  unshared: {', '.join(revoked.get('unshared', [])) or 'none'}",
            f"  deleted: {', '.join(revoked.get('deleted', [])) or 'none'}",
        ]
    if description.get("error") or description.get("cause"):
        lines.append(f"  {description.get('error', '')}: {description.get('cause', '')}")
    return lines


@app.command("start")
def start(
    kind: Annotated[str | None, typer.Option("--kind", help=f"What to share: {', '.join(KINDS)}.")] = None,
    source_id: Annotated[
        str | None, typer.Option("--id", help="Instance, cluster, volume or snapshot id (or ARN).")
    ] = None,
    source_region: Annotated[str | None, typer.Option("--source-region", help="Region of the source.")] = None,
    account: Annotated[str | None, typer.Option("--target-account", help="12-digit id of the target account.")] = None,
    target_region: Annotated[str | None, typer.Option("--target-region", help="Region to copy into.")] = None,
    kms_key_id: Annotated[
        str | None, typer.Option("--kms-key-id", help="Key ARN or alias ARN of the target account and region.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE tag on the copy; repeatable.")] = None,
    delete_source: Annotated[
        bool, typer.Option("--delete-source-snapshot", help="Delete a source snapshot this execution creates.")
    ] = False,
    input_file: Annotated[
        Path | None, typer.Option("--input", help="JSON file with the whole execution input (instead of the flags).")
    ] = None,
    arn: Annotated[
        str | None,
        typer.Option("--state-machine-arn", help="Default: kmsflow-snapshot-share-<region> in the caller's account."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Region of the state machine; default: the source region.")
    ] = None,
    follow_execution: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Follow until the execution ends.")
    ] = True,
) -> None:
    """Start a share and follow its steps until it ends (exit 0 when it succeeded, 1 otherwise)."""
    if input_file is not None:
        payload = json.loads(input_file.read_text(encoding="utf-8"))
    else:
        given = (
            ("--kind", kind),
            ("--id", source_id),
            ("--source-region", source_region),
            ("--target-account", account),
            ("--target-region", target_region),
            ("--kms-key-id", kms_key_id),
        )
        missing = [flag for flag, value in given if not value]
        if missing:
            raise typer.BadParameter(f"missing {', '.join(missing)} (or give --input FILE)")
        payload = build_input(
            kind=str(kind),
            source_id=str(source_id),
            source_region=str(source_region),
            account=str(account),
            target_region=str(target_region),
            kms_key_id=str(kms_key_id),
            tags=tag or [],
            delete_source=delete_source,
        )
    check_input(payload)
    launch(payload, region=region, arn=arn, follow_execution=follow_execution, machine=state_machine_arn, show=summary)


@app.command("status")
def status(
    execution_arn: Annotated[str, typer.Argument(help="The execution's ARN (printed by `share start`).")],
) -> None:
    """Show one execution: its status, the copy it made and what it revoked, or why it failed."""
    describe_one(execution_arn, summary)
