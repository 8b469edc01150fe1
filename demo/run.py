"""``make demo``: move an encrypted RDS instance, Aurora cluster and EBS volume to the second region, then share an
RDS instance and an EBS volume with another account and revoke every access afterwards.

Runs without AWS: the default configuration is synthesized once; its snapshot-copy and snapshot-share state machines
are executed in moto by the test harness (tests/support/sfn_harness.py) with the real Lambda handlers, and snapshots
take virtual time (20 minutes to snapshot, 1 to 6 hours to copy), so each run shows its real steps and waits.

The share runs in the example source account (workloads, 222222222222) and copies into the example target account
(partner, 333333333333) on the two-account harness of the end-to-end tests (tests/workflows/share_world.py): every
step acts as its own synthesized role, the partner's copy role is assumed through its real trust policy, and the
copy of the shared snapshot is refused without a live grant. Afterwards the demo checks that nothing is left shared
or granted, and exits 1 if anything is (or if an execution fails).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kmsflow.app import new_app, populate
from kmsflow.config import load_config
from kmsflow.stacks.naming import workflows_stack_name
from tests.support.sfn_harness import WorkflowHarness
from tests.workflows.share_world import (
    FAMILY,
    SOURCE,
    SOURCE_REGION,
    TARGET,
    TARGET_REGION,
    WORKFLOWS_STACK,
    ShareWorld,
    live_grants,
    make_source,
    share_world,
    shares_for_target,
    snapshots,
)
from tests.workflows.support import COPY_MACHINE, unused_imports

ROOT = Path(__file__).resolve().parent.parent
MOVES = (
    ("rds-instance", "orders-db", 2 * 3600),
    ("aurora-cluster", "ledger-cluster", 4 * 3600),
    ("ebs-volume", None, 6 * 3600),
)
#: (kind, name, encryption of the source): an RDS instance under alias/aws/rds (which AWS refuses to share, and
#: which takes two hops to another account's other region) and an EBS volume under an application key (one hop).
SHARES = (
    ("rds-instance", "orders-db", "aws-managed"),
    ("ebs-volume", "orders-data", "customer"),
)
SHARE_ATTRIBUTE = {"rds": "restore attribute", "aurora": "restore attribute", "ebs": "createVolumePermission"}


def main() -> int:
    config = load_config(ROOT / "kmsflow.yaml")
    flow = config.workflows.snapshot_copy[0]
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        populate(app, config, nag=False)
        templates = {stack.stack_name: stack.template for stack in app.synth().stacks}
    template = templates[workflows_stack_name(flow.account, flow.region)]
    failures = copy_demo(template, config.region_code(flow.region), config.region_code(flow.destination_regions[0]))
    failures += share_demo(templates)
    return 1 if failures else 0


# --- Snapshot copy -----------------------------------------------------------------------------------------------


def copy_demo(template: dict[str, Any], source_region: str, destination_region: str) -> int:
    print(f"snapshot copy {source_region} -> {destination_region}, state machine from the synthesized template\n")
    # The share machine's functions are deployed too (never run here): its imported sharing keys get stand-ins.
    regions = [source_region, destination_region]
    with WorkflowHarness(template, regions=regions, refs=unused_imports(template), seed=1) as h:
        key = h.client("kms", destination_region).create_key(Description="dr-snapshots")["KeyMetadata"]
        h.client("kms", destination_region).create_alias(
            AliasName="alias/kmsflow/dr-snapshots", TargetKeyId=key["KeyId"]
        )
        alias = f"arn:aws:kms:{destination_region}:{h.account}:alias/kmsflow/dr-snapshots"
        source_key = h.client("kms", source_region).create_key(Description="source")["KeyMetadata"]["Arn"]
        failures = 0
        for kind, name, copy_seconds in MOVES:
            source_id = _make_copy_source(h, kind, name, source_region, source_key)
            for snapshot_kind in ("rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"):
                h.snapshots.set_duration(snapshot_kind, 20 * 60, copy_seconds=copy_seconds)
            start = h.clock.elapsed
            result = h.run(
                COPY_MACHINE,
                input={
                    "source": {"kind": kind, "id": source_id, "region": source_region},
                    "destination": {"region": destination_region, "kms_key_id": alias},
                },
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
            _summary(result)
            if result.status != "SUCCEEDED":
                failures += 1
                print(f"   {result.error}: {result.cause}\n")
                continue
            destination = result.output["destination"]
            print(f"   copy {destination['snapshot_arn']}")
            print(f"   encrypted under {destination['kms_key_id']}\n")
    return failures


def _make_copy_source(h: WorkflowHarness, kind: str, name: str | None, region: str, key: str) -> str:
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


# --- Snapshot share ----------------------------------------------------------------------------------------------


def share_demo(templates: dict[str, dict[str, Any]]) -> int:
    print(
        f"snapshot share workloads {SOURCE} {SOURCE_REGION} -> partner {TARGET} {TARGET_REGION} "
        "(source snapshot 20 min, each copy 1 h),\n"
        f"state machine from {WORKFLOWS_STACK}, partner copy roles from kmsflow-share-target-partner-*\n"
    )
    failures = 0
    with share_world(templates, seed=1) as world:
        for kind, name, encryption in SHARES:
            source_id = make_source(world, kind, encryption=encryption, name=name)
            start = world.h.clock.elapsed
            result = world.run(world.document(kind, source_id))
            family = FAMILY[kind]
            under = _key_name(world, _source_key(world, kind, source_id))
            print(f"== share {kind} {source_id} (under {under}) with {TARGET}")
            for offset, line in _share_steps(world, result, family):
                print(f"   +{_hms(offset - start)}  {line}")
            _summary(result)
            if result.status != "SUCCEEDED":
                failures += 1
                print(f"   {result.error}: {result.cause}")
            else:
                target = result.output["target"]
                print(f"   {TARGET} has {target['snapshot_arn']}")
                print(f"   encrypted under {_key_name(world, target['kms_key_id'])}")
            left = _left_over(world, family)
            print(f"   left shared or granted: {', '.join(left) if left else 'nothing'}\n")
            failures += bool(left)
    return failures


def _share_steps(world: ShareWorld, result: Any, family: str) -> Iterator[tuple[float, str]]:
    """What the execution did, from its history: (virtual seconds since the clock started, what happened)."""
    clock_start = world.h.clock.start.timestamp()
    grants = {grant["GrantId"]: grant for grant in world.h.sharing.grants_created}
    seen: set[str] = set()
    for event in result.events:
        if not event["type"].endswith("StateExited"):
            continue
        details = event["stateExitedEventDetails"]
        state, job = details["name"], json.loads(details.get("output") or "{}")
        at = event["timestamp"].timestamp() - clock_start
        source, shared = job.get("source", {}), job.get("shared") or {}
        if state == "PrepareSource" and source.get("created"):
            yield at, f"snapshot {source['snapshot_id']} of {source['id']} started"
        elif state == "PrepareShareable":
            if shared.get("created"):
                key = _key_name(world, shared["kms_key_id"])
                yield at, f"re-encrypting it as {shared['snapshot_id']} under the sharing key {key}"
            else:
                yield at, f"{shared.get('snapshot_id')} is shared as it is"
        elif state == "OpenAccess":
            access = job.get("access") or {}
            # The grant as KMS recorded it (also when the step failed after creating it: named after the job).
            name = f"kmsflow-{job.get('job_id')}"
            made = [g for g in grants.values() if g["GrantId"] == access.get("grant_id") or g["Name"] == name]
            for grant in made:
                key = _key_name(world, grant["KeyArn"])
                yield at, f"grant {grant['GrantId']} on {key} to {_short(grant['GranteePrincipal'])}"
                yield at, f"  operations {', '.join(grant['Operations'])}"
                yield at, f"  retiring principal {_short(grant.get('RetiringPrincipal'))}"
            if access.get("shared"):
                yield at, f"shared {shared['snapshot_id']} with {TARGET} ({SHARE_ATTRIBUTE[family]})"
            elif not access:
                yield at, "opening access failed"
        elif state == "TargetCopy":
            target = job.get("target") or {}
            hops = target.get("hops") or []
            previous = source.get("region")
            for number, hop in enumerate(hops, 1):
                if hop.get("created") and hop.get("snapshot_id") and f"hop {number}" not in seen:
                    seen.add(f"hop {number}")
                    step = f"hop {number}/{len(hops)}, " if len(hops) > 1 else ""
                    where = f"in {hop['region']}" if hop["region"] == previous else f"{previous} -> {hop['region']}"
                    key = _key_name(world, hop["kms_key_arn"])
                    yield at, f"{TARGET} copies it ({step}{where}) as {hop['snapshot_id']} under {key}"
                previous = hop["region"]
            if target.get("status") == "available" and "done" not in seen:
                seen.add("done")
                gone = [
                    f"{hop['snapshot_id']} ({hop['region']})"
                    for hop in hops[:-1]
                    if hop.get("snapshot_id")
                    and hop["snapshot_id"] not in [s["id"] for s in snapshots(world, TARGET, family, hop["region"])]
                ]
                deleted = f"; its first hop {', '.join(gone)} deleted" if gone else ""
                yield at, f"{TARGET}'s copy is available{deleted}"
        elif state in ("RevokeAccess", "RevokeAfterFailure"):
            revoked = job.get("revoked") or {}
            done = [f"grant {grant} retired" for grant in revoked.get("grants", [])]
            done += [f"share with {item.split(':', 1)[0]} removed" for item in revoked.get("unshared", [])]
            done += [f"{item.split(':', 1)[1]} deleted" for item in revoked.get("deleted", [])]
            after = " after the failure" if state == "RevokeAfterFailure" else ""
            yield at, f"revoked{after}: {'; '.join(done) or 'nothing was open'}"


def _left_over(world: ShareWorld, family: str) -> list[str]:
    """Anything still open after the execution: shares with the target, live grants, temporary snapshots."""
    left = [f"shared {arn}" for arn in shares_for_target(world, family)]
    left += [f"grant {grant['GrantId']} for {grant['GranteePrincipal']}" for grant in live_grants(world)]
    for account in (SOURCE, TARGET):
        for region in (SOURCE_REGION, TARGET_REGION):
            for snapshot in snapshots(world, account, family, region):
                name = snapshot["tags"].get("Name", snapshot["id"])
                if name.endswith(("-share", "-hop")):
                    left.append(f"temporary snapshot {name} in {account} {region}")
    return left


def _source_key(world: ShareWorld, kind: str, source_id: str) -> str:
    session = world.session(SOURCE)
    if FAMILY[kind] == "ebs":
        return str(session.client("ec2").describe_volumes(VolumeIds=[source_id])["Volumes"][0]["KmsKeyId"])
    instance = session.client("rds").describe_db_instances(DBInstanceIdentifier=source_id)["DBInstances"][0]
    return str(instance["KmsKeyId"])


def _key_name(world: ShareWorld, arn: str | None) -> str:
    """A key as the configuration names it (the sharing key, the partner's keys) or by its alias."""
    if not arn:
        return "no key"
    key_id = arn.rsplit("/", 1)[-1]
    if key_id == world.sharing_key.rsplit("/", 1)[-1]:
        return "shared-snapshots"
    for region, target_key in world.target_keys.items():
        if arn == target_key:
            return f"partner-snapshots ({region})"
    _, _, _, region, account, _ = (arn.split(":") + [""] * 6)[:6]
    aliases = world.client(account or SOURCE, "kms", region or SOURCE_REGION).list_aliases()["Aliases"]
    names = [alias["AliasName"] for alias in aliases if alias.get("TargetKeyId") == key_id]
    if names:
        return str(names[0])
    description = world.client(account or SOURCE, "kms", region or SOURCE_REGION).describe_key(KeyId=key_id)
    return f"its {description['KeyMetadata'].get('Description') or 'own'} key {key_id[:8]}"


def _short(arn: str | None) -> str:
    """``arn:aws:iam::111122223333:role/name`` as ``111122223333:role/name``."""
    return arn.split("::", 1)[-1] if arn else "?"


def _summary(result: Any) -> None:
    print(
        f"   {result.status} after {_hms(result.virtual_seconds)} of virtual time "
        f"({result.real_seconds:.2f} s real), {result.transitions} transitions, "
        f"{result.lambda_invocations} Lambda invocations"
    )


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


if __name__ == "__main__":
    sys.exit(main())
