"""``kmsflow review``: who can do what with every KMS key of a cloud assembly, offline, and what a change alters.

Reads ``cdk.out`` and nothing else: no synthesis, no AWS, and no ``aws_cdk`` import (the command works where
the CDK is not installed). Exit codes: 0 no finding at or above ``--fail-on``; 1 at least one; 2 the assembly
(or the baseline) cannot be read, or an option is wrong.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kmsflow.review.model import Severity

app = typer.Typer(help="Review the KMS keys of a cloud assembly offline.", no_args_is_help=False)


class Format(StrEnum):
    MD = "md"
    JSON = "json"
    HTML = "html"
    SARIF = "sarif"


class FailOn(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NEVER = "never"


def failing(findings_severities: list[Severity], fail_on: FailOn) -> int:
    """How many findings reach the ``--fail-on`` threshold (``never``: none)."""
    if fail_on is FailOn.NEVER:
        return 0
    threshold = Severity(fail_on.value).rank
    return sum(1 for severity in findings_severities if severity.rank <= threshold)


@app.command("review")
def review(
    cdk_out: Annotated[Path, typer.Argument(help="The cloud assembly to review (what `cdk synth` wrote).")] = Path(
        "cdk.out"
    ),
    baseline: Annotated[
        Path | None,
        typer.Option(help="Another cloud assembly (the target branch's): report what changed since it."),
    ] = None,
    output_format: Annotated[Format, typer.Option("--format", help="Report format.")] = Format.MD,
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 when a finding has this severity or a higher one.")
    ] = FailOn.HIGH,
    output: Annotated[Path | None, typer.Option(help="Write the report here (default: standard output).")] = None,
    full_report: Annotated[
        str | None,
        typer.Option(help="Where the full report is (named by a Markdown report cut to fit a comment)."),
    ] = None,
) -> None:
    """Report, per KMS key, who may do what (key policy, IAM policies and grant creators merged), findings,
    an estimated cost and what cannot be known offline; with --baseline, the access gained and lost.

    Exit code 0: no finding at or above --fail-on; 1: some; 2: unreadable assembly or bad option.
    """
    # Imported here: `kmsflow --help` stays fast, and the review package loads only when used.
    from kmsflow.review.build import review_assembly
    from kmsflow.review.exceptions import ReviewError
    from kmsflow.review.render import render

    try:
        result = review_assembly(cdk_out, baseline=baseline)
        text = render(result, output_format.value, full_report=full_report)
    except ReviewError as err:
        typer.echo(f"kmsflow: {err}", err=True)
        raise typer.Exit(2) from None
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write(output, text)
    reached = failing([finding.severity for finding in result.findings], fail_on)
    if reached:
        typer.echo(f"kmsflow: {reached} finding(s) at or above {fail_on.value}", err=True)
        raise typer.Exit(1)


def _write(path: Path, text: str) -> None:
    """Write the whole report or nothing: a temporary file beside it, renamed into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as err:
        typer.echo(f"kmsflow: cannot write the report to {path}: {err.strerror or err}", err=True)
        raise typer.Exit(2) from None
