"""The embedded default configuration synthesizes (with every cdk-nag pack) into the promised templates."""

from __future__ import annotations

import json
from pathlib import Path
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
    # Workflows II: the partner account holds the target key (and so has a trail), and the share's copy roles.
    "kmsflow-keys-partner-primary": "333333333333",
    "kmsflow-keys-partner-secondary": "333333333333",
    "kmsflow-audit-partner-primary": "333333333333",
    "kmsflow-share-target-partner-primary": "333333333333",
    "kmsflow-share-target-partner-secondary": "333333333333",
    # Delivery: the GitHub OIDC provider and the deploy role of pipeline.github (deployed by hand, in no stage).
    "kmsflow-ci-security": "111111111111",
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
    assert len(symmetric) == 10  # six declared keys, the three audit trails' keys and the workflows' key
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
    assert sorted(stack for stack, _, _ in replicas) == [
        "kmsflow-keys-partner-secondary",
        "kmsflow-keys-security-secondary",
    ]


def test_every_key_and_replica_is_retained(default_templates: dict[str, dict[str, Any]]) -> None:
    keys = resources(default_templates, "AWS::KMS::Key", "AWS::KMS::ReplicaKey")
    assert len(keys) == 14  # 8 declared keys, 2 replicas, 3 audit trail keys, 1 workflow key
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


def test_the_sharing_key_opens_nothing_to_the_partner_but_grants_for_its_copy_roles(
    default_templates: dict[str, dict[str, Any]],
) -> None:
    """Workflows II replaced the partner's standing cross-account access: no statement names the partner account;
    its copy roles appear only as the grantees the share step may create a (per-copy) grant for."""
    tpl = default_templates["kmsflow-keys-workloads-primary"]
    (policy,) = [
        r["Properties"]["KeyPolicy"]
        for lid, r in tpl["Resources"].items()
        if r["Type"] == "AWS::KMS::Key" and lid.startswith("sharedsnapshots")
    ]
    naming_partner = [stmt for _, stmt in statements(policy) if "333333333333" in json.dumps(stmt)]
    assert [s["Sid"] for s in naming_partner] == ["ShareGrantsKmsflowSnapshotShareEuWest1OpenAccess"]
    (grants,) = naming_partner
    assert principal_values(grants) == ["arn:aws:iam::222222222222:root"]
    assert sorted(grants["Condition"]["StringEquals"]["kms:GranteePrincipal"]) == [
        "arn:aws:iam::333333333333:role/kmsflow-share-222222222222-eu-west-1-eu-central-1",
        "arn:aws:iam::333333333333:role/kmsflow-share-222222222222-eu-west-1-eu-west-1",
    ]


def test_share_stacks_deploy_after_the_keys_they_name(default_outdir: Path) -> None:
    """The workflows stack reads the sharing and destination keys' ARNs; each share-target stack reads the target
    key of its region and, for Aurora's first hop, its primary in the source region: CDK makes those stacks
    dependencies, so `cdk deploy --all` creates the keys first."""
    manifest = json.loads((default_outdir / "manifest.json").read_text())
    artifacts = manifest["artifacts"]

    def stacks_before(name: str) -> set[str]:
        return {d for d in artifacts[name].get("dependencies", []) if not d.endswith(".assets")}

    assert stacks_before("kmsflow-workflows-workloads-primary") == {
        "kmsflow-keys-workloads-primary",
        "kmsflow-keys-workloads-secondary",
    }
    assert stacks_before("kmsflow-share-target-partner-primary") == {"kmsflow-keys-partner-primary"}
    assert stacks_before("kmsflow-share-target-partner-secondary") == {
        "kmsflow-keys-partner-primary",
        "kmsflow-keys-partner-secondary",
    }


def test_share_target_stacks_output_their_copy_role(default_templates: dict[str, dict[str, Any]]) -> None:
    for region in ("primary", "secondary"):
        tpl = default_templates[f"kmsflow-share-target-partner-{region}"]
        roles = [r for r in tpl["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
        named = [r["Properties"]["RoleName"] for r in roles if "RoleName" in r["Properties"]]
        code = {"primary": "eu-west-1", "secondary": "eu-central-1"}[region]
        assert named == [f"kmsflow-share-222222222222-eu-west-1-{code}"]
        output = tpl["Outputs"]["CopyRoleArn222222222222euwest1"]["Value"]
        assert tpl["Resources"][output["Fn::GetAtt"][0]]["Properties"]["RoleName"] == named[0]


def test_every_key_has_an_arn_output(default_templates: dict[str, dict[str, Any]]) -> None:
    outputs = {name for tpl in default_templates.values() for name in tpl.get("Outputs", {})}
    for name in (
        "data",
        "releasesigning",
        "sessiontokens",
        "globaldata",
        "workloadsdefault",
        "sharedsnapshots",
        "partnersnapshots",
    ):
        assert any(o.startswith(f"{name}arn") for o in outputs), name


def test_every_account_that_holds_a_key_has_a_multi_region_trail(default_templates: dict[str, dict[str, Any]]) -> None:
    """Issue 8: "every KMS call" includes the workloads account's; its own trail delivers to the central bucket."""
    holding = {STACKS[stack] for stack, _, _ in resources(default_templates, "AWS::KMS::Key", "AWS::KMS::ReplicaKey")}
    trails = resources(default_templates, "AWS::CloudTrail::Trail")
    recorded = {STACKS[stack] for stack, _, trail in trails if trail["Properties"]["IsMultiRegionTrail"] is True}
    assert holding == {"111111111111", "222222222222", "333333333333"}
    assert holding <= recorded
    buckets = {trail["Properties"]["S3BucketName"] for _, _, trail in trails}
    assert buckets == {"kmsflow-audit-111111111111-eu-west-1"}  # one central bucket
