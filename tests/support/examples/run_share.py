"""Run the synthesized share state machine on the two-account moto harness, with inputs of your own.

Synthesizes nothing: after ``make synth`` it loads ``cdk.out/kmsflow-workflows-workloads-primary.template.json``
(the share machine runs in workloads = 222222222222) and every ``cdk.out/kmsflow-share-target-partner-*.template.json``
(partner = 333333333333), deploys the IAM roles of both into their accounts, builds a source in 222222222222 and
runs the share machine with ``handler_account="222222222222"``: each step acts as its own role, the target copy
role is assumed through its real trust policy, and the copy of the shared snapshot is refused without a live grant.

    .venv/bin/python tests/support/examples/run_share.py --kind rds-snapshot --target-region eu-central-1
    .venv/bin/python tests/support/examples/run_share.py --kind ebs-volume --encryption aws-managed
    .venv/bin/python tests/support/examples/run_share.py --kind aurora-cluster --fail-after open_access
    .venv/bin/python tests/support/examples/run_share.py --kind rds-instance --ref SomeExport=arn:aws:...

Anything the templates import (``Fn::ImportValue``) whose export name mentions a key becomes a new customer
managed key of the source account in the source region; give other references with ``--ref NAME=VALUE`` (the
harness names the ones it misses). Exit status 0 when the execution ends as expected (SUCCEEDED, or FAILED with
``--fail-after``) and nothing stays shared or granted.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from tests.support.sfn_harness import WorkflowHarness, imported_names  # noqa: E402
from tests.workflows.share_world import make_source_in  # noqa: E402

SOURCE, TARGET = "222222222222", "333333333333"
KINDS = ("rds-snapshot", "rds-instance", "aurora-cluster-snapshot", "aurora-cluster", "ebs-snapshot", "ebs-volume")
HANDLERS = "kmsflow.lambdas.snapshot_share.handlers"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=KINDS, default="rds-snapshot")
    parser.add_argument("--source-region", default="eu-west-1")
    parser.add_argument("--target-region", default="eu-central-1")
    parser.add_argument("--encryption", choices=("customer", "aws-managed", "none"), default="customer")
    parser.add_argument("--fail-after", metavar="HANDLER", help="raise right after this handler (e.g. open_access)")
    parser.add_argument("--grant-delay", type=float, default=0.0, help="virtual seconds before a grant counts")
    parser.add_argument("--options", default="{}", help='the input\'s "options", as JSON')
    parser.add_argument("--ref", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--cdk-out", default=str(REPO / "cdk.out"))
    args = parser.parse_args(argv)

    cdk_out = Path(args.cdk_out)
    workflows = json.loads((cdk_out / "kmsflow-workflows-workloads-primary.template.json").read_text())
    targets = {
        Path(p).name: json.loads(Path(p).read_text())
        for p in sorted(glob.glob(str(cdk_out / "kmsflow-share-target-partner-*.template.json")))
    }
    if not targets:
        parser.error(f"no kmsflow-share-target-partner-*.template.json in {cdk_out}: run make synth")
    regions = _stack_regions(cdk_out)
    refs = dict(item.split("=", 1) for item in args.ref)
    imports = sorted({name for template in [workflows, *targets.values()] for name in imported_names(template)})

    all_regions = list(dict.fromkeys([args.source_region, args.target_region, *regions.values()]))

    def imported_keys(h: WorkflowHarness) -> dict[str, str]:
        """Every imported export that names a key (and is not in --ref): a new key of the source account."""
        keys = {}
        for name in imports:
            if name not in refs and "key" in name.lower():
                kms = h.session(SOURCE, _region_of(name, args.source_region)).client("kms")
                keys[name] = kms.create_key(Description=f"imported {name}")["KeyMetadata"]["Arn"]
        return keys

    with ExitStack() as stack:
        h = stack.enter_context(
            WorkflowHarness(
                workflows, regions=all_regions, refs=refs, handler_account=SOURCE, before_deploy=imported_keys
            )
        )
        h.sharing.grant_delay_seconds = args.grant_delay
        for kind in ("rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"):
            h.snapshots.set_duration(kind, 600, copy_seconds=1800)  # type: ignore[arg-type]
        h.deploy_roles(workflows, SOURCE, h.refs, region=args.source_region)
        for name, template in targets.items():
            h.deploy_roles(template, TARGET, h.refs, region=regions.get(name.removesuffix(".template.json")))
        machine = next(
            (
                lid
                for lid, arn in h.state_machines.items()
                if arn.rsplit(":", 1)[1].startswith("kmsflow-snapshot-share-")
            ),
            None,
        )
        if machine is None:
            parser.error("the workflows template has no kmsflow-snapshot-share-* state machine")

        source = make_source_in(
            h.session(SOURCE, args.source_region), args.source_region, args.kind, encryption=args.encryption
        )
        # A multi-Region target key with its primary in the source region: a shared RDS or Aurora snapshot is first
        # copied there (under the primary), then into the target region (under the replica).
        partner = h.session(TARGET, args.source_region).client("kms")
        primary = partner.create_key(MultiRegion=True)["KeyMetadata"]
        target_key = primary["Arn"]
        if args.target_region != args.source_region:
            # moto's replicate_key takes the key id only.
            replica = partner.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=args.target_region)
            target_key = replica["ReplicaKeyMetadata"]["Arn"]
        document = {
            "source": {"kind": args.kind, "id": source, "region": args.source_region},
            "target": {"account": TARGET, "region": args.target_region, "kms_key_id": target_key},
            "options": json.loads(args.options),
        }
        if args.fail_after:
            stack.enter_context(_fail_after(args.fail_after))
        print("input:", json.dumps(document, indent=2))
        result = h.run(machine, document)
        print(f"status: {result.status}  error: {result.error}  cause: {result.cause}")
        print("output:", json.dumps(result.output, indent=2, default=str))
        print(
            f"transitions: {result.transitions}  lambda invocations: {result.lambda_invocations}  "
            f"virtual seconds: {result.virtual_seconds:.0f}  real seconds: {result.real_seconds:.1f}"
        )
        for refusal in h.sharing.refusals:
            print("refused:", refusal)
        leftovers = list(_leftovers(h, args.kind, args.source_region))
        for line in leftovers:
            print("LEFT OVER:", line)
        expected = "FAILED" if args.fail_after else "SUCCEEDED"
        return 0 if result.status == expected and not leftovers else 1


def _leftovers(h: WorkflowHarness, kind: str, region: str) -> Iterator[str]:
    """Shares and live grants for the target left in the source account after the execution."""
    session = h.session(SOURCE, region)
    rds, ec2, kms = session.client("rds"), session.client("ec2"), session.client("kms")
    if kind.startswith("rds"):
        for snapshot in rds.describe_db_snapshots()["DBSnapshots"]:
            attributes = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
            for attribute in attributes["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]:
                if TARGET in attribute["AttributeValues"]:
                    yield f"{snapshot['DBSnapshotArn']} restore {attribute['AttributeValues']}"
    elif kind.startswith("aurora"):
        for snapshot in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
            name = snapshot["DBClusterSnapshotIdentifier"]
            result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=name)
            for attribute in result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]:
                if TARGET in attribute["AttributeValues"]:
                    yield f"{snapshot['DBClusterSnapshotArn']} restore {attribute['AttributeValues']}"
    else:
        for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
            permissions = ec2.describe_snapshot_attribute(
                SnapshotId=snapshot["SnapshotId"], Attribute="createVolumePermission"
            )
            if any(p.get("UserId") == TARGET for p in permissions["CreateVolumePermissions"]):
                yield f"{snapshot['SnapshotId']} createVolumePermission {TARGET}"
    for key in kms.list_keys()["Keys"]:
        for grant in kms.list_grants(KeyId=key["KeyId"])["Grants"]:
            if f":{TARGET}:" in grant["GranteePrincipal"]:
                yield f"grant {grant['GrantId']} on {key['KeyArn']} for {grant['GranteePrincipal']}"


def _fail_after(handler: str) -> Any:
    """Make ``handler`` raise right after it has done its work (as a crash of the step would)."""
    import importlib

    module = importlib.import_module(HANDLERS)
    original = getattr(module, handler)

    def failing(event: Any, context: Any) -> Any:
        original(event, context)
        raise RuntimeError(f"injected failure after {handler}")

    return mock.patch.object(module, handler, failing)


_REGION = re.compile(r"(af|ap|ca|eu|il|me|mx|sa|us)(central|north|south|east|west|northeast|southeast)(\d)")


def _region_of(name: str, default: str) -> str:
    """The region a cross-stack name mentions (``...eucentral1...`` -> eu-central-1), else ``default``."""
    match = _REGION.search(name.lower().replace("-", ""))
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else default


def _stack_regions(cdk_out: Path) -> dict[str, str]:
    """Stack name -> region, from the cloud assembly's manifest (``aws://<account>/<region>``)."""
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    return {
        name: artifact["environment"].rsplit("/", 1)[1]
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack" and "environment" in artifact
    }


if __name__ == "__main__":
    sys.exit(main())
