"""``kmsflow copy start`` / ``kmsflow copy status``: run and watch the snapshot-copy state machine on a real account.

``start`` builds the execution input from flags (or takes a JSON file), starts an execution of
``kmsflow-snapshot-copy-<region>`` (or the ARN given) and follows it, printing each state as it is entered,
until the execution ends; ``status`` shows one execution. Errors are one message and exit 1, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from kmsflow.lambdas.aws_clients import INTERACTIVE_CONFIG, client
from kmsflow.lambdas.errors import InvalidInput
from kmsflow.lambdas.snapshot_copy.job import parse_input
from kmsflow.stacks.naming import snapshot_copy_name

app = typer.Typer(
    help="Move KMS-encrypted snapshots to another region with the snapshot-copy workflow.", no_args_is_help=True
)

KINDS = ("rds-instance", "aurora-cluster", "ebs-volume", "rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot")
FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
#: Seconds between two reads of the execution history while following (GetExecutionHistory is cheap).
POLL_SECONDS = 5.0


@app.callback()
def copy() -> None:
    # Keeps ``copy`` a command group.
    pass


def check_input(payload: object) -> None:
    """Refuse, before any AWS call, an input the workflow's first step would refuse: the same parser as the
    handler (``kmsflow.lambdas.snapshot_copy.job.parse_input``), so both say the same. Exit 2."""
    try:
        parse_input(payload, {"Id": "local-check", "Name": "local-check"})
    except InvalidInput as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None


def aws_failure(err: Exception) -> str:
    """An AWS error as one sentence that says what to do (botocore's own text for the rest)."""
    if isinstance(err, NoCredentialsError):
        return (
            "no AWS credentials found; set AWS_PROFILE (after `aws sso login` or `aws configure`), or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), then run the command again"
        )
    if isinstance(err, EndpointConnectionError):
        return f"{err}; check the region and the network (proxy, VPC endpoint), then run the command again"
    return str(err)


def state_machine_arn(region: str, account: str) -> str:
    """The ARN of the workflow a kmsflow workflows stack deploys in ``region``."""
    return f"arn:aws:states:{region}:{account}:stateMachine:{snapshot_copy_name(region)}"


def build_input(
    *,
    kind: str,
    source_id: str,
    source_region: str,
    destination_region: str,
    kms_key_id: str,
    tags: list[str],
    delete_source: bool,
) -> dict[str, Any]:
    """The execution input of the contract in README "Workflows" (the state machine validates it again)."""
    if kind not in KINDS:
        raise typer.BadParameter(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    return {
        "source": {"kind": kind, "id": source_id, "region": source_region},
        "destination": {"region": destination_region, "kms_key_id": kms_key_id},
        "options": {"tags": parse_tags(tags), "delete_source_snapshot": delete_source},
    }


def parse_tags(tags: list[str]) -> dict[str, str]:
    """``--tag KEY=VALUE`` flags as a mapping."""
    parsed: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--tag {tag!r} is not KEY=VALUE")
        parsed[key] = value
    return parsed


def execution_name(payload: dict[str, Any], now: float) -> str:
    """A readable, unique name: what is copied, a hash of the input, and the start time."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
    source = payload.get("source", {})
    stem = f"{source.get('kind', 'copy')}-{source.get('id', '')}".replace(":", "-").replace("/", "-")[:40]
    return f"{stem}-{digest}-{int(now)}"[:80]


def follow(
    sfn: Any, execution_arn: str, *, sleep: Callable[[float], None] | None = None, poll: float | None = None
) -> Iterator[str]:
    """Lines describing the execution as it progresses (states entered, retries, the end)."""
    sleep = sleep or time.sleep
    poll = POLL_SECONDS if poll is None else poll
    seen = 0
    while True:
        events: list[dict[str, Any]] = []
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        for page in pages:
            events += page["events"]
        for event in events[seen:]:
            line = _describe_event(event)
            if line:
                yield line
        seen = len(events)
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if status in FINAL:
            return
        sleep(poll)


def _describe_event(event: dict[str, Any]) -> str | None:
    kind = event["type"]
    when = (
        event["timestamp"].strftime("%H:%M:%S") if hasattr(event["timestamp"], "strftime") else str(event["timestamp"])
    )
    if kind.endswith("StateEntered"):
        return f"{when}  {event['stateEnteredEventDetails']['name']}"
    if kind in ("LambdaFunctionFailed", "TaskFailed"):
        details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails") or {}
        return f"{when}    failed: {details.get('error', '?')}"
    if kind == "ExecutionFailed":
        details = event.get("executionFailedEventDetails", {})
        return f"{when}  FAILED {details.get('error', '')}: {details.get('cause', '')}"
    if kind == "ExecutionSucceeded":
        return f"{when}  SUCCEEDED"
    return None


def summary(description: dict[str, Any]) -> list[str]:
    """What an operator wants of an execution: status, and the copy (or why it failed)."""
    lines = [f"{description['executionArn']}: {description['status']}"]
    if description.get("output"):
        output = json.loads(description["output"])
        destination = output.get("destination", {})
        lines += [
            f"  copy: {destination.get('snapshot_arn', '?')}",
            f"  key:  {destination.get('kms_key_id', '?')}",
        ]
    if description.get("error") or description.get("cause"):
        lines.append(f"  {description.get('error', '')}: {description.get('cause', '')}")
    return lines


@app.command("start")
def start(
    kind: Annotated[str | None, typer.Option("--kind", help=f"What to copy: {', '.join(KINDS)}.")] = None,
    source_id: Annotated[
        str | None, typer.Option("--id", help="Instance, cluster, volume or snapshot id (or ARN).")
    ] = None,
    source_region: Annotated[str | None, typer.Option("--source-region", help="Region of the source.")] = None,
    destination_region: Annotated[str | None, typer.Option("--destination-region", help="Region to copy into.")] = None,
    kms_key_id: Annotated[
        str | None, typer.Option("--kms-key-id", help="Key ARN or alias ARN in the destination region.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE tag on the copy; repeatable.")] = None,
    delete_source: Annotated[
        bool,
        typer.Option(
            "--delete-source-snapshot", help="Delete a source snapshot this execution creates, after the copy."
        ),
    ] = False,
    input_file: Annotated[
        Path | None, typer.Option("--input", help="JSON file with the whole execution input (instead of the flags).")
    ] = None,
    arn: Annotated[
        str | None,
        typer.Option("--state-machine-arn", help="Default: kmsflow-snapshot-copy-<region> in the caller's account."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Region of the state machine; default: the source region.")
    ] = None,
    follow_execution: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Follow until the execution ends.")
    ] = True,
) -> None:
    """Start a snapshot copy and follow its steps until it ends (exit 0 when it succeeded, 1 otherwise)."""
    if input_file is not None:
        payload = json.loads(input_file.read_text(encoding="utf-8"))
    else:
        missing = [
            flag
            for flag, value in (
                ("--kind", kind),
                ("--id", source_id),
                ("--source-region", source_region),
                ("--destination-region", destination_region),
                ("--kms-key-id", kms_key_id),
            )
            if not value
        ]
        if missing:
            raise typer.BadParameter(f"missing {', '.join(missing)} (or give --input FILE)")
        payload = build_input(
            kind=str(kind),
            source_id=str(source_id),
            source_region=str(source_region),
            destination_region=str(destination_region),
            kms_key_id=str(kms_key_id),
            tags=tag or [],
            delete_source=delete_source,
        )
    check_input(payload)
    launch(payload, region=region, arn=arn, follow_execution=follow_execution, machine=state_machine_arn, show=summary)


def launch(
    payload: dict[str, Any],
    *,
    region: str | None,
    arn: str | None,
    follow_execution: bool,
    machine: Callable[[str, str], str],
    show: Callable[[dict[str, Any]], list[str]],
) -> None:
    """Start an execution of ``payload`` on ``arn`` (default: ``machine(region, caller's account)``), follow it
    and print ``show`` of its end; exit 1 unless it succeeded (shared by ``copy start`` and ``share start``)."""
    where = region or payload.get("source", {}).get("region")
    if not where:
        raise typer.BadParameter("--region is needed when the input names no source region")
    try:
        sfn = client("stepfunctions", region=where, config=INTERACTIVE_CONFIG)
        if arn is None:
            account = client("sts", region=where, config=INTERACTIVE_CONFIG).get_caller_identity()["Account"]
            arn = machine(where, account)
        started = sfn.start_execution(
            stateMachineArn=arn, name=execution_name(payload, time.time()), input=json.dumps(payload)
        )
        typer.echo(f"started {started['executionArn']}")
        if not follow_execution:
            return
        for line in follow(sfn, started["executionArn"]):
            typer.echo(line)
        description = sfn.describe_execution(executionArn=started["executionArn"])
    except (ClientError, BotoCoreError) as err:
        typer.echo(f"kmsflow: {aws_failure(err)}", err=True)
        raise typer.Exit(1) from None
    for line in show(description):
        typer.echo(line)
    if description["status"] != "SUCCEEDED":
        raise typer.Exit(1)


@app.command("status")
def status(
    execution_arn: Annotated[str, typer.Argument(help="The execution's ARN (printed by `copy start`).")],
) -> None:
    """Show one execution: its status, and the copy it made or why it failed."""
    describe_one(execution_arn, summary)


def describe_one(execution_arn: str, show: Callable[[dict[str, Any]], list[str]]) -> None:
    """Print ``show`` of one execution (shared by ``copy status`` and ``share status``)."""
    region = execution_arn.split(":")[3] if execution_arn.count(":") >= 4 else ""
    if not region:
        raise typer.BadParameter(
            f"{execution_arn!r} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:...)"
        )
    try:
        sfn = client("stepfunctions", region=region, config=INTERACTIVE_CONFIG)
        description = sfn.describe_execution(executionArn=execution_arn)
    except (ClientError, BotoCoreError) as err:
        typer.echo(f"kmsflow: {aws_failure(err)}", err=True)
        raise typer.Exit(1) from None
    for line in show(description):
        typer.echo(line)
