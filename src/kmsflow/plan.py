"""What the app builds, derived from the configuration alone: every stack's name, account and region, and which
stack must deploy before which.

``kmsflow.app.populate`` builds its stacks at these places, and the configuration checks read them (a pipeline's
stages must deploy every stack exactly once, in an order that respects these dependencies) without synthesizing.
Pure Python: no ``aws_cdk``, and the configuration's classes only as types (``kmsflow.config`` imports the
checks that import this module).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kmsflow.stacks.naming import audit_stack_name, keys_stack_name, share_target_stack_name, workflows_stack_name

if TYPE_CHECKING:
    from kmsflow.config import KmsflowConfig

Place = tuple[str, str]
"""(account name, region name) as the configuration names them."""

StackRole = Literal["keys", "audit", "workflows", "share-target"]


@dataclass(frozen=True)
class PlannedStack:
    """A stack the app builds: its name, and the account and region (configuration names) it deploys to."""

    name: str
    account: str
    region: str
    role: StackRole

    @property
    def place(self) -> str:
        """``<account>:<region>``, as a pipeline stage's ``deploys`` names a place."""
        return f"{self.account}:{self.region}"


@dataclass(frozen=True)
class Dependency:
    """``stack`` deploys after ``after`` (same deployment or a later one): ``why``, from ``path`` in the
    configuration (``keys[3].replicas[0]``)."""

    stack: str
    after: str
    why: str
    path: str


def keys_places(config: KmsflowConfig) -> list[Place]:
    """Every (account, region) that holds a key or a replica, sorted: one keys stack each."""
    places = {(k.account, k.region) for k in config.keys} | {(k.account, r) for k in config.keys for r in k.replicas}
    return sorted(places)


def multi_region_places(config: KmsflowConfig) -> set[Place]:
    """The keys places of a multi-region key with replicas (primary and replicas): their stacks reference
    each other across regions."""
    return {(k.account, r) for k in config.keys if k.replicas for r in (k.region, *k.replicas)}


def audit_places(config: KmsflowConfig) -> list[Place]:
    """The central audit stack's place, then one per member account (same region); none without ``audit:``."""
    audit = config.audit
    if audit is None:
        return []
    return [(audit.account, audit.region)] + [(member, audit.region) for member in config.audit_members()]


def workflow_places(config: KmsflowConfig) -> list[Place]:
    """Every (account, region) that runs a snapshot copy or a snapshot share (one workflows stack for both)."""
    workflows = config.workflows
    places = [(f.account, f.region) for f in workflows.snapshot_copy] + [
        (f.account, f.region) for f in workflows.snapshot_share
    ]
    return list(dict.fromkeys(places))


def share_target_places(config: KmsflowConfig) -> list[Place]:
    """Every (target account, target region) of a snapshot share, in order of first use."""
    places = [(t.account, r) for s in config.workflows.snapshot_share for t in s.targets for r in t.regions]
    return list(dict.fromkeys(places))


def planned_stacks(config: KmsflowConfig) -> list[PlannedStack]:
    """Every stack ``populate`` builds (not the CI stack of ``pipeline.github``, which is deployed by hand once)."""
    stacks = [PlannedStack(keys_stack_name(a, r), a, r, "keys") for a, r in keys_places(config)]
    stacks += [PlannedStack(audit_stack_name(a, r), a, r, "audit") for a, r in audit_places(config)]
    stacks += [PlannedStack(workflows_stack_name(a, r), a, r, "workflows") for a, r in workflow_places(config)]
    stacks += [
        PlannedStack(share_target_stack_name(a, r), a, r, "share-target") for a, r in share_target_places(config)
    ]
    return stacks


def resolve_deploys(entry: str, stacks: Sequence[PlannedStack]) -> list[PlannedStack]:
    """The stacks a stage's ``deploys`` entry names: every stack of a place ``<account>:<region>``, or the one stack
    of that name (none if the entry names nothing the app builds)."""
    if ":" in entry:
        return [s for s in stacks if s.place == entry]
    return [s for s in stacks if s.name == entry]


def stage_stacks(config: KmsflowConfig) -> dict[str, list[PlannedStack]]:
    """Stage name -> the stacks that stage deploys (its ``deploys`` entries resolved), in the app's planned order,
    for every stage of ``pipeline.stages`` in order (none without ``pipeline:``). A stack two stages name counts
    for the first; the configuration checks refuse such a file anyway."""
    pipeline = config.pipeline
    if pipeline is None:
        return {}
    stacks = planned_stacks(config)
    owner: dict[str, str] = {}
    for stage in pipeline.stages:
        for entry in stage.deploys:
            for stack in resolve_deploys(entry, stacks):
                owner.setdefault(stack.name, stage.name)
    return {stage.name: [s for s in stacks if owner.get(s.name) == stage.name] for stage in pipeline.stages}


def dependencies(config: KmsflowConfig) -> list[Dependency]:
    """Which stack must deploy after which: replicas after their primaries, audit members after the central
    bucket, workflows after the keys they use, share targets after the keys their copy roles use."""
    keys = {key.name: key for key in config.keys}
    deps: list[Dependency] = []

    def after_key(stack: str, name: str, regions: Sequence[str], why: str, path: str) -> None:
        key = keys.get(name)
        if key is None:
            return
        for region in dict.fromkeys(regions):
            if region in (key.region, *key.replicas):
                deps.append(Dependency(stack, keys_stack_name(key.account, region), why, path))

    for index, key in enumerate(config.keys):
        for i, region in enumerate(key.replicas):
            deps.append(
                Dependency(
                    keys_stack_name(key.account, region),
                    keys_stack_name(key.account, key.region),
                    f"the replica of key {key.name!r} is created from its primary",
                    f"keys[{index}].replicas[{i}]",
                )
            )
    audit = config.audit
    if audit is not None:
        central = audit_stack_name(audit.account, audit.region)
        for member in config.audit_members():
            deps.append(
                Dependency(
                    audit_stack_name(member, audit.region),
                    central,
                    f"the trail of account {member!r} delivers into the central audit bucket",
                    "audit",
                )
            )
    for index, flow in enumerate(config.workflows.snapshot_copy):
        stack = workflows_stack_name(flow.account, flow.region)
        for i, name in enumerate(flow.destination_keys):
            path = f"workflows.snapshot_copy[{index}].destination_keys[{i}]"
            after_key(stack, name, flow.destination_regions, f"its snapshot copy uses destination key {name!r}", path)
    for index, share in enumerate(config.workflows.snapshot_share):
        stack = workflows_stack_name(share.account, share.region)
        sources = share.source_regions or [share.region]
        for i, name in enumerate(share.sharing_keys):
            path = f"workflows.snapshot_share[{index}].sharing_keys[{i}]"
            after_key(stack, name, sources, f"its snapshot share uses sharing key {name!r}", path)
        for j, target in enumerate(share.targets):
            for region in target.regions:
                stack = share_target_stack_name(target.account, region)
                for i, name in enumerate(target.keys):
                    path = f"workflows.snapshot_share[{index}].targets[{j}].keys[{i}]"
                    why = f"its copy roles use target key {name!r}"
                    after_key(stack, name, [region, *sources], why, path)
    return deps
