"""The embedded default configuration synthesizes (with every cdk-nag pack) into the promised templates."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.keyspec import SPECS
from kmsflow.policy.document import is_own_root, principal_values, statements

STACKS = {
    "kmsflow-keys-security-primary": "111111111111",
    "kmsflow-keys-security-secondary": "111111111111",
    "kmsflow-keys-workloads-primary": "222222222222",
    "kmsflow-keys-workloads-secondary": "222222222222",
    "kmsflow-audit-security-primary": "111111111111",
    # The workloads account holds keys: its own trail delivers into the security account's bucket.
    "kmsflow-audit-workloads-primary": "222222222222",
    "kmsflow-workflows-workloads-primary": "222222222222",
}


def resources(templates: dict[str, dict[str, Any]], *types: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (stack, logical_id, res)
        for stack, tpl in templates.items()
        for logical_id, res in tpl["Resources"].items()
        if res["Type"] in types
    ]


def test_one_template_per_account_and_region(default_templates: dict[str, dict[str, Any]]) -> None:
    assert set(default_templates) == set(STACKS)


def test_every_symmetric_aws_kms_key_rotates(default_templates: dict[str, dict[str, Any]]) -> None:
    keys = resources(default_templates, "AWS::KMS::Key")
    symmetric = [
        (lid, k) for _, lid, k in keys if k["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    ]
    assert len(symmetric) == 8  # five declared keys, the two audit trails' keys and the workflows' key
    for lid, key in symmetric:
        assert key["Properties"]["EnableKeyRotation"] is True, lid
        assert 90 <= key["Properties"]["RotationPeriodInDays"] <= 2560, lid


def test_no_key_policy_gives_kms_star_to_anyone_but_the_account_root(
    default_templates: dict[str, dict[str, Any]],
) -> None:
    checked = 0
    for stack, lid, key in resources(default_templates, "AWS::KMS::Key", "AWS::KMS::ReplicaKey"):
        for _, stmt in statements(key["Properties"]["KeyPolicy"]):
            actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
            if stmt["Effect"] == "Allow" and {"kms:*", "*"} & set(actions):
                assert all(is_own_root(p, STACKS[stack]) for p in principal_values(stmt)), (stack, lid)
            checked += 1
    assert checked > 20


def test_a_replica_key_exists_in_the_second_region(default_templates: dict[str, dict[str, Any]]) -> None:
    replicas = resources(default_templates, "AWS::KMS::ReplicaKey")
    assert [stack for stack, _, _ in replicas] == ["kmsflow-keys-security-secondary"]


def test_every_key_and_replica_is_retained(default_templates: dict[str, dict[str, Any]]) -> None:
    keys = resources(default_templates, "AWS::KMS::Key", "AWS::KMS::ReplicaKey")
    assert len(keys) == 11  # 7 declared keys, 1 replica, 2 audit trail keys, 1 workflow key
    for stack, lid, key in keys:
        assert key["DeletionPolicy"] == "Retain", (stack, lid)
        assert key["UpdateReplacePolicy"] == "Retain", (stack, lid)
        assert key["Properties"]["PendingWindowInDays"] == 30, (stack, lid)


@pytest.mark.parametrize(("spec", "usage"), [("RSA_3072", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")])
def test_the_showcase_asymmetric_and_hmac_keys(
    default_templates: dict[str, dict[str, Any]], spec: str, usage: str
) -> None:
    (key,) = [k for _, _, k in resources(default_templates, "AWS::KMS::Key") if k["Properties"].get("KeySpec") == spec]
    assert key["Properties"]["KeyUsage"] == usage
    assert not SPECS[spec].rotatable
    assert key["Properties"].get("EnableKeyRotation") in (None, False)


def test_shared_snapshot_key_opens_only_rds_and_ebs_to_the_partner(
    default_templates: dict[str, dict[str, Any]],
) -> None:
    tpl = default_templates["kmsflow-keys-workloads-primary"]
    policies = [r["Properties"]["KeyPolicy"] for r in tpl["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    partner = [
        stmt
        for policy in policies
        for _, stmt in statements(policy)
        if "arn:aws:iam::333333333333:root" in principal_values(stmt)
    ]
    assert {s["Sid"] for s in partner} == {"CrossAccountPartnerUse", "CrossAccountPartnerGrantsForAwsResources"}
    for stmt in partner:
        assert stmt["Condition"]["StringEquals"]["kms:CallerAccount"] == "333333333333"
    use = next(s for s in partner if s["Sid"] == "CrossAccountPartnerUse")
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "rds.eu-west-1.amazonaws.com",
        "ec2.eu-west-1.amazonaws.com",
    ]


def test_every_key_has_an_arn_output(default_templates: dict[str, dict[str, Any]]) -> None:
    outputs = {name for tpl in default_templates.values() for name in tpl.get("Outputs", {})}
    for name in ("data", "releasesigning", "sessiontokens", "globaldata", "workloadsdefault", "sharedsnapshots"):
        assert any(o.startswith(f"{name}arn") for o in outputs), name


def test_every_account_that_holds_a_key_has_a_multi_region_trail(default_templates: dict[str, dict[str, Any]]) -> None:
    """Issue 8: "every KMS call" includes the workloads account's; its own trail delivers to the central bucket."""
    holding = {STACKS[stack] for stack, _, _ in resources(default_templates, "AWS::KMS::Key", "AWS::KMS::ReplicaKey")}
    trails = resources(default_templates, "AWS::CloudTrail::Trail")
    recorded = {STACKS[stack] for stack, _, trail in trails if trail["Properties"]["IsMultiRegionTrail"] is True}
    assert holding == {"111111111111", "222222222222"}
    assert holding <= recorded
    buckets = {trail["Properties"]["S3BucketName"] for _, _, trail in trails}
    assert buckets == {"kmsflow-audit-111111111111-eu-west-1"}  # one central bucket
