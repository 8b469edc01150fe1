"""How the report names a principal: its kind, account, whether the assembly defines it, and its kmsflow role.

Labels come from two contracts kmsflow keeps: the Sid of each role's key-policy statement
(:data:`kmsflow.policy.roles.ROLE_SIDS`, the audit key's auditor statement, the root's administration
statement) and the names kmsflow gives its workflow roles (:mod:`kmsflow.stacks.naming`). A principal of any
other CDK app gets no label, only its kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from kmsflow.policy.document import root_account
from kmsflow.policy.roles import ROLE_SIDS, Role
from kmsflow.review.model import AccessFact, PrincipalInfo, Via

#: Statement Sid -> the label of the principals it names.
SID_LABELS: Mapping[str, str] = {
    ROLE_SIDS[Role.ADMINISTRATORS]: "key administrator",
    ROLE_SIDS[Role.USERS]: "key user",
    ROLE_SIDS[Role.SERVICE_USERS]: "service user",
    ROLE_SIDS[Role.SIGNERS]: "signer",
    ROLE_SIDS[Role.VERIFIERS]: "verifier",
    ROLE_SIDS[Role.PUBLIC_KEY_ENCRYPTERS]: "public-key encrypter",
    ROLE_SIDS[Role.MAC_USERS]: "MAC user",
    "AuditorsDecryptLogFiles": "auditor",
    "RootAccountAdministration": "account root (administers the key)",
    "EnableIamPolicies": "account root (delegates to IAM policies)",
}

_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
#: kmsflow's role names (stacks/naming.py: ``<machine name>-<step>``, ``share_copy_role_name``) -> label.
_NAME_LABELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^kmsflow-snapshot-copy-{_REGION}-(?P<step>[a-z-]+)$"), "copy workflow step {step}"),
    (re.compile(rf"^kmsflow-snapshot-share-{_REGION}-(?P<step>[a-z-]+)$"), "share workflow step {step}"),
    (
        re.compile(rf"^kmsflow-share-(?P<account>\d{{12}})-(?P<source>{_REGION})-(?P<target>{_REGION})$"),
        "share target copy role (for {account} {source} -> {target})",
    ),
)


def principal_infos(facts: Iterable[AccessFact], defined: frozenset[str]) -> tuple[PrincipalInfo, ...]:
    """Every principal of ``facts``, sorted by id; ``defined`` holds the ARNs of the assembly's roles and
    users."""
    sids: dict[str, set[str]] = {}
    for fact in facts:
        labels = sids.setdefault(fact.principal, set())
        if fact.via is Via.KEY_POLICY:  # the statement names the principal itself (not a delegation)
            labels.update(SID_LABELS[s.sid] for s in fact.sources if s.sid in SID_LABELS)
    return tuple(describe(arn, defined=defined, sid_labels=sorted(labels)) for arn, labels in sorted(sids.items()))


def describe(arn: str, *, defined: frozenset[str], sid_labels: Iterable[str] = ()) -> PrincipalInfo:
    """One principal: kind from its form, label from its name and the statements that name it."""
    kind, account = _kind(arn)
    labels = [label for label in [_name_label(arn)] if label] + [label for label in sid_labels if label]
    return PrincipalInfo(
        id=arn, kind=kind, account=account, label="; ".join(dict.fromkeys(labels)), in_assembly=arn in defined
    )


def _kind(arn: str) -> tuple[str, str | None]:
    if arn == "*":
        return "any", None
    account = root_account(arn)
    if account is not None:
        return "root", account
    fields = arn.split(":", 5)
    if len(fields) != 6:
        return (
            ("service", None)
            if arn.endswith(".amazonaws.com") or arn.endswith(".amazonaws.com.cn")
            else (
                "other",
                None,
            )
        )
    resource_type = fields[5].split("/", 1)[0]
    kind = {"role": "role", "user": "user", "assumed-role": "role", "federated-user": "federated"}.get(
        resource_type, "other"
    )
    return kind, fields[4] or None


def _name_label(arn: str) -> str:
    name = arn.rsplit("/", 1)[-1] if ":role/" in arn else ""
    for pattern, label in _NAME_LABELS:
        match = pattern.match(name)
        if match:
            return label.format(**match.groupdict())
    if arn.endswith(".amazonaws.com"):
        return f"AWS service {arn.split('.', 1)[0]}"
    return ""
