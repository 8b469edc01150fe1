"""``kmsflow audit``: reports on KMS keys from CloudTrail; for now ``usage``.

The command is a thin shell over :func:`kmsflow.audit.usage.build_report`: it turns options into sources, a
window, filters and the known keys, makes AWS clients only through :func:`kmsflow.lambdas.aws_clients.client`
(and only when an option needs AWS), and prints the rendered report. Errors are one line on stderr, never a
traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from kmsflow.audit.errors import AuditAwsError, AuditInputError
from kmsflow.audit.usage.aggregate import Filters
from kmsflow.audit.usage.inventory import list_keys, load_aliases_file, load_keys_file
from kmsflow.audit.usage.pipeline import build_report
from kmsflow.audit.usage.render import FORMATS, render
from kmsflow.audit.usage.report import UsageReport
from kmsflow.audit.usage.sources import (
    LOOKUP_MAX_DAYS,
    BadLog,
    CloudTrailLookup,
    LocalLogs,
    LookupSettings,
    S3Logs,
    Source,
    Unit,
)
from kmsflow.audit.usage.window import Window, window_from_options
from kmsflow.lambdas.aws_clients import client

EXIT_OK = 0
EXIT_AWS = 1
EXIT_INPUT = 2
EXIT_INCOMPLETE = 3
#: Above this many local files, and only on a terminal, a progress bar is drawn on stderr.
PROGRESS_MIN_FILES = 20

app = typer.Typer(
    help="Audit AWS KMS keys from CloudTrail: which keys were used, by whom, for which operation.",
    no_args_is_help=True,
)


@app.callback()
def audit() -> None:
    # Keeps ``audit`` a command group while it has a single command.
    pass


def now() -> datetime:
    """The current time (a function, so that tests can fix it)."""
    return datetime.now(UTC)


def lookup_settings() -> LookupSettings:
    """Pacing of LookupEvents (a function, so that tests can inject a clock and a sleep)."""
    return LookupSettings()


_Repeat = list[str] | None


@app.command("usage")
def usage(
    logs: Annotated[
        _Repeat,
        typer.Option(
            "--logs",
            help="Directory of CloudTrail log files (.json.gz/.json, searched recursively, e.g. a copy of the "
            "trail bucket's AWSLogs/ tree), or one log file. Repeatable.",
        ),
    ] = None,
    s3: Annotated[
        _Repeat,
        typer.Option("--s3", help="Log files in S3: s3://BUCKET/PREFIX (all objects below it). Repeatable."),
    ] = None,
    lookup: Annotated[
        bool,
        typer.Option(
            "--lookup",
            help="Read KMS events from the CloudTrail LookupEvents API (last 90 days; 2 requests/s per region) "
            "in each --region.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Start of the window, inclusive: ISO 8601 (2025-01-31, 2025-01-31T12:00:00Z) or relative (7d, "
            "24h, 30m, 2w before now). Default: no start for files; 90 days ago for --lookup.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="End of the window, exclusive; same forms as --since. Default: no end (now)."),
    ] = None,
    key: Annotated[
        _Repeat, typer.Option("--key", help="Only this key: key ARN, key ID, alias name or alias ARN. Repeatable.")
    ] = None,
    principal: Annotated[
        _Repeat,
        typer.Option(
            "--principal",
            help="Only this principal: role/user ARN (a role session ARN counts as its role), role or user name, "
            "service (rds.amazonaws.com), account:ID. Repeatable.",
        ),
    ] = None,
    account: Annotated[
        _Repeat,
        typer.Option("--account", help="Only events recorded by, or on keys of, this account ID. Repeatable."),
    ] = None,
    region: Annotated[
        _Repeat,
        typer.Option(
            "--region",
            help="Only events of this region; also the regions of --lookup and --list-keys (default for those: "
            "$AWS_REGION, then $AWS_DEFAULT_REGION). Repeatable.",
        ),
    ] = None,
    operation: Annotated[
        _Repeat, typer.Option("--operation", help="Only this KMS operation (eventName, e.g. Decrypt). Repeatable.")
    ] = None,
    aliases_file: Annotated[
        str | None,
        typer.Option(
            "--aliases",
            help='JSON file {"alias/NAME" or alias ARN: key ARN}, or the output of `aws kms list-aliases`, to '
            "resolve aliases that the logs' own CreateAlias/UpdateAlias events do not.",
        ),
    ] = None,
    keys_file: Annotated[
        str | None,
        typer.Option(
            "--keys",
            help="JSON list of key ARNs, or the output of `aws kms list-keys`: the keys to list as unused when "
            "they have no event in the window.",
        ),
    ] = None,
    list_all_keys: Annotated[
        bool,
        typer.Option(
            "--list-keys",
            help="Ask KMS (ListKeys, ListAliases) for the keys and aliases of each --region: unused keys are "
            "listed and aliases resolved.",
        ),
    ] = False,
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="IAM role to assume for every AWS call (default: none).")
    ] = None,
    s3_region: Annotated[
        str | None, typer.Option("--s3-region", help="Region of the --s3 bucket's client (default: us-east-1).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Output: table, json or csv.")] = "table",
    output: Annotated[
        str | None, typer.Option("--output", help="Write the report to this file instead of standard output.")
    ] = None,
) -> None:
    """Which KMS keys were used, by whom, for which operation: counts grouped by key (with its aliases),
    principal (role sessions count as their role), operation, account, region, calling service and error code;
    plus the known keys with no use in the window and the principals from other accounts than the key's.

    Sources: CloudTrail log files (--logs, --s3; digest files are ignored) and/or the LookupEvents API
    (--lookup). A file that is not a readable CloudTrail log file is named on stderr and skipped; a malformed
    record is skipped and counted.

    Exit codes: 0 all input was read; 3 some input was skipped (a bad file or a malformed record; the report
    covers the rest, see stderr and "sources" in the JSON); 2 invalid arguments or input files; 1 an AWS call
    failed.
    """
    try:
        report = _run(
            logs=logs or [],
            s3=s3 or [],
            lookup=lookup,
            since=since,
            until=until,
            filters=Filters(
                keys=tuple(key or ()),
                principals=tuple(principal or ()),
                accounts=tuple(account or ()),
                regions=tuple(region or ()),
                operations=tuple(operation or ()),
            ),
            aliases_file=aliases_file,
            keys_file=keys_file,
            list_all_keys=list_all_keys,
            role_arn=role_arn,
            s3_region=s3_region,
            fmt=fmt,
        )
        text = render(report, fmt)
        if output:
            _write(output, text)
        else:
            typer.echo(text, nl=False)
    except AuditInputError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(EXIT_INPUT) from None
    except AuditAwsError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(EXIT_AWS) from None
    except (ClientError, BotoCoreError) as err:
        typer.echo(f"kmsflow: an AWS call failed: {err}", err=True)
        raise typer.Exit(EXIT_AWS) from None
    if not report.complete:
        stats = report.sources
        typer.echo(
            f"kmsflow: incomplete input: {len(stats.files_bad)} bad file(s) skipped, "
            f"{stats.records_skipped} malformed record(s) skipped.",
            err=True,
        )
        raise typer.Exit(EXIT_INCOMPLETE)


def _run(
    *,
    logs: list[str],
    s3: list[str],
    lookup: bool,
    since: str | None,
    until: str | None,
    filters: Filters,
    aliases_file: str | None,
    keys_file: str | None,
    list_all_keys: bool,
    role_arn: str | None,
    s3_region: str | None,
    fmt: str,
) -> UsageReport:
    """Check every cheap input before any AWS call, then build the report."""
    if fmt not in FORMATS:
        raise AuditInputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if not (logs or s3 or lookup):
        raise AuditInputError("no source: give --logs DIR, --s3 s3://BUCKET/PREFIX and/or --lookup.")
    moment = now()
    window = window_from_options(since, until, now=moment)
    regions = list(filters.regions)
    if (lookup or list_all_keys) and not regions:
        default = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not default:
            raise AuditInputError(
                "--lookup and --list-keys need a region: pass --region (repeatable) or export AWS_REGION."
            )
        regions = [default]
    known_keys = load_keys_file(keys_file) if keys_file else []
    aliases = load_aliases_file(aliases_file) if aliases_file else []

    sources: list[Source] = []
    if logs:
        sources.append(LocalLogs(logs))
    for url in s3:
        sources.append(S3Logs(url, lambda: client("s3", region=s3_region or "us-east-1", role_arn=role_arn)))
    if lookup:
        sources.append(_lookup_source(window, moment, regions, role_arn))
    for name in regions if list_all_keys else []:
        keys, listed = list_keys(_aws(partial(client, "kms", region=name, role_arn=role_arn)), name)
        known_keys += keys
        aliases += listed

    with _progress(sources) as on_unit:
        return build_report(
            sources, window=window, filters=filters, known_keys=known_keys, aliases=aliases, on_unit=on_unit
        )


def _lookup_source(window: Window, moment: datetime, regions: list[str], role_arn: str | None) -> CloudTrailLookup:
    """LookupEvents over the window, within the API's 90 days."""
    oldest = moment - timedelta(days=LOOKUP_MAX_DAYS)
    start = window.since or oldest
    if start < oldest:
        typer.echo(
            f"kmsflow: --lookup reaches back {LOOKUP_MAX_DAYS} days only; looking up events from "
            f"{oldest.strftime('%Y-%m-%dT%H:%M:%SZ')} on (use --logs/--s3 for older events).",
            err=True,
        )
        start = oldest
    end = window.until or moment
    return CloudTrailLookup(
        lambda name: client("cloudtrail", region=name, role_arn=role_arn),
        regions,
        start=start,
        end=end,
        settings=lookup_settings(),
    )


def _aws(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except (ClientError, BotoCoreError) as err:
        raise AuditAwsError(f"could not create an AWS client: {err}. Check your credentials and --role-arn.") from None


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as err:
        raise AuditInputError(f"--output {path}: cannot write ({err.strerror or err}).") from None


@contextmanager
def _progress(sources: list[Source]) -> Iterator[Callable[[Unit], None]]:
    """A callback per file/page: names bad files on stderr; on a terminal, with many local files, also advances
    a rich progress bar (on stderr, cleared at the end)."""
    total = 0
    if sys.stderr.isatty():
        total = sum(source.count() or 0 for source in sources if isinstance(source, LocalLogs))
    if total <= PROGRESS_MIN_FILES:

        def report_bad(unit: Unit) -> None:
            if isinstance(unit, BadLog):
                typer.echo(f"kmsflow: skipped {unit.name}: {unit.reason}", err=True)

        yield report_bad
        return

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("reading CloudTrail logs"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("logs", total=total)

        def advance(unit: Unit) -> None:
            if isinstance(unit, BadLog):
                console.print(f"kmsflow: skipped {unit.name}: {unit.reason}", markup=False, highlight=False)
            if not unit.name.startswith("lookup ") and not unit.name.startswith("s3://"):
                progress.advance(task)

        yield advance
