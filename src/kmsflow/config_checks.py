"""The second pass over a parsed configuration: what a value means, checked against kmsflow's tables.

Each check yields ``(path, message)``; the loader adds file and line. The rules themselves live in the
pure modules the constructs use too (``keyspec``, ``policy.roles``, ``policy.rules``, ``policy.separation``),
so a configuration is refused with the same words as the equivalent construct call.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kmsflow import plan
from kmsflow.auditspec import LOG_RETENTION_DAYS
from kmsflow.config_yaml import did_you_mean
from kmsflow.keyspec import KeySettings, alias_problem
from kmsflow.policy import rules
from kmsflow.policy.roles import CRYPTO_ROLES, VIA_SERVICES, Role, role_fits
from kmsflow.policy.separation import overlap_problem
from kmsflow.principals import Principal, PrincipalRefError, other_account_problem, parse_principal
from kmsflow.stacks.naming import ci_stack_name

if TYPE_CHECKING:
    from kmsflow.config import (
        AuditConfig,
        KeyConfig,
        KmsflowConfig,
        PipelineConfig,
        PolicyConfig,
        SnapshotCopyConfig,
        SnapshotShareConfig,
        SubscriptionConfig,
    )

Issue = tuple[str, str]

_ACCOUNT_ID = re.compile(r"^\d{12}$")

#: The role lists of a custom policy that take principals directly (all of them in the key's account).
PRINCIPAL_ROLES = (
    Role.ADMINISTRATORS,
    Role.USERS,
    Role.SIGNERS,
    Role.VERIFIERS,
    Role.PUBLIC_KEY_ENCRYPTERS,
    Role.MAC_USERS,
)


def semantic_issues(config: KmsflowConfig) -> list[Issue]:
    issues = list(_account_issues(config))
    names: dict[str, int] = {}
    for index, key in enumerate(config.keys):
        path = f"keys[{index}]"
        if key.name in names:
            issues.append(
                (
                    f"{path}.name",
                    f"key name {key.name!r} is already used by keys[{names[key.name]}]; names are "
                    "construct ids and must be unique",
                )
            )
        names.setdefault(key.name, index)
        issues += _key_issues(config, key, path)
    issues += _duplicate_alias_issues(config)
    if config.audit is not None:
        issues += _audit_issues(config, config.audit)
    issues += _workflow_issues(config)
    issues += _share_issues(config)
    if config.pipeline is not None:
        issues += _pipeline_issues(config, config.pipeline)
    return issues


def _pipeline_issues(config: KmsflowConfig, pipeline: PipelineConfig) -> Iterator[Issue]:
    """The delivery places are declared; stage names are unique; every stack the app builds is deployed by exactly
    one stage, and no stage deploys a stack before one it depends on (kmsflow.plan.dependencies)."""
    if pipeline.github is not None and pipeline.codepipeline is not None:
        yield (
            "pipeline.codepipeline",
            "pipeline.github and pipeline.codepipeline both deploy the stages: two deployers of the same stacks race "
            "each other; keep one (pull requests are reviewed by the pull-request workflow either way)",
        )
    for section, delivery in (("github", pipeline.github), ("codepipeline", pipeline.codepipeline)):
        if delivery is None:
            continue
        if delivery.account not in config.accounts:
            yield (f"pipeline.{section}.account", _unknown("account", delivery.account, config.accounts))
        if delivery.region is not None and delivery.region not in config.regions:
            yield (f"pipeline.{section}.region", _unknown("region", delivery.region, config.regions))
    if not pipeline.stages:
        yield ("pipeline.stages", "name at least one stage; every stack of the app is deployed by exactly one stage")
        return
    # Stacks of an undeclared account or region are reported where that name is written, not as unstaged.
    stacks = [s for s in plan.planned_stacks(config) if s.account in config.accounts and s.region in config.regions]
    names: dict[str, int] = {}
    #: stack name -> (stage index, path of the deploys entry) of the first stage that deploys it
    staged: dict[str, tuple[int, str]] = {}
    for index, stage in enumerate(pipeline.stages):
        path = f"pipeline.stages[{index}]"
        folded = stage.name.casefold()
        if folded in names:
            first = pipeline.stages[names[folded]].name
            yield (
                f"{path}.name",
                f"stage name {stage.name!r} is already used by pipeline.stages[{names[folded]}] ({first!r}); stage "
                "names are GitHub Environment names, which GitHub compares ignoring case; rename one",
            )
        names.setdefault(folded, index)
        if not stage.deploys:
            yield (f"{path}.deploys", "name at least one place (<account>:<region>) or stack this stage deploys")
        twice: dict[tuple[str, tuple[int, str]], list[str]] = {}
        for i, entry in enumerate(stage.deploys):
            where = f"{path}.deploys[{i}]"
            found = plan.resolve_deploys(entry, stacks)
            if not found:
                yield (where, _undeployable(config, entry, stacks))
            for stack in found:
                first_stage = staged.setdefault(stack.name, (index, where))
                if first_stage[0] != index:
                    twice.setdefault((where, first_stage), []).append(stack.name)
        for (where, (other_index, first_where)), stack_names in twice.items():
            other = pipeline.stages[other_index].name
            listed = ", ".join(map(repr, stack_names))
            yield (
                where,
                f"stack{'s' if len(stack_names) > 1 else ''} {listed} {'are' if len(stack_names) > 1 else 'is'} "
                f"already deployed by stage {other!r} ({first_where}); every stack is deployed by exactly one "
                "stage; remove it from one of them",
            )
    for stack in stacks:
        if stack.name not in staged:
            yield (
                "pipeline.stages",
                f"stack {stack.name!r} (account {stack.account!r}, region {stack.region!r}) is deployed by no stage; "
                f"add {stack.place!r} or {stack.name!r} to the deploys of one stage",
            )
    yield from _stage_order_issues(config, pipeline, staged)


def _undeployable(config: KmsflowConfig, entry: str, stacks: Sequence[plan.PlannedStack]) -> str:
    """Why a deploys entry names nothing the app builds."""
    places = list(dict.fromkeys(s.place for s in stacks))
    if ":" in entry:
        account, _, region = entry.partition(":")
        if account not in config.accounts:
            return _unknown("account", account, config.accounts)
        if region not in config.regions:
            return _unknown("region", region, config.regions)
        return (
            f"the app builds no stack in account {account!r}, region {region!r}{did_you_mean(entry, places)}; "
            f"places with stacks: {', '.join(places) or 'none'}; remove it or fix the place"
        )
    if (
        config.pipeline is not None
        and config.pipeline.github is not None
        and entry == ci_stack_name(config.pipeline.github.account)
    ):
        return (
            f"{entry!r} is the CI stack of pipeline.github: it deploys the stages, so it is deployed by hand once, "
            "not by a stage; remove it"
        )
    return (
        f"unknown stack {entry!r}{did_you_mean(entry, [s.name for s in stacks])}; write a place <account>:<region> "
        f"(places with stacks: {', '.join(places) or 'none'}) or the name of a stack the app builds"
    )


def _stage_order_issues(
    config: KmsflowConfig, pipeline: PipelineConfig, staged: Mapping[str, tuple[int, str]]
) -> Iterator[Issue]:
    """No stack is deployed by an earlier stage than a stack it depends on (the same stage is fine: ``cdk deploy``
    orders the stacks of one deployment by their dependencies)."""
    for dep in plan.dependencies(config):
        if dep.stack not in staged or dep.after not in staged:
            continue
        (stage, where), (before, before_where) = staged[dep.stack], staged[dep.after]
        if stage < before:
            yield (
                where,
                f"stack {dep.stack!r} is deployed by stage {pipeline.stages[stage].name!r}, before stage "
                f"{pipeline.stages[before].name!r} ({before_where}) deploys {dep.after!r}; {dep.why} ({dep.path}); "
                "deploy it in the same stage or a later one",
            )


def _workflow_issues(config: KmsflowConfig) -> Iterator[Issue]:
    places: dict[tuple[str, str], int] = {}
    for index, flow in enumerate(config.workflows.snapshot_copy):
        path = f"workflows.snapshot_copy[{index}]"
        yield from _machine_place_issues(config, flow, "workflows.snapshot_copy", index, places)
        for field in ("source_regions", "destination_regions"):
            for i, region in enumerate(getattr(flow, field)):
                if region not in config.regions:
                    yield (f"{path}.{field}[{i}]", _unknown("region", region, config.regions))
        if not flow.destination_regions:
            yield (f"{path}.destination_regions", "name at least one destination region")
        sources = set(flow.source_regions or [flow.region])
        for i, region in enumerate(flow.destination_regions):
            if region in sources:
                yield (
                    f"{path}.destination_regions[{i}]",
                    f"region {region!r} is also a source region; a snapshot copy moves snapshots to another region",
                )
        yield from _destination_key_issues(config, flow, path)
        yield from _machine_people_issues(config, flow, path)


def _machine_place_issues(
    config: KmsflowConfig,
    machine: SnapshotCopyConfig | SnapshotShareConfig,
    section: str,
    index: int,
    places: dict[tuple[str, str], int],
) -> Iterator[Issue]:
    """The state machine's account and region are declared, and no other machine of ``section`` is already there
    (``places``: (account, region) -> index, filled as the machines are checked)."""
    path = f"{section}[{index}]"
    if machine.account not in config.accounts:
        yield (f"{path}.account", _unknown("account", machine.account, config.accounts))
    if machine.region not in config.regions:
        yield (f"{path}.region", _unknown("region", machine.region, config.regions))
    where = (machine.account, machine.region)
    if where in places:
        yield (
            path,
            f"{section}[{places[where]}] is already in account {machine.account!r} and region {machine.region!r}; "
            "one state machine per account and region",
        )
    places.setdefault(where, index)


def _machine_people_issues(
    config: KmsflowConfig, machine: SnapshotCopyConfig | SnapshotShareConfig, path: str
) -> Iterator[Issue]:
    """The workflow key's administrators are of the machine's account; its subscriptions are well formed."""
    for i, ref in enumerate(machine.administrators):
        yield from _principal_in_account(
            ref,
            config.account_ids,
            config.partition,
            where=f"{path}.administrators[{i}]",
            account=machine.account,
            why=f"; the workflow key's administrators must be in the workflow's account {machine.account!r}",
        )
    yield from _subscription_issues(machine.subscriptions, f"{path}.subscriptions")


def _destination_key_issues(config: KmsflowConfig, flow: SnapshotCopyConfig, path: str) -> Iterator[Issue]:
    """Each destination key is a kmsflow key of the workflow's account that can encrypt a snapshot copy, placed
    in at least one destination region; every destination region has at least one such key."""
    yield from _placed_key_issues(
        config,
        KeyUse(
            names=flow.destination_keys,
            path=f"{path}.destination_keys",
            account=flow.account,
            regions=flow.destination_regions,
            regions_path=f"{path}.destination_regions",
            kind="destination",
            purpose="the copies are encrypted under",
            user="a snapshot copy",
            wrong_account=f"a snapshot copy encrypts under keys of its own account {flow.account!r}",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class KeyUse:
    """A list of key names (``names`` at ``path``) that a workflow uses in ``regions`` of ``account``: the words
    of its messages (``kind`` of key, what the keys are for, who uses them, why the account is wrong), and where
    the regions are listed (``regions_path``; ``None`` when they are a default, not written)."""

    names: Sequence[str]
    path: str
    account: str
    regions: Sequence[str]
    regions_path: str | None
    kind: str
    purpose: str
    user: str
    wrong_account: str
    #: Exactly one key per region (a region's key is looked up by region).
    one_per_region: bool = False
    #: What the regions are called in messages (default: ``kind``).
    region_kind: str = ""


def _placed_key_issues(config: KmsflowConfig, use: KeyUse) -> Iterator[Issue]:
    """Each key is a declared kmsflow key of ``use.account`` that can encrypt a snapshot (symmetric
    ENCRYPT_DECRYPT), placed (as primary or replica) in at least one of ``use.regions``; every region has such a
    key (with ``one_per_region``: exactly one)."""
    keys = {key.name: key for key in config.keys}
    covered: dict[str, int] = {}
    if not use.names:
        yield (use.path, f"name at least one key (keys[].name) {use.purpose}")
    # An undeclared region is reported where it is written; placement is checked against the declared ones.
    declared = [r for r in use.regions if r in config.regions]
    regions_text = ", ".join(use.regions)
    where_regions = use.regions_path.rsplit(".", 1)[-1] if use.regions_path else "source_regions"
    for i, name in enumerate(use.names):
        where = f"{use.path}[{i}]"
        key = keys.get(name)
        if key is None:
            known = ", ".join(keys) or "none"
            yield (where, f"unknown key {name!r}; keys declared under keys: are {known}; use one of their names")
            continue
        if key.account != use.account and use.account in config.accounts:  # else reported at the account
            yield (where, f"key {name!r} is in account {key.account!r}; {use.wrong_account}")
        settings, _ = key.settings()  # a key whose settings are wrong is reported at its own path
        if settings is not None and (role_fits(Role.SERVICE_USERS, settings) or settings.info.family != "symmetric"):
            yield (
                where,
                f"key {name!r} is {settings.spec} for {settings.usage}; {use.user} needs a symmetric "
                "encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
            )
        placed = {key.region, *key.replicas} & set(declared)
        if not placed and declared:
            yield (
                where,
                f"key {name!r} is in {sorted({key.region, *key.replicas})}, none of them a "
                f"{use.region_kind or use.kind} region ({regions_text}); add its region to {where_regions} or "
                "replicate it",
            )
        for region in sorted(placed):
            if use.one_per_region and region in covered:
                yield (
                    where,
                    f"key {name!r} is in region {region!r} as is {use.names[covered[region]]!r} "
                    f"({use.path}[{covered[region]}]); name exactly one {use.kind} key per region",
                )
            covered.setdefault(region, i)
    for i, region in enumerate(use.regions):
        if use.names and region in declared and region not in covered:
            yield (
                f"{use.regions_path}[{i}]" if use.regions_path else use.path,
                f"no {use.kind} key is in region {region!r}; list a key of that region in "
                f"{use.path.rsplit('.', 1)[-1]}",
            )


def _share_issues(config: KmsflowConfig) -> Iterator[Issue]:
    places: dict[tuple[str, str], int] = {}
    for index, share in enumerate(config.workflows.snapshot_share):
        path = f"workflows.snapshot_share[{index}]"
        yield from _machine_place_issues(config, share, "workflows.snapshot_share", index, places)
        seen_sources: set[str] = set()
        for i, region in enumerate(share.source_regions):
            if region not in config.regions:
                yield (f"{path}.source_regions[{i}]", _unknown("region", region, config.regions))
            elif region in seen_sources:
                yield (f"{path}.source_regions[{i}]", f"region {region!r} is listed twice")
            seen_sources.add(region)
        sources = share.source_regions or [share.region]
        yield from _placed_key_issues(
            config,
            KeyUse(
                names=share.sharing_keys,
                path=f"{path}.sharing_keys",
                account=share.account,
                regions=sources,
                regions_path=f"{path}.source_regions" if share.source_regions else None,
                kind="sharing",
                region_kind="source",
                purpose="snapshots are re-encrypted under before they are shared, one per source region",
                user="a snapshot share",
                wrong_account=f"a snapshot share re-encrypts under keys of its own account {share.account!r}",
                one_per_region=True,
            ),
        )
        yield from _share_target_issues(config, share, path)
        yield from _machine_people_issues(config, share, path)


#: What AWS accepts as an ``sts:ExternalId`` (AssumeRole, ExternalId: 2-1224 characters of ``[\w+=,.@:/-]``).
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)


def _share_target_issues(config: KmsflowConfig, share: SnapshotShareConfig, path: str) -> Iterator[Issue]:
    """Each target: a declared account other than the machine's, listed once, with declared regions and declared
    keys of its own that cover every one of its regions; an external id AWS accepts."""
    if not share.targets:
        yield (f"{path}.targets", "name at least one target account the snapshots are shared with")
    listed: dict[str, int] = {}
    for j, target in enumerate(share.targets):
        where = f"{path}.targets[{j}]"
        if target.account not in config.accounts:
            yield (f"{where}.account", _unknown("account", target.account, config.accounts))
        elif target.account == share.account:
            yield (
                f"{where}.account",
                f"account {target.account!r} is the machine's own account; a snapshot share copies into another "
                "account (use workflows.snapshot_copy within one account)",
            )
        elif target.account in listed:
            yield (
                f"{where}.account",
                f"account {target.account!r} is already a target at {path}.targets[{listed[target.account]}]; list "
                "each target account once, with all of its regions",
            )
        listed.setdefault(target.account, j)
        if not target.regions:
            yield (f"{where}.regions", "name at least one region the target's copies are made in")
        for i, region in enumerate(target.regions):
            if region not in config.regions:
                yield (f"{where}.regions[{i}]", _unknown("region", region, config.regions))
        yield from _placed_key_issues(
            config,
            KeyUse(
                names=target.keys,
                path=f"{where}.keys",
                account=target.account,
                regions=target.regions,
                regions_path=f"{where}.regions",
                kind="target",
                purpose="the target's copies are encrypted under",
                user="a target copy",
                wrong_account=f"a target's copies are encrypted under keys of the target account {target.account!r}",
            ),
        )
        if target.external_id is not None and not _EXTERNAL_ID.fullmatch(target.external_id):
            yield (
                f"{where}.external_id",
                f"external id {target.external_id!r} is not one AWS accepts; write 2 to 1224 letters, digits or "
                "the characters _+=,.@:/-",
            )


_ENDPOINTS = {
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an e-mail address"),
    "https": (re.compile(r"^https://\S+$"), "an https:// URL"),
    "sqs": (re.compile(r"^arn:aws[\w-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]+(\.fifo)?$"), "an SQS queue ARN"),
    "lambda": (
        re.compile(r"^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+(:[\w$-]+)?$"),
        "a Lambda function ARN",
    ),
}


def _audit_issues(config: KmsflowConfig, audit: AuditConfig) -> Iterator[Issue]:
    if audit.account not in config.accounts:
        yield ("audit.account", _unknown("account", audit.account, config.accounts))
    if audit.region not in config.regions:
        yield ("audit.region", _unknown("region", audit.region, config.regions))
    if audit.organization_trail and not audit.organization_id:
        yield ("audit.organization_id", "an organization trail needs organization_id (o-...) for its bucket policy")
    if audit.log_retention_days not in LOG_RETENTION_DAYS:
        yield (
            "audit.log_retention_days",
            f"log_retention_days is {audit.log_retention_days}; CloudWatch Logs accepts only "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}",
        )
    for role in ("administrators", "auditors"):
        for i, ref in enumerate(getattr(audit, role)):
            yield from _principal_in_account(
                ref,
                config.account_ids,
                config.partition,
                where=f"audit.{role}[{i}]",
                account=audit.account,
                why=f"; the audit key's {role} must be in the audit account {audit.account!r}",
            )
    for i, name in enumerate(audit.member_accounts or []):
        if name not in config.accounts:
            yield (f"audit.member_accounts[{i}]", _unknown("account", name, config.accounts))
        elif name == audit.account:
            yield (
                f"audit.member_accounts[{i}]",
                f"{name!r} is the audit account itself, whose trail is the central one; remove it from member_accounts",
            )
    if audit.member_accounts and audit.organization_trail:
        yield (
            "audit.member_accounts",
            "an organization trail records every account of the organization; remove member_accounts or set "
            "organization_trail: false",
        )
    for i, name in enumerate(audit.alarms.organization_accounts or []):
        if name not in config.accounts:
            yield (f"audit.alarms.organization_accounts[{i}]", _unknown("account", name, config.accounts))
    yield from _subscription_issues(audit.alarms.subscriptions, "audit.alarms.subscriptions")
    bucket = audit.bucket
    if (
        bucket.expire_days
        and bucket.transition_to_glacier_days
        and bucket.expire_days <= bucket.transition_to_glacier_days
    ):
        yield (
            "audit.bucket.expire_days",
            f"expire_days ({bucket.expire_days}) must be after transition_to_glacier_days "
            f"({bucket.transition_to_glacier_days}); logs would expire before or when they move to Glacier",
        )


def _account_issues(config: KmsflowConfig) -> Iterator[Issue]:
    seen: dict[str, str] = {}
    for name, account in config.accounts.items():
        if not _ACCOUNT_ID.match(account.id):
            yield (
                f"accounts.{name}.id",
                f"account id {account.id!r} is not 12 digits; write the AWS account "
                "id as a quoted string, e.g. '111111111111'",
            )
        elif account.id in seen:
            yield (
                f"accounts.{name}.id",
                f"account id {account.id} is also declared as {seen[account.id]!r}; declare each account once",
            )
        seen.setdefault(account.id, name)


def _key_issues(config: KmsflowConfig, key: KeyConfig, path: str) -> list[Issue]:
    issues: list[Issue] = []
    if key.account not in config.accounts:
        issues.append((f"{path}.account", _unknown("account", key.account, config.accounts)))
    if key.region not in config.regions:
        issues.append((f"{path}.region", _unknown("region", key.region, config.regions)))
    if key.multi_region is False and key.replicas:
        issues.append(
            (
                f"{path}.replicas",
                "replicas need a multi-region key; remove multi_region: false "
                "(replicas imply it) or remove the replicas",
            )
        )
    settings, problems = key.settings()
    issues += [(f"{path}.{p.field}", p.message) for p in problems]
    for i, alias in enumerate(key.aliases):
        problem = alias_problem(alias)
        if problem:
            issues.append((f"{path}.aliases[{i}]", problem))
    issues += _replica_issues(config, key, path)
    if key.account in config.accounts:
        issues += _policy_issues(config, key, settings, f"{path}.policy")
    return issues


def _replica_issues(config: KmsflowConfig, key: KeyConfig, path: str) -> Iterator[Issue]:
    seen: set[str] = set()
    for i, region in enumerate(key.replicas):
        where = f"{path}.replicas[{i}]"
        if region not in config.regions:
            yield (where, _unknown("region", region, config.regions))
        elif region == key.region or config.regions[region] == config.regions.get(key.region):
            yield (
                where,
                f"replica region {region!r} ({config.regions[region]}) is the primary key's own "
                "region; a replica must be in another region",
            )
        elif region in seen:
            yield (where, f"replica region {region!r} is listed twice")
        seen.add(region)


def _policy_issues(config: KmsflowConfig, key: KeyConfig, settings: KeySettings | None, path: str) -> list[Issue]:
    policy = key.policy
    given = _given_roles(policy)
    if policy.mode == "default":
        extra = [str(r) for r in given] + (["statements"] if policy.statements else [])
        if extra or policy.separation_reason or "root_access" in policy.model_fields_set:
            listed = ", ".join(extra) or "root_access/separation_reason"
            return [
                (
                    f"{path}.mode",
                    f"{listed} need mode: custom; with mode: default the account root holds "
                    "kms:* and IAM policies decide; set mode: custom or remove them",
                )
            ]
        return []
    accounts = config.account_ids
    issues: list[Issue] = []
    resolved: dict[Role, list[str]] = defaultdict(list)
    for role, where, refs in principal_lists(policy):
        for i, ref in enumerate(refs):
            principal = _resolve(ref, accounts, config.partition, f"{path}.{where}[{i}]", issues)
            if principal and principal.account_name != key.account:
                issues.append((f"{path}.{where}[{i}]", other_account_problem(ref, principal.account_name, key.account)))
            elif principal:
                resolved[role].append(principal.arn)
    issues += _cross_account_issues(policy, key, accounts, config.partition, path)
    issues += _service_issues(policy, path)
    if settings is not None:
        for role in given:
            problem = role_fits(role, settings)
            if problem:
                issues.append((f"{path}.{role}", f"{problem}; remove it or change the key"))
    problem = overlap_problem(
        resolved[Role.ADMINISTRATORS],
        {str(role): resolved[role] for role in CRYPTO_ROLES},
        policy.separation_reason,
    )
    if problem:
        issues.append((f"{path}.administrators", problem))
    issues += _statement_issues(policy, accounts, config, key, path)
    return issues


def _given_roles(policy: PolicyConfig) -> list[Role]:
    given = [role for role, _, refs in principal_lists(policy) if refs]
    if policy.cross_account:
        given.append(Role.CROSS_ACCOUNT)
    if policy.organizations:
        given.append(Role.ORGANIZATIONS)
    return given


def principal_lists(policy: PolicyConfig) -> Iterator[tuple[Role, str, list[str]]]:
    """(role, its path under ``policy``, its principal references) for every role given by principals."""
    for role in PRINCIPAL_ROLES:
        yield role, str(role), getattr(policy, str(role))
    if policy.service_users:
        yield Role.SERVICE_USERS, "service_users.principals", policy.service_users.principals


def _cross_account_issues(
    policy: PolicyConfig, key: KeyConfig, accounts: dict[str, str], partition: str, path: str
) -> Iterator[Issue]:
    for i, access in enumerate(policy.cross_account):
        where = f"{path}.cross_account[{i}]"
        if access.account not in accounts:
            yield (f"{where}.account", _unknown("account", access.account, accounts))
            continue
        if access.account == key.account:
            yield (
                f"{where}.account",
                f"account {access.account!r} is this key's own account; use users or "
                "service_users for principals of the key's account",
            )
        for j, ref in enumerate(access.principals):
            yield from _principal_in_account(
                ref,
                accounts,
                partition,
                where=f"{where}.principals[{j}]",
                account=access.account,
                why=f", not in {access.account!r} that this entry opens the key to",
            )


def _service_issues(policy: PolicyConfig, path: str) -> Iterator[Issue]:
    lists: list[tuple[str, list[str]]] = []
    if policy.service_users:
        lists.append((f"{path}.service_users.services", policy.service_users.services))
        if policy.service_users.principals and not policy.service_users.services:
            yield (
                f"{path}.service_users.services",
                "service_users lists principals but no services; name "
                f"the services they use the key through (allowed: {', '.join(VIA_SERVICES)})",
            )
    lists += [(f"{path}.cross_account[{i}].via_services", a.via_services) for i, a in enumerate(policy.cross_account)]
    lists += [(f"{path}.organizations[{i}].via_services", o.via_services) for i, o in enumerate(policy.organizations)]
    for where, services in lists:
        for j, name in enumerate(services):
            if name not in VIA_SERVICES:
                yield (f"{where}[{j}]", f"unknown service {name!r}; allowed: {', '.join(VIA_SERVICES)}")


def _statement_issues(
    policy: PolicyConfig, accounts: dict[str, str], config: KmsflowConfig, key: KeyConfig, path: str
) -> Iterator[Issue]:
    declared = set(accounts.values())
    own = accounts[key.account]
    for i, statement in enumerate(policy.statements):
        where = f"{path}.statements[{i}]"
        document = {"Statement": [statement.model_dump(exclude_none=True)]}
        for message in rules.violations(document, own):
            yield (where, message)
        principal = statement.Principal
        values = (
            [] if principal == "*" else [v for vs in principal.values() for v in ([vs] if isinstance(vs, str) else vs)]
        )
        for value in values:
            match = re.search(r":iam::(\d{12}):", value) or re.fullmatch(r"(\d{12})", value)
            if match and match.group(1) not in declared:
                yield (
                    f"{where}.Principal",
                    f"principal {value!r} is in account {match.group(1)}, which is not "
                    "declared under accounts:; declare it or fix the id",
                )


def _subscription_issues(subscriptions: list[SubscriptionConfig], path: str) -> Iterator[Issue]:
    for i, sub in enumerate(subscriptions):
        pattern, what = _ENDPOINTS[sub.protocol]
        if not pattern.match(sub.endpoint):
            yield (
                f"{path}[{i}].endpoint",
                f"endpoint {sub.endpoint!r} is not {what}, which protocol {sub.protocol} needs",
            )


def _principal_in_account(
    ref: str, accounts: dict[str, str], partition: str, *, where: str, account: str, why: str
) -> Iterator[Issue]:
    """The problems of a principal reference that must resolve to a principal of ``account``; ``why`` ends
    the wrong-account message (it starts with its own separator)."""
    issues: list[Issue] = []
    principal = _resolve(ref, accounts, partition, where, issues)
    yield from issues
    if principal and principal.account_name != account:
        yield (where, f"{ref!r} is in account {principal.account_name!r}{why}")


def _resolve(ref: str, accounts: dict[str, str], partition: str, where: str, issues: list[Issue]) -> Principal | None:
    try:
        return parse_principal(ref, accounts, partition)
    except PrincipalRefError as err:
        issues.append((where, str(err)))
        return None


def _unknown(kind: str, value: str, declared: Mapping[str, object]) -> str:
    names = ", ".join(declared)
    plural = "accounts" if kind == "account" else "regions"
    return (
        f"unknown {kind} {value!r}{did_you_mean(value, declared)}; declared {plural}: {names or 'none'}; add it "
        f"under {plural}: or fix the name"
    )


def _duplicate_alias_issues(config: KmsflowConfig) -> Iterator[Issue]:
    """An alias names one key per account and region; replicas take their key's aliases to their region."""
    first: dict[tuple[str, str, str], str] = {}
    for index, key in enumerate(config.keys):
        if key.account not in config.accounts or key.region not in config.regions:
            continue
        regions = [key.region] + [r for r in key.replicas if r in config.regions]
        for i, alias in enumerate(key.aliases):
            where = f"keys[{index}].aliases[{i}]"
            for region in dict.fromkeys(regions):
                slot = (config.accounts[key.account].id, config.regions[region], alias)
                if slot in first and first[slot] != where:
                    yield (
                        where,
                        f"duplicate alias {alias!r}: {first[slot]} already uses it in account "
                        f"{key.account!r}, region {config.regions[region]}; an alias names exactly one key "
                        "per account and region; rename one",
                    )
                    break
                first.setdefault(slot, where)
