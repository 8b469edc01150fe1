"""The findings registry (ids, order, sorting) and the helpers the rules share; also the builders the other
``test_findings_*`` files use to write a key's context by hand."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from kmsflow.review.build import review_assembly
from kmsflow.review.findings import FindingContext, Rule, all_rules, findings_for
from kmsflow.review.findings.actions import covers, is_crypto, usage_actions
from kmsflow.review.findings.conditions import narrows
from kmsflow.review.findings.principals import account_of
from kmsflow.review.findings.sources import allow_statements, granting_source, key_policy_source
from kmsflow.review.model import (
    AccessFact,
    Condition,
    Finding,
    GrantCreator,
    KeyInfo,
    PrincipalInfo,
    Review,
    Severity,
    Source,
    Via,
)
from tests.review.fixtures import key_info

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "333333333333"
KEY_ID = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/keys-AppKey"
POLICY_SOURCE = "keys/AppKey KeyPolicy"
IAM_SOURCE = "apps/AppRoleDefaultPolicy PolicyDocument"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
OTHER_ROOT = f"arn:aws:iam::{OTHER_ACCOUNT}:root"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdministrator"
APP = f"arn:aws:iam::{ACCOUNT}:role/App"
PARTNER = f"arn:aws:iam::{OTHER_ACCOUNT}:role/PartnerReader"

KEY = key_info(KEY_ID, "keys", "AppKey", account=ACCOUNT, policy_size=1000)

#: kmsflow labels, as the review's principals carry them.
LABELS = {ADMIN: "key administrator", APP: "key user", PARTNER: "cross-account user", ROOT: "account root"}


# --- builders ----------------------------------------------------------------------------------------------------


def statement(sid: str | None, principal: Any, action: Any = "kms:Decrypt", **extra: Any) -> dict[str, Any]:
    """An Allow statement; ``principal`` is the whole Principal value (``"*"``, ``{"AWS": ...}``)."""
    found: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}
    if sid is not None:
        found["Sid"] = sid
    return found


def source(sid: str, via: Via = Via.KEY_POLICY) -> Source:
    return Source(policy=POLICY_SOURCE if via is Via.KEY_POLICY else IAM_SOURCE, sid=sid, via=via)


def condition(operator: str, key: str, *values: str) -> Condition:
    return Condition(operator=operator, key=key, values=tuple(sorted(values)))


def fact(
    principal: str, action: str, sid: str = "Users", *conditions: Condition, iam_sid: str | None = None
) -> AccessFact:
    """A fact from key-policy statement ``sid``; with ``iam_sid``, through IAM (``sid`` then delegates)."""
    if iam_sid is None:
        return AccessFact(
            principal=principal, action=action, conditions=conditions, via=Via.KEY_POLICY, sources=(source(sid),)
        )
    return AccessFact(
        principal=principal,
        action=action,
        conditions=conditions,
        via=Via.IAM,
        sources=(source(sid), source(iam_sid, Via.IAM)),
    )


def grant_creator(
    principal: str, sid: str = "Grants", *, grantees: tuple[str, ...] = (), for_aws_resource: bool = False
) -> GrantCreator:
    return GrantCreator(
        principal=principal,
        grantees=grantees,
        operations=(),
        for_aws_resource=for_aws_resource,
        retiring_principals=(),
        conditions=(),
        via=Via.KEY_POLICY,
        sources=(source(sid),),
    )


def principal_info(principal: str, label: str = "") -> PrincipalInfo:
    fields = principal.split(":")
    kind = "any" if principal == "*" else "root" if principal.endswith(":root") else "role"
    return PrincipalInfo(
        id=principal,
        kind=kind,
        account=fields[4] if len(fields) > 4 else None,
        label=label,
        in_assembly=False,
    )


def context(
    *,
    statements: Iterable[dict[str, Any]] = (),
    facts: Iterable[AccessFact] = (),
    grant_creators: Iterable[GrantCreator] = (),
    key: KeyInfo = KEY,
    labels: dict[str, str] | None = None,
) -> FindingContext:
    """A key's context; principals are those of the facts and grant creators, labelled from ``labels``."""
    facts, grant_creators = tuple(facts), tuple(grant_creators)
    known = {**LABELS, **(labels or {})}
    named = {f.principal for f in facts} | {g.principal for g in grant_creators}
    return FindingContext(
        key=key,
        policy={"Version": "2012-10-17", "Statement": list(statements)},
        policy_source=POLICY_SOURCE,
        facts=facts,
        grant_creators=grant_creators,
        principals={p: principal_info(p, known.get(p, "")) for p in sorted(named)},
        account=key.account,
    )


def summary(findings: Iterable[Finding]) -> list[tuple[str, Severity, str | None, str | None]]:
    """(id, severity, principal, source sid) of each finding, in order."""
    return [(f.id, f.severity, f.principal, f.source.sid if f.source else None) for f in findings]


# --- the registry -------------------------------------------------------------------------------------------------


def test_rules_are_listed_in_id_order_with_their_names_and_severities() -> None:
    assert [(rule.id, rule.name, rule.severity) for rule in all_rules()] == [
        ("KR01", "wildcard-principal", Severity.HIGH),
        ("KR02", "broad-grant", Severity.HIGH),
        ("KR03", "cross-account-unscoped", Severity.MEDIUM),
        ("KR04", "create-grant-unscoped", Severity.MEDIUM),
        ("KR05", "administrator-can-use", Severity.MEDIUM),
        ("KR06", "policy-change-and-use", Severity.HIGH),
        ("KR07", "policy-size", Severity.LOW),
        ("KR08", "rotation-off", Severity.MEDIUM),
        ("KR09", "short-deletion-window", Severity.LOW),
        ("KR10", "unusable-key", Severity.LOW),
    ]
    assert all(rule.title for rule in all_rules())


def test_a_rule_makes_findings_for_the_context_key() -> None:
    rule = Rule(id="KR99", name="example", severity=Severity.INFO, title="t", check=lambda _ctx: [])
    finding = rule.finding(context(), "said", principal=APP, source=source("Users"))
    assert finding == Finding(
        id="KR99",
        rule="example",
        severity=Severity.INFO,
        key=KEY_ID,
        message="said",
        principal=APP,
        source=source("Users"),
    )


def test_findings_are_sorted_by_severity_then_rule_then_principal() -> None:
    ctx = context(
        key=dataclasses.replace(KEY, rotation=False, deletion_window_days=7),
        statements=[statement("Open", "*", "kms:*")],
        facts=[fact(ROOT, "kms:Decrypt")],
    )
    assert summary(findings_for(ctx)) == [
        ("KR01", Severity.HIGH, "*", "Open"),
        ("KR02", Severity.HIGH, "*", "Open"),
        ("KR08", Severity.MEDIUM, None, None),
        ("KR09", Severity.LOW, None, None),
    ]


def test_a_clean_key_has_no_findings() -> None:
    ctx = context(
        statements=[statement("Root", {"AWS": ROOT}, "kms:*"), statement("Users", {"AWS": APP})],
        facts=[fact(ROOT, "kms:Decrypt", "Root"), fact(APP, "kms:Decrypt")],
    )
    assert findings_for(ctx) == ()


def test_the_default_app_has_no_findings(default_review: Review) -> None:
    assert [k.findings for k in default_review.keys] == [()] * 14


# --- shared helpers -----------------------------------------------------------------------------------------------

WANTED = frozenset({"aws:principalorgid"})


@pytest.mark.parametrize(
    ("operator", "values", "expected"),
    [
        ("StringEquals", ["o-abc"], True),
        ("StringLike", ["o-a*"], True),
        ("ForAnyValue:StringLike", ["o-a*"], True),
        ("StringEqualsIgnoreCase", ["O-ABC"], True),
        ("StringNotEquals", ["o-abc"], False),  # everyone but
        ("StringEqualsIfExists", ["o-abc"], False),  # holds for principals outside any organization
        ("ForAllValues:StringEquals", ["o-abc"], False),  # holds when the key is absent
        ("Null", ["false"], False),
        ("StringLike", ["*"], False),
        ("StringLike", ["o-abc", "*"], False),
        ("StringLike", ["?*"], False),
        ("StringEquals", [], False),
    ],
)
def test_a_condition_narrows_only_positively_and_without_a_bare_wildcard(
    operator: str, values: list[str], expected: bool
) -> None:
    assert narrows(operator, "aws:PrincipalOrgID", values, WANTED) is expected


def test_a_condition_on_another_key_does_not_narrow() -> None:
    assert narrows("StringEquals", "aws:SourceVpce", ["vpce-1"], WANTED) is False


def test_actions_match_fact_actions_and_patterns_case_insensitively() -> None:
    assert [covers(a, "kms:Decrypt") for a in ("kms:*", "KMS:decrypt", "kms:De*", "kms:Encrypt")] == [
        True,
        True,
        True,
        False,
    ]
    assert [is_crypto(a) for a in ("kms:ReEncrypt*", "kms:Sign", "kms:CreateGrant", "kms:DescribeKey")] == [
        True,
        True,
        False,
        False,
    ]
    assert usage_actions("GENERATE_VERIFY_MAC") == ("kms:GenerateMac", "kms:VerifyMac")
    assert len(usage_actions("unknown")) == 13


def test_account_of_reads_the_review_principals_roots_and_arns() -> None:
    ctx = context(facts=[fact(PARTNER, "kms:Decrypt")])
    assert [account_of(ctx, p) for p in (PARTNER, OTHER_ROOT, "444444444444", APP, "*", "s3.amazonaws.com")] == [
        OTHER_ACCOUNT,
        OTHER_ACCOUNT,
        "444444444444",
        ACCOUNT,
        None,
        None,
    ]


def test_the_source_of_a_fact_through_iam() -> None:
    sources = fact(APP, "kms:Decrypt", "EnableIam", iam_sid="AppDecrypt").sources
    assert (granting_source(context(), APP, sources), key_policy_source(sources)) == (
        source("AppDecrypt", Via.IAM),
        source("EnableIam"),
    )
    assert granting_source(context(), APP, ()) is None


def test_the_source_of_a_fact_that_two_key_policy_statements_allow_is_the_one_naming_the_principal() -> None:
    ctx = context(statements=[statement("Anyone", "*"), statement("Zapp", {"AWS": [ROOT, APP]})])
    sources = (source("Anyone"), source("Zapp"))
    assert (granting_source(ctx, APP, sources), granting_source(ctx, ADMIN, sources)) == (
        source("Zapp"),
        source("Anyone"),
    )


def test_odd_policy_shapes_have_no_allow_statements() -> None:
    for policy in ({"Statement": "text"}, {"Statement": [1, "x", {"Effect": "Deny"}]}, {}):
        ctx = dataclasses.replace(context(), policy=policy)
        assert list(allow_statements(ctx)) == []
    ctx = dataclasses.replace(context(), policy={"Statement": {"Effect": "Allow", "Principal": "*"}})
    assert [index for index, _ in allow_statements(ctx)] == [0]


def test_findings_of_a_hand_written_assembly_name_the_statements_the_facts_name(tmp_path: Path) -> None:
    """Through the whole review: the rules' statement names (Sid or ``#<index>``) are the access facts' own."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            statement("Root", {"AWS": ROOT}, "kms:*"),
            statement(None, "*", ["kms:Decrypt", "kms:PutKeyPolicy"]),
            {"Sid": "AllBut", "Effect": "Allow", "Principal": {"AWS": APP}, "NotAction": "kms:Sign", "Resource": "*"},
        ],
    }
    key = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy, "PendingWindowInDays": 7}}
    (tmp_path / "keys.template.json").write_text(json.dumps({"Resources": {"AppKey": key}}))
    artifact = {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://{ACCOUNT}/eu-west-1",
        "properties": {"templateFile": "keys.template.json"},
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {"keys": artifact}}))
    (reviewed,) = review_assembly(tmp_path).keys
    assert {source.sid for fact in reviewed.facts for source in fact.sources} == {"Root", "#1", "AllBut"}
    assert summary(reviewed.findings) == [
        ("KR01", Severity.HIGH, "*", "#1"),
        ("KR02", Severity.HIGH, APP, "AllBut"),
        ("KR06", Severity.HIGH, "*", "#1"),
        ("KR06", Severity.HIGH, APP, "AllBut"),  # the statement that names App, not the one for '*'
        ("KR04", Severity.MEDIUM, APP, "AllBut"),  # NotAction kms:Sign includes CreateGrant, unconditioned
        ("KR08", Severity.MEDIUM, None, None),  # EnableKeyRotation absent: off
        ("KR09", Severity.LOW, None, None),
    ]


def test_a_finding_two_grant_creators_give_alike_is_reported_once() -> None:
    first = grant_creator(APP, "AppGrants")
    second = dataclasses.replace(first, conditions=(condition("StringEquals", "aws:PrincipalTag/team", "a"),))
    ctx = context(facts=[fact(APP, "kms:Decrypt")], grant_creators=[first, second])
    assert summary(findings_for(ctx)) == [("KR04", Severity.MEDIUM, APP, "AppGrants")]
