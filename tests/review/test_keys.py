"""key_infos: every key and replica key of an assembly with its settings, on small templates written here (and
once on the synthesized default app)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from kmsflow.policy.assembly import Assembly, StackTemplate
from kmsflow.policy.document import size
from kmsflow.review.exceptions import ReviewError
from kmsflow.review.keys import key_infos, key_policy
from kmsflow.review.model import KeyInfo

ACCOUNT = "111111111111"
REGION = "eu-west-1"
SECONDARY_REGION = "eu-central-1"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}],
}
#: What KMS gives a key created without a policy (the assembly reader's stand-in for it).
DEFAULT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def arn(stack: str, logical_id: str, *, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{stack}-{logical_id}"


def key(deletion_policy: Any = None, **properties: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": POLICY, **properties}}
    if deletion_policy is not None:
        resource["DeletionPolicy"] = deletion_policy
    return resource


def alias(name: Any, target: Any) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": name, "TargetKeyId": target}}


def stack(name: str, resources: dict[str, Any], *, region: str = REGION, **sections: Any) -> StackTemplate:
    return StackTemplate(name=name, account=ACCOUNT, region=region, template={"Resources": resources, **sections})


def infos(*stacks: StackTemplate) -> list[KeyInfo]:
    return key_infos(Assembly.from_templates(stacks))


def by_name(*stacks: StackTemplate) -> dict[str, KeyInfo]:
    """The keys by logical id (the tests give every key a distinct one)."""
    return {info.logical_id: info for info in infos(*stacks)}


def only(resources: dict[str, Any], **sections: Any) -> KeyInfo:
    (found,) = infos(stack("s", resources, **sections))
    return found


BASE = KeyInfo(
    id=arn("s", "Key"),
    stack="s",
    logical_id="Key",
    template="",
    resource_type="AWS::KMS::Key",
    account=ACCOUNT,
    region=REGION,
    description="",
    spec="SYMMETRIC_DEFAULT",
    usage="ENCRYPT_DECRYPT",
    origin="AWS_KMS",
    multi_region=False,
    primary=None,
    replicas=(),
    rotation=False,
    rotation_period_days=None,
    deletion_window_days=30,
    enabled=True,
    aliases=(),
    policy_size=size(POLICY),
    removal="Delete",
)


# --- one key: defaults and declared settings -----------------------------------------------------------------


def test_a_key_without_settings_gets_cloudformation_and_kms_defaults() -> None:
    assert only({"Key": key()}) == BASE


def test_declared_settings_are_read() -> None:
    found = only(
        {
            "Key": key(
                deletion_policy="Retain",
                Description="Application data",
                EnableKeyRotation=True,
                RotationPeriodInDays=180,
                PendingWindowInDays=7,
                Enabled=False,
                MultiRegion=True,
            )
        }
    )
    assert found == dataclasses.replace(
        BASE,
        description="Application data",
        rotation=True,
        rotation_period_days=180,
        deletion_window_days=7,
        enabled=False,
        multi_region=True,
        removal="Retain",
    )


def test_booleans_and_integers_written_as_strings_are_read() -> None:
    found = only({"Key": key(EnableKeyRotation="true", PendingWindowInDays="10", Enabled="false")})
    assert (found.rotation, found.rotation_period_days, found.deletion_window_days, found.enabled) == (
        True,
        365,
        10,
        False,
    )


def test_rotation_on_without_a_period_rotates_every_365_days() -> None:
    assert only({"Key": key(EnableKeyRotation=True)}).rotation_period_days == 365


@pytest.mark.parametrize(
    "properties",
    [
        {"KeySpec": "RSA_3072", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"Origin": "EXTERNAL"},
    ],
    ids=["rsa-sign", "rsa-encrypt", "ecc", "hmac", "imported-material"],
)
def test_rotation_does_not_apply_to_asymmetric_hmac_or_imported_keys(properties: dict[str, str]) -> None:
    found = only({"Key": key(EnableKeyRotation=True, RotationPeriodInDays=90, **properties)})
    assert (found.rotation, found.rotation_period_days) == (None, None)
    assert found.spec == properties.get("KeySpec", "SYMMETRIC_DEFAULT")
    assert found.origin == properties.get("Origin", "AWS_KMS")


def test_the_policy_size_counts_the_resolved_policy() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", ACCOUNT, ":root"]]}
                },
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    resolved = {**policy, "Statement": [{**policy["Statement"][0], "Principal": {"AWS": ROOT}}]}
    assert only({"Key": key(KeyPolicy=policy)}).policy_size == size(resolved)


def test_a_key_without_a_policy_is_measured_with_the_kms_default_policy() -> None:
    resources = {"Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "no policy"}}}
    assert only(resources).policy_size == size(DEFAULT_POLICY) == 178


def test_key_policy_returns_the_resolved_policy_and_where_it_comes_from() -> None:
    assembly = Assembly.from_templates([stack("s", {"Key": key(), "Bare": {"Type": "AWS::KMS::Key"}})])
    found = {info.logical_id: info for info in key_infos(assembly)}
    declared, default = key_policy(assembly, found["Key"]), key_policy(assembly, found["Bare"])
    assert (declared.source, declared.document) == ("s/Key KeyPolicy", POLICY)
    assert (default.source, default.document) == ("s/Bare KeyPolicy (KMS default)", DEFAULT_POLICY)


def test_key_policy_of_a_key_not_in_the_assembly_is_a_review_error() -> None:
    assembly = Assembly.from_templates([stack("s", {})])
    with pytest.raises(ReviewError, match=r"key arn:aws:kms:eu-west-1:111111111111:key/s-Gone \(s/Gone\) has no key"):
        key_policy(assembly, dataclasses.replace(BASE, id=arn("s", "Gone"), logical_id="Gone"))


# --- unresolvable values and odd shapes ----------------------------------------------------------------------


def test_unresolvable_values_read_unknown_and_never_guess_a_finding() -> None:
    parameters = {name: {"Type": "String"} for name in ("Text", "Spec", "Flag", "Days", "Removal")}
    resources = {
        "Key": key(
            deletion_policy={"Ref": "Removal"},
            Description={"Ref": "Text"},
            EnableKeyRotation={"Ref": "Flag"},
            PendingWindowInDays={"Ref": "Days"},
            Enabled={"Ref": "Flag"},
        ),
        "SpecKey": key(KeySpec={"Ref": "Spec"}, EnableKeyRotation=True),
    }
    found = by_name(stack("s", resources, Parameters=parameters))
    settings = found["Key"]
    assert (settings.description, settings.removal) == ("unknown", "unknown")
    assert (settings.rotation, settings.rotation_period_days) == (None, None)  # not False: no KR08 on a guess
    assert (settings.deletion_window_days, settings.enabled) == (30, True)  # the defaults: no KR09 on a guess
    spec = found["SpecKey"]
    assert (spec.spec, spec.rotation) == ("unknown", None)


def test_a_parameter_default_is_used() -> None:
    parameters = {"Days": {"Type": "Number", "Default": 14}}
    assert only({"Key": key(PendingWindowInDays={"Ref": "Days"})}, Parameters=parameters).deletion_window_days == 14


def test_odd_shapes_do_not_crash() -> None:
    found = by_name(
        stack(
            "s",
            {
                "NoProperties": {"Type": "AWS::KMS::Key", "Properties": "not a mapping"},
                "TextPolicy": key(KeyPolicy="not a policy", Description=5, PendingWindowInDays=[7], Enabled="maybe"),
                "NotAResource": "text",
                "BadAlias": alias({"Fn::Nothing": 1}, ["a", "list"]),
            },
        )
    )
    assert sorted(found) == ["NoProperties", "TextPolicy"]
    assert found["NoProperties"].policy_size == size(DEFAULT_POLICY)
    odd = found["TextPolicy"]
    assert (odd.description, odd.deletion_window_days, odd.enabled) == ("unknown", 30, True)
    assert odd.policy_size == len(json.dumps("not a policy"))


# --- aliases ---------------------------------------------------------------------------------------------------


def test_aliases_name_their_key_by_arn_key_id_or_literal_arn() -> None:
    found = infos(
        stack(
            "s",
            {
                "Key": key(),
                "Other": key(),
                "ByArn": alias("alias/by-arn", {"Fn::GetAtt": ["Key", "Arn"]}),
                "ByRef": alias("alias/by-ref", {"Ref": "Key"}),
                "ByKeyId": alias("alias/by-key-id", {"Fn::GetAtt": ["Key", "KeyId"]}),
                "Literal": alias("alias/literal", arn("s", "Key")),
                "ForOther": alias("alias/other", {"Fn::GetAtt": ["Other", "Arn"]}),
                "Unresolved": alias("alias/unresolved", {"Ref": "NoSuchThing"}),
            },
        )
    )
    assert {info.logical_id: info.aliases for info in found} == {
        "Key": ("alias/by-arn", "alias/by-key-id", "alias/by-ref", "alias/literal"),
        "Other": ("alias/other",),
    }


# --- replicas --------------------------------------------------------------------------------------------------

EXPORT = "/cdk/exports/keys-secondary/keysprimaryFnGetAttPrimaryArn"


def multi_region_pair(**primary: Any) -> list[StackTemplate]:
    """A multi-Region primary in eu-west-1 and its replica in eu-central-1, referred to across regions the way
    CDK writes it (an export writer in the primary's stack, a reader in the replica's), each with an alias."""
    writer = {
        "Type": "Custom::CrossRegionExportWriter",
        "Properties": {
            "WriterProps": {"region": SECONDARY_REGION, "exports": {EXPORT: {"Fn::GetAtt": ["Primary", "Arn"]}}}
        },
    }
    reader = {"Type": "Custom::CrossRegionExportReader", "Properties": {"ReaderProps": {"imports": {}}}}
    replica = {
        "Type": "AWS::KMS::ReplicaKey",
        "DeletionPolicy": "Retain",
        "Properties": {
            "KeyPolicy": POLICY,
            "Description": "the replica",
            "PendingWindowInDays": 20,
            "PrimaryKeyArn": {"Fn::GetAtt": ["Reader", EXPORT]},
        },
    }
    return [
        stack(
            "keys-primary",
            {
                "Primary": key(MultiRegion=True, **primary),
                "Writer": writer,
                "PrimaryAlias": alias("alias/global", {"Fn::GetAtt": ["Primary", "Arn"]}),
            },
        ),
        stack(
            "keys-secondary",
            {
                "Replica": replica,
                "Reader": reader,
                "ReplicaAlias": alias("alias/global", {"Fn::GetAtt": ["Replica", "KeyId"]}),
            },
            region=SECONDARY_REGION,
        ),
    ]


def test_a_replica_is_linked_to_its_primary_across_regions_and_shares_its_material() -> None:
    found = by_name(*multi_region_pair(EnableKeyRotation=True, RotationPeriodInDays=90))
    primary, replica = found["Primary"], found["Replica"]
    primary_id = arn("keys-primary", "Primary")
    replica_id = arn("keys-secondary", "Replica", region=SECONDARY_REGION)
    assert (primary.id, primary.replicas, primary.primary, primary.multi_region) == (
        primary_id,
        (replica_id,),
        None,
        True,
    )
    assert replica == KeyInfo(
        id=replica_id,
        stack="keys-secondary",
        logical_id="Replica",
        template="",
        resource_type="AWS::KMS::ReplicaKey",
        account=ACCOUNT,
        region=SECONDARY_REGION,
        description="the replica",
        spec="SYMMETRIC_DEFAULT",
        usage="ENCRYPT_DECRYPT",
        origin="AWS_KMS",
        multi_region=True,
        primary=primary_id,
        replicas=(),
        rotation=True,
        rotation_period_days=90,
        deletion_window_days=20,
        enabled=True,
        aliases=("alias/global",),
        policy_size=size(POLICY),
        removal="Retain",
    )


def test_a_replica_of_an_hmac_primary_has_no_rotation() -> None:
    replica = by_name(*multi_region_pair(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC"))["Replica"]
    assert (replica.spec, replica.usage, replica.rotation) == ("HMAC_384", "GENERATE_VERIFY_MAC", None)


def test_a_replica_whose_primary_is_elsewhere_has_unknown_material() -> None:
    elsewhere = "arn:aws:kms:us-east-1:111111111111:key/mrk-1234"
    replica = {"Type": "AWS::KMS::ReplicaKey", "Properties": {"KeyPolicy": POLICY, "PrimaryKeyArn": elsewhere}}
    found = only({"Replica": replica})
    assert (found.primary, found.spec, found.usage, found.origin, found.rotation, found.rotation_period_days) == (
        elsewhere,
        "unknown",
        "unknown",
        "unknown",
        None,
        None,
    )
    assert (found.multi_region, found.resource_type) == (True, "AWS::KMS::ReplicaKey")


def test_a_replica_whose_primary_cannot_be_resolved_names_it_unknown() -> None:
    replica = {"Type": "AWS::KMS::ReplicaKey", "Properties": {"PrimaryKeyArn": {"Fn::ImportValue": "nowhere"}}}
    assert only({"Replica": replica}).primary == "unknown"


def test_keys_are_sorted_by_id_across_stacks() -> None:
    found = infos(stack("b", {"Z": key(), "A": key()}), stack("a", {"M": key()}))
    assert [info.id for info in found] == [arn("a", "M"), arn("b", "A"), arn("b", "Z")]


# --- the default app ---------------------------------------------------------------------------------------------


def test_the_default_app_lists_every_key_with_its_settings(default_outdir: Path) -> None:
    found = {info.logical_id + "@" + info.stack: info for info in key_infos(Assembly.from_directory(default_outdir))}
    assert len(found) == 14
    assert sum(info.resource_type == "AWS::KMS::ReplicaKey" for info in found.values()) == 2
    replica = found["globaldataReplica8C4E0D76@kmsflow-keys-security-secondary"]
    primary = found["globaldataKey882F84DA@kmsflow-keys-security-primary"]
    assert (
        replica.primary
        == primary.id
        == ("arn:aws:kms:eu-west-1:111111111111:key/kmsflow-keys-security-primary-globaldataKey882F84DA")
    )
    assert primary.replicas == (replica.id,)
    assert replica.aliases == primary.aliases == ("alias/kmsflow/global-data",)
    signing = found["releasesigningKey71E6FC26@kmsflow-keys-security-primary"]
    assert (signing.spec, signing.usage, signing.rotation) == ("RSA_3072", "SIGN_VERIFY", None)
    data = found["dataKey49D9B62C@kmsflow-keys-security-primary"]
    assert (data.rotation, data.rotation_period_days, data.aliases) == (True, 180, ("alias/kmsflow/data",))
    assert {info.removal for info in found.values()} == {"Retain"}
