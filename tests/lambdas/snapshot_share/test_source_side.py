"""The share's source-account steps against moto: what is made shareable, the grant and the share that open
access for one target role, and the revocation that removes all of it (also what a crashed run left)."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.lambdas.errors import ShareQuotaExceeded, SharingKeyMissing
from kmsflow.lambdas.snapshot_share import grants, handlers
from kmsflow.lambdas.snapshot_share.job import ShareJob
from tests.lambdas.snapshot_copy.helpers import (
    DESTINATION_REGION,
    SOURCE_REGION,
    World,
    client,
    execution,
    make_source,
    manual_snapshots,
    snapshot_id_of,
)
from tests.lambdas.snapshot_share.conftest import RETIRING_ROLE, TARGET_ACCOUNT, TARGET_ROLES

FAMILY = {"rds-snapshot": "rds", "aurora-cluster-snapshot": "aurora", "ebs-snapshot": "ebs"}
TARGET_KEY = f"arn:aws:kms:{DESTINATION_REGION}:{TARGET_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def world(key: str) -> World:
    return World(source_key=key, destination_key="", destination_alias="")


def shareable(kind: str, source_key: str, *, encrypted: bool = True) -> ShareJob:
    source = make_source(world(source_key), kind, encrypted=encrypted)
    doc = {
        "source": {"kind": kind, "id": source, "region": SOURCE_REGION},
        "target": {"account": TARGET_ACCOUNT, "region": DESTINATION_REGION, "kms_key_id": TARGET_KEY},
    }
    job = handlers.validate({"input": doc, "execution": execution()}, None)
    job = handlers.prepare_source(job, None)
    job = handlers.check_source(job, None)
    job = handlers.prepare_shareable(job, None)
    return handlers.check_shareable(job, None)


def grants_on(key: str) -> list[dict[str, Any]]:
    return list(client("kms", SOURCE_REGION).list_grants(KeyId=key)["Grants"])


def restore_values(family: str, snapshot_id: str) -> list[str]:
    rds = client("rds", SOURCE_REGION)
    if family == "rds":
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot_id)["DBSnapshotAttributesResult"]
        attributes = result["DBSnapshotAttributes"]
    elif family == "aurora":
        result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=snapshot_id)
        attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    else:
        permissions = client("ec2", SOURCE_REGION).describe_snapshot_attribute(
            SnapshotId=snapshot_id, Attribute="createVolumePermission"
        )["CreateVolumePermissions"]
        return [p["UserId"] for p in permissions]
    return [v for a in attributes if a["AttributeName"] == "restore" for v in a["AttributeValues"]]


@pytest.mark.parametrize("kind", list(FAMILY))
def test_a_snapshot_under_another_key_is_copied_in_place_under_the_sharing_key(sharing_key: str, kind: str) -> None:
    other = str(client("kms", SOURCE_REGION).create_key(Description="app")["KeyMetadata"]["Arn"])
    job = shareable(kind, other)
    shared = job["shared"]
    assert shared["created"] is True
    assert shared["snapshot_id"] != job["source"]["snapshot_id"]
    assert shared["kms_key_id"].endswith(sharing_key.rsplit("/", 1)[1])
    assert shared["region"] == SOURCE_REGION
    # A rerun finds the same temporary copy instead of making a second.
    again = handlers.prepare_shareable(job, None)
    assert again["shared"]["snapshot_id"] == shared["snapshot_id"]
    ids = [snapshot_id_of(FAMILY[kind], s) for s in manual_snapshots(FAMILY[kind], SOURCE_REGION)]
    assert ids.count(shared["snapshot_id"]) == 1


@pytest.mark.parametrize("kind", list(FAMILY))
def test_a_snapshot_under_the_sharing_key_is_shared_as_it_is(sharing_key: str, kind: str) -> None:
    job = shareable(kind, sharing_key)
    assert job["shared"]["created"] is False
    assert job["shared"]["snapshot_id"] == job["source"]["snapshot_id"]


@pytest.mark.parametrize("kind", ["rds-snapshot", "ebs-snapshot"])
def test_an_unencrypted_rds_or_ebs_snapshot_is_shared_as_it_is(sharing_key: str, kind: str) -> None:
    job = shareable(kind, sharing_key, encrypted=False)
    assert (job["shared"]["created"], job["shared"]["encrypted"], job["shared"]["kms_key_id"]) == (False, False, None)


def test_a_region_without_a_sharing_key_is_named(sharing_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSFLOW_SHARING_KEYS", "{}")
    with pytest.raises(SharingKeyMissing, match=f"no sharing key in {SOURCE_REGION}"):
        shareable("ebs-snapshot", sharing_key)


@pytest.mark.parametrize("kind", list(FAMILY))
def test_access_is_one_grant_and_one_share_and_the_revocation_removes_both(sharing_key: str, kind: str) -> None:
    other = str(client("kms", SOURCE_REGION).create_key(Description="app")["KeyMetadata"]["Arn"])
    job = handlers.open_access(shareable(kind, other), None)
    family, shared = FAMILY[kind], job["shared"]
    (grant,) = grants_on(sharing_key)
    assert grant["GranteePrincipal"] == TARGET_ROLES[DESTINATION_REGION]
    assert grant["RetiringPrincipal"] == RETIRING_ROLE
    assert sorted(grant["Operations"]) == sorted(grants.GRANT_OPERATIONS[family])
    assert grant["Name"] == f"kmsflow-{job['job_id']}"
    assert job["access"]["grant_id"] == grant["GrantId"]
    assert restore_values(family, shared["snapshot_id"]) == [TARGET_ACCOUNT]
    # Nothing is opened on the application's own key.
    assert grants_on(other) == []

    # A rerun opens nothing twice: the grant is found by its name.
    handlers.open_access(job, None)
    assert len(grants_on(sharing_key)) == 1

    revoked = handlers.revoke(job, None)["revoked"]
    assert grants_on(sharing_key) == []
    assert revoked["grants"] == [grant["GrantId"]]
    assert revoked["unshared"] == [f"{TARGET_ACCOUNT}:{shared['snapshot_arn']}"]
    assert revoked["deleted"] == [f"{SOURCE_REGION}:{shared['snapshot_id']}"]
    remaining = [snapshot_id_of(family, s) for s in manual_snapshots(family, SOURCE_REGION)]
    assert shared["snapshot_id"] not in remaining
    assert job["source"]["snapshot_id"] in remaining  # the user's snapshot is never deleted


def test_a_crash_after_the_grant_leaves_nothing_after_the_revocation(sharing_key: str) -> None:
    """The grant was created but the step died before saving its id: revoke finds it by name and retires it."""
    job = handlers.open_access(shareable("ebs-snapshot", sharing_key), None)
    lost = {**job}
    lost.pop("access")
    revoked = handlers.revoke(lost, None)["revoked"]
    assert len(revoked["grants"]) == 1
    assert grants_on(sharing_key) == []
    assert restore_values("ebs", job["shared"]["snapshot_id"]) == []


def test_an_account_that_was_in_the_share_before_stays(sharing_key: str) -> None:
    job = shareable("rds-snapshot", sharing_key)
    client("rds", SOURCE_REGION).modify_db_snapshot_attribute(
        DBSnapshotIdentifier=job["shared"]["snapshot_id"], AttributeName="restore", ValuesToAdd=[TARGET_ACCOUNT]
    )
    job = handlers.open_access(job, None)
    assert job["access"]["shared_before"] is True
    revoked = handlers.revoke(job, None)["revoked"]
    assert revoked["unshared"] == []
    assert restore_values("rds", job["shared"]["snapshot_id"]) == [TARGET_ACCOUNT]
    assert grants_on(sharing_key) == []


def test_the_failure_cause_says_what_was_revoked_and_what_may_remain(sharing_key: str) -> None:
    job = handlers.open_access(shareable("ebs-snapshot", sharing_key), None)
    failed: dict[str, Any] = {**handlers.revoke(job, None), "last_step": "open_access"}
    failed["revoke_error"] = {"Error": "RevocationIncomplete", "Cause": '{"errorMessage": "could not retire"}'}
    error = {
        "Error": "TargetRoleNotAssumable",
        "Cause": '{"errorType": "TargetRoleNotAssumable", "errorMessage": "x; y."}',
    }
    result = handlers.on_failure({"job": failed, "error": error}, None)
    assert result["error"] == "TargetRoleNotAssumable"
    assert "failed at step target_copy with TargetRoleNotAssumable: x; y." in result["cause"]
    assert f"Revoked: grants: {job['access']['grant_id']}; unshared: {TARGET_ACCOUNT}:" in result["cause"]
    assert "ACCESS MAY REMAIN: revoking access failed with RevocationIncomplete: could not retire." in result["cause"]


def test_a_snapshot_shared_with_20_accounts_already_fails_with_a_clear_error(sharing_key: str) -> None:
    """RDS allows a manual snapshot to be shared with at most 20 accounts; the 21st is a named error, not a silent
    failure (moto enforces the same limit: MAX_SHARED_ACCOUNTS, moto/rds/models.py)."""
    job = shareable("rds-snapshot", sharing_key)
    others = [f"{400000000000 + i}" for i in range(20)]
    client("rds", SOURCE_REGION).modify_db_snapshot_attribute(
        DBSnapshotIdentifier=job["shared"]["snapshot_id"], AttributeName="restore", ValuesToAdd=others
    )
    expected = r"is shared with 20 accounts already \(AWS said SharedSnapshotQuotaExceeded.*\); remove accounts"
    with pytest.raises(ShareQuotaExceeded, match=expected):
        handlers.open_access(job, None)
