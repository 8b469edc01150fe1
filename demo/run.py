"""``make demo``: move an encrypted RDS instance, Aurora cluster and EBS volume to the second region.

Runs without AWS: the default configuration is synthesized, its snapshot-copy state machine is executed in
moto by the test harness (tests/support/sfn_harness.py) with the real Lambda handlers, and snapshots take
virtual time (20 minutes to snapshot, 2 to 6 hours to copy), so each move shows its real steps and waits.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kmsflow.app import new_app, populate
from kmsflow.config import load_config
from kmsflow.stacks.naming import workflows_stack_name
from tests.support.sfn_harness import WorkflowHarness

ROOT = Path(__file__).resolve().parent.parent
MOVES = (
    ("rds-instance", "orders-db", 2 * 3600),
    ("aurora-cluster", "ledger-cluster", 4 * 3600),
    ("ebs-volume", None, 6 * 3600),
)


def main() -> int:
    config = load_config(ROOT / "kmsflow.yaml")
    flow = config.workflows.snapshot_copy[0]
    source_region = config.region_code(flow.region)
    destination_region = config.region_code(flow.destination_regions[0])
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        populate(app, config, nag=False)
        template = app.synth().get_stack_by_name(workflows_stack_name(flow.account, flow.region)).template
    print(f"snapshot copy {source_region} -> {destination_region}, state machine from the synthesized template\n")
    with WorkflowHarness(template, regions=[source_region, destination_region], seed=1) as h:
        key = h.client("kms", destination_region).create_key(Description="dr-snapshots")["KeyMetadata"]
        h.client("kms", destination_region).create_alias(
            AliasName="alias/kmsflow/dr-snapshots", TargetKeyId=key["KeyId"]
        )
        alias = f"arn:aws:kms:{destination_region}:{h.account}:alias/kmsflow/dr-snapshots"
        source_key = h.client("kms", source_region).create_key(Description="source")["KeyMetadata"]["Arn"]
        failures = 0
        for kind, name, copy_seconds in MOVES:
            source_id = _make_source(h, kind, name, source_region, source_key)
            for snapshot_kind in ("rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"):
                h.snapshots.set_duration(snapshot_kind, 20 * 60, copy_seconds=copy_seconds)
            start = h.clock.elapsed
            result = h.run(
                input={
                    "source": {"kind": kind, "id": source_id, "region": source_region},
                    "destination": {"region": destination_region, "kms_key_id": alias},
                }
            )
            print(f"== {kind} {source_id}")
            waits = iter(result.waits)
            for event in result.events:
                if not event["type"].endswith("StateEntered"):
                    continue
                state = event["stateEnteredEventDetails"]["name"]
                if state.endswith("?"):
                    continue  # the Choice after each check: its outcome is the next line
                offset = (event["timestamp"].timestamp() - h.clock.start.timestamp()) - start
                detail = f" {int(next(waits))} s" if state.startswith("WaitFor") else ""
                print(f"   +{_hms(offset)}  {state}{detail}")
            print(
                f"   {result.status} after {_hms(result.virtual_seconds)} of virtual time "
                f"({result.real_seconds:.2f} s real), {result.transitions} transitions, "
                f"{result.lambda_invocations} Lambda invocations"
            )
            if result.status != "SUCCEEDED":
                failures += 1
                print(f"   {result.error}: {result.cause}")
                continue
            destination = result.output["destination"]
            print(f"   copy {destination['snapshot_arn']}")
            print(f"   encrypted under {destination['kms_key_id']}\n")
    return 1 if failures else 0


def _make_source(h: WorkflowHarness, kind: str, name: str | None, region: str, key: str) -> str:
    if kind == "rds-instance":
        h.client("rds", region).create_db_instance(
            DBInstanceIdentifier=str(name), DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="demo",
            MasterUserPassword="demo-password", AllocatedStorage=20, StorageEncrypted=True, KmsKeyId=key,
        )  # fmt: skip
        return str(name)
    if kind == "aurora-cluster":
        h.client("rds", region).create_db_cluster(
            DBClusterIdentifier=str(name), Engine="aurora-postgresql", MasterUsername="demo",
            MasterUserPassword="demo-password", StorageEncrypted=True, KmsKeyId=key,
        )  # fmt: skip
        return str(name)
    volume = h.client("ec2", region).create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=True, KmsKeyId=key)
    return str(volume["VolumeId"])


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


if __name__ == "__main__":
    sys.exit(main())
