"""What each snapshot-copy step may do to snapshots, as IAM statements: one table, pure Python.

A handler may read any snapshot of its regions (ids come from each execution's input), but it may create,
tag, copy into and delete only what kmsflow makes: RDS and Aurora snapshots named ``kmsflow-*``
(``kmsflow.lambdas.snapshot_copy.job``), EBS snapshots tagged at creation (``ec2:CreateAction``), and only
deletes of snapshots that carry kmsflow's job tag (``aws:ResourceTag/kmsflow:job-id``). A bug or a crafted
input can therefore not delete or re-tag a backup that kmsflow did not make.

Resource types and condition keys follow the Service Authorization Reference pages "Actions, resources, and
condition keys for Amazon RDS" and "... for Amazon EC2"; tags given at creation are authorized against the
tagging action (RDS ``AddTagsToResource``; EC2 ``CreateTags`` with ``ec2:CreateAction``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kmsflow.lambdas.snapshot_copy.job import SNAPSHOT_PREFIX, TAG_JOB_ID

SOURCE, DESTINATION = "source", "destination"

#: Only snapshots that carry kmsflow's job tag (the handlers also check its value before deleting).
OWN_TAG_CONDITION: Mapping[str, Any] = {"Null": {f"aws:ResourceTag/{TAG_JOB_ID}": "false"}}


@dataclass(frozen=True)
class Access:
    """Actions on resources (ARN templates with ``{rds}`` = ``arn:<p>:rds:<region>:<account>``, ``{ec2}`` =
    ``arn:<p>:ec2:<region>``, ``{account}``), under optional conditions. ``name`` makes the statement's Sid
    (``Rds`` + name + ``Source``)."""

    name: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Any] = field(default_factory=dict)


_RDS_ANY, _RDS_OWN = "{rds}:snapshot:*", "{rds}:snapshot:" + SNAPSHOT_PREFIX + "*"
_AURORA_ANY, _AURORA_OWN = "{rds}:cluster-snapshot:*", "{rds}:cluster-snapshot:" + SNAPSHOT_PREFIX + "*"
_EBS_SNAPSHOTS = "{ec2}::snapshot/*"


def _created_by(action: str) -> Mapping[str, Any]:
    """Tags only in the call that creates the snapshot (EC2 authorizes TagSpecifications as CreateTags)."""
    return {"StringEquals": {"ec2:CreateAction": action}}


#: family -> verb -> what the verb needs. ``copy_from`` is the source side of a cross-region copy (the copy
#: reads the source snapshot), ``copy_to`` its destination side (the new snapshot and its tags). ``share`` (the
#: snapshot-share machine) adds or removes one account from a snapshot's share attribute and reads it back: RDS
#: ``restore``, Aurora's cluster snapshot attribute, EBS ``createVolumePermission``. A source that is already under
#: a sharing key (or unencrypted RDS/EBS) is shared as it is, so any snapshot of the regions may be shared; which
#: account it is shared with the handlers take from the targets the configuration declares.
FAMILY_VERBS: dict[str, dict[str, tuple[Access, ...]]] = {
    "rds": {
        "describe": (Access("Describe", ("rds:DescribeDBSnapshots",), ("{rds}:*",)),),
        "create": (
            Access("Create", ("rds:CreateDBSnapshot",), ("{rds}:db:*", _RDS_OWN)),
            Access("TagOwn", ("rds:AddTagsToResource",), (_RDS_OWN,)),
        ),
        "copy_from": (
            Access("CopyFrom", ("rds:CopyDBSnapshot",), (_RDS_ANY,)),
            # The source's option group is read to refuse copies that would lose it.
            Access("ReadOptionGroups", ("rds:DescribeOptionGroups",), ("{rds}:og:*",)),
        ),
        "copy_to": (
            Access("CopyTo", ("rds:CopyDBSnapshot",), (_RDS_OWN, "{rds}:og:*")),
            Access("TagOwn", ("rds:AddTagsToResource",), (_RDS_OWN,)),
        ),
        "tag": (Access("TagOwn", ("rds:AddTagsToResource",), (_RDS_OWN,)),),
        "delete": (Access("DeleteOwn", ("rds:DeleteDBSnapshot",), (_RDS_OWN,), OWN_TAG_CONDITION),),
        "share": (Access("Share", ("rds:DescribeDBSnapshotAttributes", "rds:ModifyDBSnapshotAttribute"), (_RDS_ANY,)),),
    },
    "aurora": {
        "describe": (Access("Describe", ("rds:DescribeDBClusterSnapshots",), ("{rds}:*",)),),
        "create": (
            # DescribeDBClusters: an unencrypted cluster is refused before it is snapshotted.
            Access("ReadClusters", ("rds:DescribeDBClusters",), ("{rds}:cluster:*",)),
            Access("Create", ("rds:CreateDBClusterSnapshot",), ("{rds}:cluster:*", _AURORA_OWN)),
            Access("TagOwn", ("rds:AddTagsToResource",), (_AURORA_OWN,)),
        ),
        "copy_from": (Access("CopyFrom", ("rds:CopyDBClusterSnapshot",), (_AURORA_ANY,)),),
        "copy_to": (
            Access("CopyTo", ("rds:CopyDBClusterSnapshot",), (_AURORA_OWN,)),
            Access("TagOwn", ("rds:AddTagsToResource",), (_AURORA_OWN,)),
        ),
        "tag": (Access("TagOwn", ("rds:AddTagsToResource",), (_AURORA_OWN,)),),
        "delete": (Access("DeleteOwn", ("rds:DeleteDBClusterSnapshot",), (_AURORA_OWN,), OWN_TAG_CONDITION),),
        "share": (
            Access(
                "Share",
                ("rds:DescribeDBClusterSnapshotAttributes", "rds:ModifyDBClusterSnapshotAttribute"),
                (_AURORA_ANY,),
            ),
        ),
    },
    "ebs": {
        # DescribeSnapshots supports no resource-level permission: bounded by region instead (see _place()).
        "describe": (Access("Describe", ("ec2:DescribeSnapshots",), ("*",)),),
        "create": (
            Access("Create", ("ec2:CreateSnapshot",), ("{ec2}:{account}:volume/*", _EBS_SNAPSHOTS)),
            Access("TagAtCreate", ("ec2:CreateTags",), (_EBS_SNAPSHOTS,), _created_by("CreateSnapshot")),
        ),
        "copy_from": (Access("CopyFrom", ("ec2:CopySnapshot",), (_EBS_SNAPSHOTS,)),),
        "copy_to": (
            Access("CopyTo", ("ec2:CopySnapshot",), (_EBS_SNAPSHOTS,)),
            Access("TagAtCopy", ("ec2:CreateTags",), (_EBS_SNAPSHOTS,), _created_by("CopySnapshot")),
        ),
        "tag": (Access("TagOwn", ("ec2:CreateTags",), (_EBS_SNAPSHOTS,), OWN_TAG_CONDITION),),
        "delete": (Access("DeleteOwn", ("ec2:DeleteSnapshot",), (_EBS_SNAPSHOTS,), OWN_TAG_CONDITION),),
        "share": (
            Access("Share", ("ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute"), (_EBS_SNAPSHOTS,)),
        ),
    },
}


#: The resource type of RDS option groups in ARN templates (``{rds}:og:*``).
_OPTION_GROUPS = ":og:"


def statements(
    calls: Sequence[tuple[str, str]],
    *,
    regions: Mapping[str, Sequence[str]],
    account: str,
    partition: str,
    option_groups: bool = True,
) -> list[dict[str, Any]]:
    """IAM statements (JSON) for ``calls`` — (verb, ``SOURCE``/``DESTINATION``) pairs — in ``regions`` by side,
    one per access, with Sids from family, access name and side (``RdsDeleteOwnSource``). Statements on ``*``
    (actions without resource-level permissions) are bounded by ``aws:RequestedRegion`` instead. Without
    ``option_groups`` nothing touches RDS option groups: copies that stay in their region, or are made through
    another account's role, neither read them nor pass one."""
    result: dict[str, dict[str, Any]] = {}
    for family, verbs in FAMILY_VERBS.items():
        for verb, side in calls:
            for access in verbs[verb]:
                if not option_groups:
                    kept = tuple(r for r in access.resources if _OPTION_GROUPS not in r)
                    if not kept:
                        continue  # an access to option groups only
                    access = replace(access, resources=kept)
                resources, conditions = _place(access, regions[side], account=account, partition=partition)
                sid = f"{family.capitalize()}{access.name}{side.capitalize()}"
                statement: dict[str, Any] = {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": sorted(access.actions),
                    "Resource": resources,
                }
                if conditions:
                    statement["Condition"] = conditions
                if result.setdefault(sid, statement) != statement:
                    raise ValueError(f"two different statements named {sid}: name the accesses apart")
    return list(result.values())


def _place(access: Access, regions: Sequence[str], *, account: str, partition: str) -> tuple[list[str], dict[str, Any]]:
    """``access``'s resource ARNs in ``regions`` and its conditions (``*`` gets the region bound)."""
    if access.resources == ("*",):
        return ["*"], {**access.conditions, "StringEquals": {"aws:RequestedRegion": list(regions)}}
    arns = (
        template.format(
            rds=f"arn:{partition}:rds:{region}:{account}", ec2=f"arn:{partition}:ec2:{region}", account=account
        )
        for region in regions
        for template in access.resources
    )
    return list(dict.fromkeys(arns)), dict(access.conditions)
