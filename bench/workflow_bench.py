"""Snapshot-copy workflow: state transitions and Lambda invocations per execution, kmsflow's back-off waits
against a fixed 60-second polling loop, both executed on the same harness in the same run.

The fixed loop is the same synthesized definition with its two waits set to ``"Seconds": 60`` (the pattern
most public samples use); everything else (handlers, retries, moto, virtual clock) is identical. Copies take
10 minutes, 1 hour and 6 hours of virtual time; the source snapshot takes 10 minutes. Step Functions bills
Standard workflows per state transition, so transitions are the cost; "late" is how long after the copy was
done the execution noticed it, the price of fewer checks.

kmsflow is measured twice: with progress reported steadily in whole percent (as EBS ``Progress`` and RDS
``PercentProgress`` do), and with 0 % reported until the end, where its waits fall back to doubling capped at
10 minutes (``kmsflow.lambdas.snapshot_copy.backoff``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kmsflow.app import new_app, populate
from kmsflow.config import load_config
from kmsflow.policy.document import flatten
from tests.support.moto_snapshots import linear_progress, silent_progress
from tests.support.sfn_harness import WorkflowHarness

ROOT = Path(__file__).resolve().parent.parent
COPY_SECONDS = (600, 3600, 6 * 3600)
SOURCE_SECONDS = 600
#: The issue's target for kmsflow on a six-hour copy.
TARGET_TRANSITIONS = 40


def workflow_template() -> dict[str, Any]:
    config = load_config(ROOT / "kmsflow.yaml")
    flow = config.workflows.snapshot_copy[0]
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        populate(app, config, nag=False)
        name = f"kmsflow-workflows-{flow.account}-{flow.region}"
        return app.synth().get_stack_by_name(name).template  # type: ignore[no-any-return]


def fixed_loop(template: dict[str, Any], seconds: int = 60) -> dict[str, Any]:
    """The same template whose waits poll every ``seconds`` instead of backing off."""
    copy = json.loads(json.dumps(template))
    for resource in copy["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            definition = json.loads(flatten(resource["Properties"]["DefinitionString"]))
            for state in definition["States"].values():
                if state["Type"] == "Wait":
                    state.pop("SecondsPath", None)
                    state["Seconds"] = seconds
            # flatten() wrote each function reference as ${Logical.Arn}: Fn::Sub resolves those again.
            resource["Properties"]["DefinitionString"] = {"Fn::Sub": json.dumps(definition)}
    return copy


def measure(template: dict[str, Any], copy_seconds: int, curve: Callable[[float], int]) -> dict[str, Any]:
    regions = ["eu-west-1", "eu-central-1"]
    with WorkflowHarness(template, regions=regions, seed=3) as h:
        key = h.client("kms", regions[1]).create_key()["KeyMetadata"]["Arn"]
        h.client("rds", regions[0]).create_db_instance(
            DBInstanceIdentifier="bench-db", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="bench",
            MasterUserPassword="bench-password", AllocatedStorage=20, StorageEncrypted=True,
        )  # fmt: skip
        h.snapshots.set_duration("rds-snapshot", SOURCE_SECONDS, copy_seconds=copy_seconds)
        h.snapshots.progress_curve = curve
        result = h.run(
            input={
                "source": {"kind": "rds-instance", "id": "bench-db", "region": regions[0]},
                "destination": {"region": regions[1], "kms_key_id": key},
            }
        )
        if result.status != "SUCCEEDED":
            raise SystemExit(f"benchmark execution failed: {result.error}: {result.cause}")
        return {
            "transitions": result.transitions,
            "lambda_invocations": result.lambda_invocations,
            "virtual_hours": round(result.virtual_seconds / 3600, 2),
            "late_seconds": round(result.virtual_seconds - SOURCE_SECONDS - copy_seconds),
            "real_seconds": round(result.real_seconds, 2),
        }


def main() -> int:
    template = workflow_template()
    variants = {
        "kmsflow, progress": (template, linear_progress),
        "kmsflow, 0 % until done": (template, silent_progress),
        "fixed 60 s loop": (fixed_loop(template), linear_progress),
    }
    print("snapshot copy, transitions and Lambda invocations per execution (RDS instance, source snapshot 10 min)")
    print(
        f"{'copy takes':>10}  {'variant':<24} {'transitions':>11} {'invocations':>11} {'late s':>6} "
        f"{'virtual h':>9} {'real s':>7}"
    )
    results: dict[str, dict[str, Any]] = {}
    for copy_seconds in COPY_SECONDS:
        for name, (variant, curve) in variants.items():
            row = measure(variant, copy_seconds, curve)
            results[f"{copy_seconds}:{name}"] = row
            print(
                f"{copy_seconds / 3600:>9.2f}h  {name:<24} {row['transitions']:>11} {row['lambda_invocations']:>11} "
                f"{row['late_seconds']:>6} {row['virtual_hours']:>9} {row['real_seconds']:>7}"
            )
    six = results[f"{6 * 3600}:kmsflow, progress"]["transitions"]
    silent = results[f"{6 * 3600}:kmsflow, 0 % until done"]["transitions"]
    fixed = results[f"{6 * 3600}:fixed 60 s loop"]["transitions"]
    print(
        f"six-hour copy: kmsflow {six} transitions vs fixed loop {fixed} ({fixed / six:.1f}x fewer); "
        f"issue target <= {TARGET_TRANSITIONS}: {'yes' if six <= TARGET_TRANSITIONS else 'NO'}; "
        f"without progress figures {silent} ({fixed / silent:.1f}x fewer)"
    )
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "workflow.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
