"""Snapshot-copy and snapshot-share workflows: state transitions and Lambda invocations per execution, kmsflow's
back-off waits against a fixed 60-second polling loop, both executed on the same harness in the same run.

The fixed loop is the same synthesized definition with its waits set to ``"Seconds": 60`` (the pattern most
public samples use); everything else (handlers, retries, moto, virtual clock) is identical. Step Functions bills
Standard workflows per state transition, so transitions are the cost; "late" is how long after the last snapshot
was done the execution noticed it, the price of fewer checks.

Copy machine: copies take 10 minutes, 1 hour and 6 hours of virtual time; the source snapshot takes 10 minutes.
Share machine (two accounts, tests/workflows/share_world.py): a source under an application key of the source
account is snapshotted (20 minutes), re-encrypted in place under the sharing key, granted and shared, and copied by
the target account into its other region (RDS and Aurora: two hops, EBS: one), then access is revoked; each of
those copies takes 1 hour or 2 hours.

kmsflow is measured twice: with progress reported steadily in whole percent (as EBS ``Progress`` and RDS
``PercentProgress`` do), and with 0 % reported until the end, where its waits fall back to doubling capped at
10 minutes (``kmsflow.lambdas.snapshot_copy.backoff``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kmsflow.app import new_app, populate
from kmsflow.config import load_config
from kmsflow.policy.document import flatten
from tests.support.moto_snapshots import linear_progress, silent_progress
from tests.support.sfn_harness import WorkflowHarness
from tests.workflows.share_world import (
    TARGET,
    TARGET_REGION,
    WORKFLOWS_STACK,
    ShareWorld,
    live_grants,
    make_source,
    share_world,
    shares_for_target,
)
from tests.workflows.support import COPY_MACHINE, unused_imports

ROOT = Path(__file__).resolve().parent.parent
COPY_SECONDS = (600, 3600, 6 * 3600)
SOURCE_SECONDS = 600
#: The issue's target for kmsflow on a six-hour copy.
TARGET_TRANSITIONS = 40
#: Share: (family, source kind, copies made in the target account to reach its other region).
SHARES = (("rds", "rds-instance", 2), ("aurora", "aurora-cluster", 2), ("ebs", "ebs-volume", 1))
SHARE_SOURCE_SECONDS = 20 * 60
#: How long each copy of a share takes: the re-encryption under the sharing key and every hop.
SHARE_COPY_SECONDS = (3600, 2 * 3600)
SNAPSHOT_KINDS = {"rds": "rds-snapshot", "aurora": "aurora-cluster-snapshot", "ebs": "ebs-snapshot"}
HEADER = f"{'variant':<24} {'transitions':>11} {'invocations':>11} {'late s':>6} {'virtual h':>9} {'real s':>7}"


def default_templates() -> dict[str, dict[str, Any]]:
    """Every stack of the default configuration, synthesized once: stack name -> template."""
    config = load_config(ROOT / "kmsflow.yaml")
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        populate(app, config, nag=False)
        return {stack.stack_name: stack.template for stack in app.synth().stacks}


def workflow_template() -> dict[str, Any]:
    return default_templates()[WORKFLOWS_STACK]


def fixed_loop(template: dict[str, Any], seconds: int = 60) -> dict[str, Any]:
    """The same template whose waits (of every state machine in it) poll every ``seconds`` instead of backing off."""
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


def _row(result: Any, done_after: float) -> dict[str, Any]:
    return {
        "transitions": result.transitions,
        "lambda_invocations": result.lambda_invocations,
        "virtual_hours": round(result.virtual_seconds / 3600, 2),
        "late_seconds": round(result.virtual_seconds - done_after),
        "real_seconds": round(result.real_seconds, 2),
    }


def _print_row(lead: str, name: str, row: Mapping[str, Any]) -> None:
    print(
        f"{lead}  {name:<24} {row['transitions']:>11} {row['lambda_invocations']:>11} "
        f"{row['late_seconds']:>6} {row['virtual_hours']:>9} {row['real_seconds']:>7}"
    )


# --- Snapshot copy -----------------------------------------------------------------------------------------------


def measure(template: dict[str, Any], copy_seconds: int, curve: Callable[[float], int]) -> dict[str, Any]:
    regions = ["eu-west-1", "eu-central-1"]
    # The share machine's functions are deployed too (never run here): its imported sharing keys get stand-ins.
    with WorkflowHarness(template, regions=regions, refs=unused_imports(template), seed=3) as h:
        key = h.client("kms", regions[1]).create_key()["KeyMetadata"]["Arn"]
        h.client("rds", regions[0]).create_db_instance(
            DBInstanceIdentifier="bench-db", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="bench",
            MasterUserPassword="bench-password", AllocatedStorage=20, StorageEncrypted=True,
        )  # fmt: skip
        h.snapshots.set_duration("rds-snapshot", SOURCE_SECONDS, copy_seconds=copy_seconds)
        h.snapshots.progress_curve = curve
        result = h.run(
            COPY_MACHINE,
            {
                "source": {"kind": "rds-instance", "id": "bench-db", "region": regions[0]},
                "destination": {"region": regions[1], "kms_key_id": key},
            },
        )
        if result.status != "SUCCEEDED":
            raise SystemExit(f"benchmark execution failed: {result.error}: {result.cause}")
        return _row(result, SOURCE_SECONDS + copy_seconds)


def copy_bench(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    variants = {
        "kmsflow, progress": (template, linear_progress),
        "kmsflow, 0 % until done": (template, silent_progress),
        "fixed 60 s loop": (fixed_loop(template), linear_progress),
    }
    print("snapshot copy, transitions and Lambda invocations per execution (RDS instance, source snapshot 10 min)")
    print(f"{'copy takes':>10}  {HEADER}")
    results: dict[str, dict[str, Any]] = {}
    for copy_seconds in COPY_SECONDS:
        for name, (variant, curve) in variants.items():
            row = measure(variant, copy_seconds, curve)
            results[f"{copy_seconds}:{name}"] = row
            _print_row(f"{copy_seconds / 3600:>9.2f}h", name, row)
    six = results[f"{6 * 3600}:kmsflow, progress"]["transitions"]
    silent = results[f"{6 * 3600}:kmsflow, 0 % until done"]["transitions"]
    fixed = results[f"{6 * 3600}:fixed 60 s loop"]["transitions"]
    print(
        f"six-hour copy: kmsflow {six} transitions vs fixed loop {fixed} ({fixed / six:.1f}x fewer); "
        f"issue target <= {TARGET_TRANSITIONS}: {'yes' if six <= TARGET_TRANSITIONS else 'NO'}; "
        f"without progress figures {silent} ({fixed / silent:.1f}x fewer)"
    )
    return results


# --- Snapshot share ----------------------------------------------------------------------------------------------


def measure_share(
    world: ShareWorld, family: str, kind: str, hops: int, copy_seconds: int, curve: Callable[[float], int]
) -> dict[str, Any]:
    """One share from the source account into the target's other region; nothing may be left shared or granted."""
    for snapshot_kind in SNAPSHOT_KINDS.values():
        world.h.snapshots.set_duration(snapshot_kind, SHARE_SOURCE_SECONDS, copy_seconds=copy_seconds)  # type: ignore[arg-type]
    world.h.snapshots.progress_curve = curve
    # A source of its own per execution (the job id, and so every snapshot name, derives from it).
    name = f"bench-{family}-{copy_seconds}-{len(world.h.sharing.grants_created)}"
    result = world.run(world.document(kind, make_source(world, kind, encryption="customer", name=name)))
    if result.status != "SUCCEEDED":
        raise SystemExit(f"share benchmark execution failed: {result.error}: {result.cause}")
    made = [hop["region"] for hop in result.output["target"]["hops"]]
    if len(made) != hops or made[-1] != TARGET_REGION or not result.output["shared"]["temporary"]:
        raise SystemExit(f"share benchmark: expected a re-encrypted source and {hops} hop(s), got {made}")
    left = shares_for_target(world, family) + [grant["GrantId"] for grant in live_grants(world)]
    if left:
        raise SystemExit(f"share benchmark: still shared with or granted to {TARGET}: {left}")
    # Done after: the source snapshot, its re-encryption under the sharing key, then every hop, one after another.
    return _row(result, SHARE_SOURCE_SECONDS + copy_seconds * (1 + hops))


def share_bench(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    fixed = dict(templates)
    fixed[WORKFLOWS_STACK] = fixed_loop(templates[WORKFLOWS_STACK])
    definitions = {"kmsflow": templates, "fixed": fixed}
    variants = {
        "kmsflow, progress": ("kmsflow", linear_progress),
        "kmsflow, 0 % until done": ("kmsflow", silent_progress),
        "fixed 60 s loop": ("fixed", linear_progress),
    }
    print(
        "snapshot share, transitions and Lambda invocations per execution (source under an application key, "
        f"snapshot 20 min;\nits re-encryption under the sharing key and each hop into {TARGET} {TARGET_REGION} "
        "take the copy time)"
    )
    print(f"{'family':<6} {'hops':>4} {'copies':>6}  {HEADER}")
    results: dict[str, dict[str, Any]] = {}
    # One two-account world per definition; each execution starts from a source of its own.
    for definition, world_templates in definitions.items():
        with share_world(world_templates, seed=3) as world:
            for family, kind, hops in SHARES:
                for copy_seconds in SHARE_COPY_SECONDS:
                    for name, (uses, curve) in variants.items():
                        if uses == definition:
                            row = measure_share(world, family, kind, hops, copy_seconds, curve)
                            results[f"{family}:{copy_seconds}:{name}"] = row
    for family, _, hops in SHARES:
        for copy_seconds in SHARE_COPY_SECONDS:
            for name in variants:
                lead = f"{family:<6} {hops:>4} {copy_seconds / 3600:>5.2f}h"
                _print_row(lead, name, results[f"{family}:{copy_seconds}:{name}"])
    print("share, kmsflow against the fixed 60 s loop (same definition, same harness, same run):")
    for family, _, hops in SHARES:
        for copy_seconds in SHARE_COPY_SECONDS:
            rows = {name: results[f"{family}:{copy_seconds}:{name}"] for name in variants}
            steady, silent, base = rows["kmsflow, progress"], rows["kmsflow, 0 % until done"], rows["fixed 60 s loop"]
            print(
                f"  {family} {hops} hop{'s' if hops > 1 else ''}, {copy_seconds / 3600:.0f} h copies: "
                f"{steady['transitions']} vs {base['transitions']} transitions "
                f"({base['transitions'] / steady['transitions']:.1f}x fewer), "
                f"{steady['lambda_invocations']} vs {base['lambda_invocations']} invocations "
                f"({base['lambda_invocations'] / steady['lambda_invocations']:.1f}x fewer); "
                f"without progress figures {silent['transitions']} ({base['transitions'] / silent['transitions']:.1f}x)"
            )
    return results


def main() -> int:
    templates = default_templates()
    results = {f"copy:{k}": v for k, v in copy_bench(templates[WORKFLOWS_STACK]).items()}
    print(flush=True)
    results |= {f"share:{k}": v for k, v in share_bench(templates).items()}
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "workflow.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
