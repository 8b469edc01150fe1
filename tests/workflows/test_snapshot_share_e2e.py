"""The synthesized snapshot-share state machine, executed end to end on the two-account harness.

Each run starts from the default configuration's templates (``kmsflow-workflows-workloads-primary`` and the two
``kmsflow-share-target-partner-*`` stacks), every step acting as its own role (tests/workflows/share_world.py).
After every run, successful or not, the same three things are checked: nothing of the source account is shared
with the target, no grant is left on the sharing key, and no temporary snapshot is left in either account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflows.share_world import (
    FAMILY,
    KINDS,
    SOURCE,
    SOURCE_REGION,
    TARGET,
    TARGET_REGION,
    ShareWorld,
    live_grants,
    make_source,
    share_world,
    shares_for_target,
    snapshots,
)


@pytest.fixture
def world(default_templates: dict[str, dict[str, Any]]) -> Iterator[ShareWorld]:
    with share_world(default_templates) as w:
        yield w


def assert_nothing_left(world: ShareWorld, family: str, *, job_id: str | None = None) -> None:
    """No share for the target, no grant on the sharing key, no temporary (``-share``/``-hop``) snapshot anywhere."""
    assert shares_for_target(world, family) == []
    assert live_grants(world) == []
    for account in (SOURCE, TARGET):
        for region in (SOURCE_REGION, TARGET_REGION):
            names = [s["tags"].get("Name", s["id"]) for s in snapshots(world, account, family, region)]
            assert not [n for n in names if n.endswith(("-share", "-hop"))], (account, region, names)


def target_copy(world: ShareWorld, result: Any) -> dict[str, Any]:
    """The target account's snapshot named by the output (it must exist, under the output's key)."""
    family = FAMILY[result.output["source"]["kind"]]
    target = result.output["target"]
    (copy,) = [s for s in snapshots(world, TARGET, family, target["region"]) if s["id"] == target["snapshot_id"]]
    return copy


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_reaches_the_target_account_under_its_key_and_nothing_stays_open(
    world: ShareWorld, kind: str
) -> None:
    result = world.run(world.document(kind, make_source(world, kind), tags={"team": "orders"}))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    copy = target_copy(world, result)
    assert copy["key"] == world.target_keys[TARGET_REGION]
    assert copy["status"] in ("available", "completed")
    assert copy["tags"]["team"] == "orders"
    assert copy["tags"]["kmsflow:source-account"] == SOURCE
    assert copy["tags"]["kmsflow:source-arn"] == result.output["source"]["snapshot_arn"]
    assert copy["tags"]["kmsflow:target-key"] == world.target_keys[TARGET_REGION]
    revoked = result.output["revoked"]
    assert len(revoked["grants"]) == 1
    assert len(revoked["unshared"]) == 1
    assert_nothing_left(world, FAMILY[kind])
    # The grant was for the target's copy role only, with the family's operations and the revoke role retiring it.
    (created,) = [e for e in world.h.sharing.grants_created if e["Name"] == f"kmsflow-{result.output['job_id']}"]
    assert (
        created["GranteePrincipal"]
        == f"arn:aws:iam::{TARGET}:role/kmsflow-share-{SOURCE}-{SOURCE_REGION}-{TARGET_REGION}"
    )
    assert created["RetiringPrincipal"] == f"arn:aws:iam::{SOURCE}:role/kmsflow-snapshot-share-{SOURCE_REGION}-revoke"


@pytest.mark.parametrize("kind", ["rds-snapshot", "aurora-cluster-snapshot", "ebs-snapshot"])
def test_a_snapshot_under_an_aws_managed_key_is_re_encrypted_under_the_sharing_key_first(
    world: ShareWorld, kind: str
) -> None:
    """Acceptance: an alias/aws/rds (or aws/ebs) snapshot, which AWS refuses to share, arrives in the target account."""
    source = make_source(world, kind, encryption="aws-managed")
    result = world.run(world.document(kind, source))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["shared"]["temporary"] is True
    assert result.output["shared"]["kms_key_id"].endswith(world.sharing_key.rsplit("/", 1)[1])
    assert target_copy(world, result)["key"] == world.target_keys[TARGET_REGION]
    assert result.output["source"]["kms_key_id"] != result.output["shared"]["kms_key_id"]
    assert_nothing_left(world, FAMILY[kind])
    # The user's own snapshot is still there and was never shared.
    ids = [s["id"] for s in snapshots(world, SOURCE, FAMILY[kind], SOURCE_REGION)]
    assert source in ids


@pytest.mark.parametrize("kind", ["rds-snapshot", "ebs-snapshot"])
def test_an_unencrypted_source_is_shared_as_it_is_and_encrypted_by_the_target_copy(
    world: ShareWorld, kind: str
) -> None:
    result = world.run(world.document(kind, make_source(world, kind, encryption="none")))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert (result.output["shared"]["temporary"], result.output["revoked"]["grants"]) == (False, [])
    assert target_copy(world, result)["key"] == world.target_keys[TARGET_REGION]
    assert_nothing_left(world, FAMILY[kind])


def test_an_unencrypted_aurora_source_is_refused_before_anything_is_opened(world: ShareWorld) -> None:
    result = world.run(world.document("aurora-cluster", make_source(world, "aurora-cluster", encryption="none")))
    assert (result.status, result.error) == ("FAILED", "UnencryptedSourceNotSupported")
    assert "OpenAccess" not in result.state_counts
    assert_nothing_left(world, "aurora")


@pytest.mark.parametrize(("family", "hops"), [("rds", 2), ("aurora", 2), ("ebs", 1)])
def test_cross_region_shares_take_two_hops_where_aws_needs_them(world: ShareWorld, family: str, hops: int) -> None:
    kind = {"rds": "rds-snapshot", "aurora": "aurora-cluster-snapshot", "ebs": "ebs-snapshot"}[family]
    result = world.run(world.document(kind, make_source(world, kind)))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    made = result.output["target"]["hops"]
    assert [hop["region"] for hop in made] == ([SOURCE_REGION, TARGET_REGION] if hops == 2 else [TARGET_REGION])
    if hops == 2:  # the first hop was encrypted under the target key's replica in the source region, then deleted
        assert made[0]["kms_key_id"] == world.target_keys[SOURCE_REGION]
        assert made[0]["snapshot_id"] not in [s["id"] for s in snapshots(world, TARGET, family, SOURCE_REGION)]
    assert made[-1]["kms_key_id"] == world.target_keys[TARGET_REGION]
    assert_nothing_left(world, family)


def test_a_share_within_the_source_region_takes_one_hop(world: ShareWorld) -> None:
    doc = world.document("rds-snapshot", make_source(world, "rds-snapshot"), region=SOURCE_REGION)
    result = world.run(doc)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [hop["region"] for hop in result.output["target"]["hops"]] == [SOURCE_REGION]
    assert target_copy(world, result)["key"] == world.target_keys[SOURCE_REGION]


# --- Refusals before and after access is opened ---------------------------------------------------------------


def test_an_undeclared_target_account_is_refused_at_validation(world: ShareWorld) -> None:
    other = "444444444444"
    key = f"arn:aws:kms:{TARGET_REGION}:{other}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    doc = world.document("ebs-snapshot", make_source(world, "ebs-snapshot"), key=key)
    doc["target"]["account"] = other
    result = world.run(doc)
    assert (result.status, result.error) == ("FAILED", "TargetNotDeclared")
    assert f"target.account {other} is not a declared target" in result.cause
    assert result.state_counts.get("PrepareSource") is None


@pytest.mark.parametrize("problem", ["missing", "disabled", "not-symmetric"])
def test_target_key_problems_fail_and_revoke(world: ShareWorld, problem: str) -> None:
    kms = world.client(TARGET, "kms", TARGET_REGION)
    if problem == "missing":
        key = f"arn:aws:kms:{TARGET_REGION}:{TARGET}:key/00000000-0000-4000-8000-000000000000"
    elif problem == "disabled":
        metadata = kms.create_key(Description="off")["KeyMetadata"]
        kms.disable_key(KeyId=metadata["KeyId"])  # moto looks the id up as given: no ARN
        key = metadata["Arn"]
    else:  # a key of another region is refused at validation (next test); KMS metadata gives one more refusal
        key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    result = world.run(world.document("rds-snapshot", make_source(world, "rds-snapshot"), key=key))
    assert (result.status, result.error) == ("FAILED", "TargetKeyNotUsable"), result.cause
    assert "Revoked: grants:" in result.cause
    assert_nothing_left(world, "rds")


def test_a_key_of_another_region_is_refused_at_validation(world: ShareWorld) -> None:
    doc = world.document("rds-snapshot", make_source(world, "rds-snapshot"), key=world.target_keys[SOURCE_REGION])
    result = world.run(doc)
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert "target.kms_key_id" in result.cause


def test_a_target_role_that_does_not_trust_the_source_is_refused_and_access_revoked(world: ShareWorld) -> None:
    iam = world.client(TARGET, "iam")
    role = f"kmsflow-share-{SOURCE}-{SOURCE_REGION}-{TARGET_REGION}"
    other_step = f"arn:aws:iam::{SOURCE}:role/kmsflow-snapshot-share-{SOURCE_REGION}-open-access"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": other_step}},
            }
        ],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    result = world.run(world.document("ebs-snapshot", make_source(world, "ebs-snapshot")))
    assert (result.status, result.error) == ("FAILED", "TargetRoleNotAssumable"), result.cause
    assert_nothing_left(world, "ebs")


def test_the_wrong_external_id_is_refused(world: ShareWorld) -> None:
    iam = world.client(TARGET, "iam")
    role = f"kmsflow-share-{SOURCE}-{SOURCE_REGION}-{TARGET_REGION}"
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = "someone-else"
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    result = world.run(world.document("ebs-snapshot", make_source(world, "ebs-snapshot")))
    assert (result.status, result.error) == ("FAILED", "TargetRoleNotAssumable"), result.cause


# --- Failures after access is opened ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "handler", "service", "operation"),
    [
        # After the grant, before the share: the share call fails.
        ("rds-snapshot", "open_access", "rds", "ModifyDBSnapshotAttribute"),
        ("ebs-snapshot", "open_access", "ec2", "ModifySnapshotAttribute"),
        # After the share: the target's first call fails.
        ("aurora-cluster-snapshot", "target_copy", "kms", "DescribeKey"),
        # During the target copy: its check fails once the copy was started.
        ("rds-snapshot", "target_copy", "rds", "DescribeDBSnapshots"),
    ],
    ids=["after-grant-rds", "after-grant-ebs", "after-share", "during-copy"],
)
def test_a_failure_after_access_was_opened_revokes_everything(
    world: ShareWorld, kind: str, handler: str, service: str, operation: str
) -> None:
    source = make_source(world, kind)
    # During the copy: the first target call describes (nothing found) and starts the copy; the next call's
    # describe fails, once (the clean-up, in the same function, describes again). Elsewhere every matching call fails.
    during = operation == "DescribeDBSnapshots"
    world.h.faults.add(
        "InvalidParameterCombination",
        service=service,
        operation=operation,
        handler=handler,
        skip=1 if during else 0,
        times=1 if during else None,
    )
    result = world.run(world.document(kind, source))
    assert result.status == "FAILED"
    assert "Revoked:" in result.cause, result.cause
    assert "ACCESS MAY REMAIN" not in result.cause, result.cause
    assert_nothing_left(world, FAMILY[kind])


def test_a_grant_that_never_becomes_usable_fails_the_ebs_copy_and_removes_it(world: ShareWorld) -> None:
    """EBS accepts the copy and fails it ("Given key ID is not accessible"); the step deletes that copy and comes
    back after the next wait; when the grant never works the execution fails with nothing left in either account."""
    world.h.sharing.grant_delay_seconds = 10 * 24 * 3600
    result = world.run(world.document("ebs-snapshot", make_source(world, "ebs-snapshot")))
    assert (result.status, result.error) == ("FAILED", "SharedKeyNotUsable"), result.cause
    assert "refused 7 times" in result.cause
    assert result.virtual_seconds < 3 * 3600
    assert snapshots(world, TARGET, "ebs", TARGET_REGION) == []
    assert_nothing_left(world, "ebs")


@pytest.mark.parametrize("kind", ["rds-snapshot", "ebs-snapshot"])
def test_a_grant_that_propagates_slowly_is_waited_for_not_slept_on(world: ShareWorld, kind: str) -> None:
    world.h.sharing.grant_delay_seconds = 100
    result = world.run(world.document(kind, make_source(world, kind)))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    # Refused at 0 s, then 30 s and 90 s after the grant; usable at the next try (the waits double from 30 s).
    assert result.state_counts["TargetCopy"] >= 4
    assert_nothing_left(world, FAMILY[kind])


# --- Reruns, throttling ------------------------------------------------------------------------------------------


def test_a_rerun_after_success_makes_no_second_copy_and_leaves_nothing_open(world: ShareWorld) -> None:
    doc = world.document("rds-instance", make_source(world, "rds-instance"))
    first, second = world.run(doc), world.run(doc)
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), second.cause
    assert first.output["target"]["snapshot_id"] == second.output["target"]["snapshot_id"]
    finals = [s for s in snapshots(world, TARGET, "rds", TARGET_REGION) if s["id"].startswith("kmsflow-")]
    assert len(finals) == 1
    assert_nothing_left(world, "rds")


def test_a_rerun_after_a_failure_that_could_not_revoke_removes_what_it_left(world: ShareWorld) -> None:
    """An execution stopped between the share and the copy and its revocation failed too (the state a crash or
    an abort leaves): the snapshot stays shared and the grant live, and the cause says so. The same input again
    finishes the copy and removes both: the rerun finds the grant by its name and the share by the account.
    (A snapshot under the sharing key is shared as it is: a temporary copy would be deleted, share and all.)"""
    doc = world.document("ebs-snapshot", make_source(world, "ebs-snapshot", encryption="sharing"))
    world.h.faults.add("InvalidParameterCombination", service="sts", operation="AssumeRole", handler="target_copy")
    world.h.faults.add(
        "InternalError", service="ec2", operation="ModifySnapshotAttribute", handler="revoke", status=400
    )
    world.h.faults.add("InternalError", service="kms", operation="RetireGrant", handler="revoke", status=400)
    crashed = world.run(doc)
    assert (crashed.status, crashed.error) == ("FAILED", "AwsCallFailed")
    assert "ACCESS MAY REMAIN: revoking access failed with RevocationIncomplete" in crashed.cause
    assert len(live_grants(world)) == 1
    assert len(shares_for_target(world, "ebs")) == 1
    world.h.faults.clear()
    result = world.run(doc)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert_nothing_left(world, "ebs")


def test_30_percent_throttling_still_shares_and_revokes(world: ShareWorld) -> None:
    world.h.faults.throttle(0.3)
    result = world.run(world.document("aurora-cluster", make_source(world, "aurora-cluster")))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert world.h.faults.injected
    assert_nothing_left(world, "aurora")
