"""diff_reviews: the difference between two reviews in access facts, on small reviews built by hand."""

from __future__ import annotations

import dataclasses
import random

import pytest

from kmsflow.review.diff import diff_reviews
from kmsflow.review.model import (
    AccessFact,
    Condition,
    ConditionChange,
    Cost,
    Finding,
    KeyFact,
    KeyInfo,
    KeyReview,
    Review,
    SettingChange,
    Severity,
    Source,
    Via,
    Way,
    to_data,
)

KEY = "arn:aws:kms:eu-west-1:111111111111:key/keys-AppKey"
OTHER_KEY = "arn:aws:kms:eu-west-1:111111111111:key/keys-LogsKey"
ROOT = "arn:aws:iam::111111111111:root"
ADMIN = "arn:aws:iam::111111111111:role/KeyAdministrator"
APP = "arn:aws:iam::111111111111:role/App"
PARTNER = "arn:aws:iam::333333333333:root"
POLICY = "keys/AppKey KeyPolicy"
RDS = "rds.eu-west-1.amazonaws.com"
EC2 = "ec2.eu-west-1.amazonaws.com"


# --- Building reviews by hand ---------------------------------------------------------------------------------


def key_info(key_id: str = KEY, **changes: object) -> KeyInfo:
    info = KeyInfo(
        id=key_id,
        stack="keys",
        logical_id=key_id.rsplit("-", 1)[-1],
        template="keys.template.json",
        resource_type="AWS::KMS::Key",
        account="111111111111",
        region="eu-west-1",
        description="",
        spec="SYMMETRIC_DEFAULT",
        usage="ENCRYPT_DECRYPT",
        origin="AWS_KMS",
        multi_region=False,
        primary=None,
        replicas=(),
        rotation=True,
        rotation_period_days=365,
        deletion_window_days=30,
        enabled=True,
        aliases=("alias/app",),
        policy_size=800,
        removal="Retain",
    )
    return dataclasses.replace(info, **changes)  # type: ignore[arg-type]


def cond(operator: str, key: str, *values: str) -> Condition:
    return Condition(operator=operator, key=key, values=tuple(sorted(values)))


def fact(
    principal: str,
    action: str,
    *conditions: Condition,
    sid: str = "Statement",
    via: Via = Via.KEY_POLICY,
    unless: tuple[Source, ...] = (),
) -> AccessFact:
    return AccessFact(
        principal=principal,
        action=action,
        conditions=tuple(sorted(conditions)),
        via=via,
        sources=(Source(policy=POLICY, sid=sid, via=via),),
        unless=unless,
    )


def way(*conditions: Condition, unless: tuple[Source, ...] = ()) -> Way:
    return Way(conditions=tuple(sorted(conditions)), unless=tuple(sorted(unless)))


def finding(rule_id: str, rule: str, key: str = KEY, severity: Severity = Severity.MEDIUM) -> Finding:
    return Finding(id=rule_id, rule=rule, severity=severity, key=key, message=f"{rule} on {key}")


COST = Cost(lines=(), monthly_usd="1.00", steady_state_monthly_usd="1.00", note="estimate")


def key_review(
    info: KeyInfo | None = None, facts: tuple[AccessFact, ...] = (), findings: tuple[Finding, ...] = ()
) -> KeyReview:
    return KeyReview(key=info or key_info(), facts=facts, grant_creators=(), findings=findings, cost=COST)


def review(*keys: KeyReview) -> Review:
    return Review(source="cdk.out", keys=keys, principals=(), unknowns=())


ADMIN_FACTS = (
    fact(ADMIN, "kms:PutKeyPolicy", sid="KeyAdministrators"),
    fact(ADMIN, "kms:ScheduleKeyDeletion", sid="KeyAdministrators"),
)
ROOT_FACT = fact(ROOT, "kms:PutKeyPolicy", sid="RootAccountAdministration")
APP_FACT = fact(APP, "kms:Decrypt", cond("StringEquals", "kms:ViaService", RDS), sid="Users")
BASE = review(key_review(facts=(ROOT_FACT, *ADMIN_FACTS, APP_FACT)))


def with_facts(*facts: AccessFact, info: KeyInfo | None = None, findings: tuple[Finding, ...] = ()) -> Review:
    return review(key_review(info, facts, findings))


# --- Gained and lost facts ------------------------------------------------------------------------------------


def test_identical_reviews_give_an_empty_diff() -> None:
    result = diff_reviews(BASE, BASE, baseline_source="baseline.out")

    assert result.empty
    assert result.baseline == "baseline.out"


def test_a_cross_account_principal_added_gives_exactly_its_facts_as_gained() -> None:
    caller = cond("StringEquals", "kms:CallerAccount", "333333333333")
    decrypt = fact(PARTNER, "kms:Decrypt", caller, sid="CrossAccountPartnerUse")
    encrypt = fact(PARTNER, "kms:Encrypt", caller, sid="CrossAccountPartnerUse")
    after = with_facts(ROOT_FACT, *ADMIN_FACTS, APP_FACT, encrypt, decrypt)

    result = diff_reviews(BASE, after, baseline_source="baseline.out")

    assert result.gained == (KeyFact(key=KEY, fact=decrypt), KeyFact(key=KEY, fact=encrypt))
    assert (result.lost, result.conditions, result.settings, result.keys_added) == ((), (), (), ())


def test_an_administrator_dropped_gives_its_facts_as_lost() -> None:
    after = with_facts(ROOT_FACT, APP_FACT)

    result = diff_reviews(BASE, after, baseline_source="baseline.out")

    assert result.lost == tuple(KeyFact(key=KEY, fact=f) for f in ADMIN_FACTS)
    assert (result.gained, result.conditions, result.settings) == ((), (), ())


def test_a_fact_still_allowed_by_another_statement_is_not_lost() -> None:
    """The administrator's permissions move from the key policy to an IAM policy, same conditions."""
    moved = tuple(
        dataclasses.replace(f, via=Via.IAM, sources=(Source(policy="iam", sid="Admin", via=Via.IAM),))
        for f in ADMIN_FACTS
    )
    after = with_facts(ROOT_FACT, *moved, APP_FACT)

    assert diff_reviews(BASE, after, baseline_source="b").empty


def test_a_second_statement_allowing_a_lost_principal_keeps_all_its_facts_listed() -> None:
    before = with_facts(APP_FACT, fact(APP, "kms:Decrypt", sid="Other"))

    result = diff_reviews(before, with_facts(), baseline_source="b")

    assert [kf.fact.sources[0].sid for kf in result.lost] == ["Other", "Users"]


# --- Settings and findings ------------------------------------------------------------------------------------


def test_rotation_turned_off_gives_one_setting_change_and_the_new_finding() -> None:
    no_rotation = finding("KR10", "no-rotation")
    after = with_facts(ROOT_FACT, *ADMIN_FACTS, APP_FACT, info=key_info(rotation=False), findings=(no_rotation,))

    result = diff_reviews(BASE, after, baseline_source="b")

    assert result.settings == (SettingChange(key=KEY, setting="rotation", before="True", after="False"),)
    assert result.findings_new == (no_rotation,)
    assert (result.findings_resolved, result.gained, result.lost, result.conditions) == ((), (), (), ())


def test_settings_are_listed_in_field_order_as_text() -> None:
    before = review(key_review(key_info(aliases=("alias/a", "alias/b"))))
    after = review(key_review(key_info(deletion_window_days=7, aliases=("alias/a",), policy_size=99, rotation=None)))

    result = diff_reviews(before, after, baseline_source="b")

    assert result.settings == (
        SettingChange(key=KEY, setting="rotation", before="True", after="None"),
        SettingChange(key=KEY, setting="deletion_window_days", before="30", after="7"),
        SettingChange(key=KEY, setting="aliases", before="alias/a, alias/b", after="alias/a"),
    )


def test_findings_match_by_identity_not_message_and_sort_by_severity() -> None:
    reworded = dataclasses.replace(finding("KR01", "wildcard-principal", severity=Severity.HIGH), message="new words")
    before = with_facts(findings=(finding("KR01", "wildcard-principal", severity=Severity.HIGH), finding("KR08", "x")))
    low = finding("KR11", "short-window", severity=Severity.LOW)
    high = finding("KR03", "cross-account", severity=Severity.HIGH)
    after = with_facts(findings=(low, reworded, high))

    result = diff_reviews(before, after, baseline_source="b")

    assert result.findings_new == (high, low)
    assert result.findings_resolved == (finding("KR08", "x"),)


def test_a_key_added_or_removed_is_listed_alone_and_its_findings_count() -> None:
    added_finding = finding("KR10", "no-rotation", key=OTHER_KEY)
    other = key_review(key_info(OTHER_KEY), facts=(fact(ROOT, "kms:*"),), findings=(added_finding,))
    after = review(other)

    result = diff_reviews(BASE, after, baseline_source="b")

    assert (result.keys_added, result.keys_removed) == ((OTHER_KEY,), (KEY,))
    assert (result.gained, result.lost, result.conditions, result.settings) == ((), (), (), ())
    assert result.findings_new == (added_finding,)


# --- Conditions -----------------------------------------------------------------------------------------------

VIA_BOTH = cond("StringEquals", "kms:ViaService", RDS, EC2)
VIA_RDS = cond("StringEquals", "kms:ViaService", RDS)
CALLER = cond("StringEquals", "kms:CallerAccount", "111111111111")
DENY = Source(policy=POLICY, sid="DenyOutsideOrg", via=Via.KEY_POLICY)

NARROWINGS = {
    "StringEquals values {a, b} -> {a}": ((VIA_BOTH,), (VIA_RDS,)),
    "kms:ViaService added": ((), (VIA_RDS,)),
    "a condition added to one": ((CALLER,), (CALLER, VIA_RDS)),
    "StringLike * -> rds.*": (
        (cond("StringLike", "kms:ViaService", "*"),),
        (cond("StringLike", "kms:ViaService", "rds.*"),),
    ),
    "StringLike -> StringEquals a value it matches": (
        (cond("StringLike", "kms:ViaService", "rds.*"),),
        (cond("StringEquals", "kms:viaservice", RDS),),  # context keys compare case-insensitively
    ),
    "StringLike a* -> a?": ((cond("StringLike", "k:x", "a*"),), (cond("StringLike", "k:x", "a?"),)),
    "ArnLike role/* -> role/App*": (
        (cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::111111111111:role/*"),),
        (cond("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::111111111111:role/App*"),),
    ),
    "StringEqualsIfExists -> StringEquals": (
        (cond("StringEqualsIfExists", "k:x", "a"),),
        (cond("StringEquals", "k:x", "a"),),
    ),
    "StringNotEquals excludes more": (
        (cond("StringNotEquals", "k:x", "a"),),
        (cond("StringNotEquals", "k:x", "a", "b"),),
    ),
    "StringNotEquals -> StringNotLike a pattern covering it": (
        (cond("StringNotEquals", "k:x", "ab"),),
        (cond("StringNotLike", "k:x", "a*"),),
    ),
    "ForAllValues:StringEquals fewer values": (
        (cond("ForAllValues:StringEquals", "kms:GrantOperations", "Decrypt", "Encrypt"),),
        (cond("ForAllValues:StringEquals", "kms:GrantOperations", "Decrypt"),),
    ),
    "IpAddress /16 -> /24": (
        (cond("IpAddress", "aws:SourceIp", "10.0.0.0/16"),),
        (cond("IpAddress", "aws:SourceIp", "10.0.3.0/24"),),
    ),
    "Bool [true, false] -> true": ((cond("Bool", "k:b", "true", "false"),), (cond("Bool", "k:b", "TRUE"),)),
}


@pytest.mark.parametrize(("before", "after"), NARROWINGS.values(), ids=NARROWINGS.keys())
def test_a_narrowed_condition_reads_as_narrowed(before: tuple[Condition, ...], after: tuple[Condition, ...]) -> None:
    result = diff_reviews(
        with_facts(fact(APP, "kms:Decrypt", *before)), with_facts(fact(APP, "kms:Decrypt", *after)), baseline_source="b"
    )

    assert result.conditions == (
        ConditionChange(
            key=KEY,
            principal=APP,
            action="kms:Decrypt",
            change="narrowed",
            before=(way(*before),),
            after=(way(*after),),
        ),
    )
    assert (result.gained, result.lost) == ((), ())


@pytest.mark.parametrize(("after", "before"), NARROWINGS.values(), ids=NARROWINGS.keys())
def test_the_reverse_reads_as_widened(before: tuple[Condition, ...], after: tuple[Condition, ...]) -> None:
    result = diff_reviews(
        with_facts(fact(APP, "kms:Decrypt", *before)), with_facts(fact(APP, "kms:Decrypt", *after)), baseline_source="b"
    )

    assert [(c.change, c.before, c.after) for c in result.conditions] == [("widened", (way(*before),), (way(*after),))]


INCOMPARABLE = {
    "other values": ((VIA_RDS,), (cond("StringEquals", "kms:ViaService", EC2),)),
    "other key": ((VIA_RDS,), (CALLER,)),
    "one added, one removed": ((CALLER,), (VIA_RDS,)),
    "overlapping patterns": ((cond("StringLike", "k:x", "rds.*"),), (cond("StringLike", "k:x", "*.eu-west-1"),)),
    "a? does not cover a*": ((cond("StringLike", "k:x", "a?", "b"),), (cond("StringLike", "k:x", "a*"),)),
    "a pattern is not a literal": ((cond("StringEquals", "k:x", "a*", "q"),), (cond("StringLike", "k:x", "a*", "z"),)),
    "negated vs positive": ((cond("StringNotEquals", "k:x", "a"),), (cond("StringEquals", "k:x", "b"),)),
    "other quantifier": (
        (cond("ForAnyValue:StringEquals", "k:x", "a", "b"),),
        (cond("ForAllValues:StringEquals", "k:x", "a"),),
    ),
    "IfExists added to a narrower value": (
        (cond("StringEquals", "k:x", "a", "b"),),
        (cond("StringEqualsIfExists", "k:x", "a"),),
    ),
    "unknown operator": ((cond("StringEquals", "k:x", "a"),), (cond("Strange", "k:x", "a"),)),
    "numbers compared by value only": ((cond("NumericLessThan", "k:n", "10"),), (cond("NumericLessThan", "k:n", "5"),)),
    "a string literal in an ARN operator": (
        (cond("ArnLike", "k:x", "arn:*"),),
        (cond("StringEquals", "k:x", "arn:aws"),),
    ),
}


@pytest.mark.parametrize(("before", "after"), INCOMPARABLE.values(), ids=INCOMPARABLE.keys())
def test_incomparable_conditions_read_as_changed(before: tuple[Condition, ...], after: tuple[Condition, ...]) -> None:
    for first, second in ((before, after), (after, before)):
        result = diff_reviews(
            with_facts(fact(APP, "kms:Decrypt", *first)),
            with_facts(fact(APP, "kms:Decrypt", *second)),
            baseline_source="b",
        )

        assert [(c.change, c.before, c.after) for c in result.conditions] == [
            ("changed", (way(*first),), (way(*second),))
        ]


def test_conditions_written_differently_with_the_same_meaning_are_no_change() -> None:
    before = with_facts(fact(APP, "kms:Decrypt", cond("StringEquals", "kms:ViaService", RDS)))
    after = with_facts(fact(APP, "kms:Decrypt", cond("StringLike", "KMS:ViaService", RDS)))

    assert diff_reviews(before, after, baseline_source="b").empty


def test_a_conditional_deny_added_narrows_and_removed_widens() -> None:
    plain = with_facts(fact(APP, "kms:Decrypt", VIA_RDS))
    denied = with_facts(fact(APP, "kms:Decrypt", VIA_RDS, unless=(DENY,)))

    narrowed = diff_reviews(plain, denied, baseline_source="b").conditions
    widened = diff_reviews(denied, plain, baseline_source="b").conditions

    assert [(c.change, c.before, c.after) for c in narrowed] == [
        ("narrowed", (way(VIA_RDS),), (way(VIA_RDS, unless=(DENY,)),))
    ]
    assert [(c.change, c.before, c.after) for c in widened] == [
        ("widened", (way(VIA_RDS, unless=(DENY,)),), (way(VIA_RDS),))
    ]


def test_only_the_unless_changing_reads_as_narrowed_with_ways_differing_only_in_unless() -> None:
    """A second undecided Deny statement: the same conditions, one more way to be excluded."""
    other_deny = Source(policy="keys/App/DefaultPolicy", sid="DenyNetwork", via=Via.IAM)
    before = with_facts(fact(APP, "kms:Decrypt", VIA_RDS, CALLER, unless=(DENY,)))
    after = with_facts(fact(APP, "kms:Decrypt", VIA_RDS, CALLER, unless=(DENY, other_deny)))

    assert diff_reviews(before, after, baseline_source="b").conditions == (
        ConditionChange(
            key=KEY,
            principal=APP,
            action="kms:Decrypt",
            change="narrowed",
            before=(way(CALLER, VIA_RDS, unless=(DENY,)),),
            after=(way(CALLER, VIA_RDS, unless=(DENY, other_deny)),),
        ),
    )


def test_several_ways_are_an_or_each_way_within_some_way_of_the_other() -> None:
    """Before: via RDS (key policy) or unconditionally (IAM). After: via RDS only, the IAM way gone."""
    iam = dataclasses.replace(fact(APP, "kms:Decrypt"), via=Via.IAM)
    before = with_facts(fact(APP, "kms:Decrypt", VIA_RDS), iam)
    after = with_facts(fact(APP, "kms:Decrypt", VIA_RDS))

    assert diff_reviews(before, after, baseline_source="b").conditions == (
        ConditionChange(
            key=KEY,
            principal=APP,
            action="kms:Decrypt",
            change="narrowed",
            before=(way(), way(VIA_RDS)),
            after=(way(VIA_RDS),),
        ),
    )
    # A way added that an existing way already covers admits nothing new.
    covered = with_facts(fact(APP, "kms:Decrypt", VIA_RDS), iam, fact(APP, "kms:Decrypt", CALLER))
    assert diff_reviews(before, covered, baseline_source="b").empty


def test_one_of_two_ways_narrowing_lists_every_way_of_both_sides() -> None:
    """Via RDS or EC2 (key policy) or from the own account (IAM); then via RDS only, the IAM way unchanged: the
    unchanged way is listed on both sides, the ways stay two alternatives, not one set of conditions."""
    iam = dataclasses.replace(fact(APP, "kms:Decrypt", CALLER), via=Via.IAM)
    before = with_facts(fact(APP, "kms:Decrypt", VIA_BOTH, sid="Users"), iam)
    after = with_facts(fact(APP, "kms:Decrypt", VIA_RDS, sid="Users"), iam)

    result = diff_reviews(before, after, baseline_source="b")

    assert result.conditions == (
        ConditionChange(
            key=KEY,
            principal=APP,
            action="kms:Decrypt",
            change="narrowed",
            before=(way(CALLER), way(VIA_BOTH)),
            after=(way(CALLER), way(VIA_RDS)),
        ),
    )
    assert diff_reviews(after, before, baseline_source="b").conditions == (
        dataclasses.replace(
            result.conditions[0],
            change="widened",
            before=(way(CALLER), way(VIA_RDS)),
            after=(way(CALLER), way(VIA_BOTH)),
        ),
    )


# --- Determinism ----------------------------------------------------------------------------------------------


def _shuffled(source: Review, seed: int) -> Review:
    rng = random.Random(seed)
    keys = []
    for key in source.keys:
        facts, findings = list(key.facts), list(key.findings)
        rng.shuffle(facts)
        rng.shuffle(findings)
        keys.append(dataclasses.replace(key, facts=tuple(facts), findings=tuple(findings)))
    rng.shuffle(keys)
    return dataclasses.replace(source, keys=tuple(keys))


def test_the_same_inputs_give_the_same_diff_whatever_their_order() -> None:
    caller = cond("StringEquals", "kms:CallerAccount", "333333333333")
    before = review(
        key_review(facts=(ROOT_FACT, *ADMIN_FACTS, APP_FACT), findings=(finding("KR08", "a"), finding("KR09", "b"))),
        key_review(key_info(OTHER_KEY), facts=(fact(ROOT, "kms:*"), fact(APP, "kms:Encrypt", VIA_BOTH))),
    )
    after = review(
        key_review(
            key_info(rotation=False),
            facts=(
                ROOT_FACT,
                APP_FACT,
                *(fact(PARTNER, a, caller) for a in ("kms:Decrypt", "kms:Encrypt", "kms:Sign")),
            ),
            findings=(finding("KR10", "c"), finding("KR01", "d", severity=Severity.HIGH), finding("KR08", "a")),
        ),
        key_review(key_info(OTHER_KEY), facts=(fact(ROOT, "kms:*"), fact(APP, "kms:Encrypt", VIA_RDS))),
    )

    first = diff_reviews(before, after, baseline_source="b")
    assert first == diff_reviews(before, after, baseline_source="b")
    assert (len(first.gained), len(first.lost), len(first.conditions), len(first.settings)) == (3, 2, 1, 1)
    assert [f.id for f in first.findings_new] == ["KR01", "KR10"]
    for seed in range(5):
        shuffled = diff_reviews(_shuffled(before, seed), _shuffled(after, seed + 100), baseline_source="b")
        assert to_data(shuffled) == to_data(first)
