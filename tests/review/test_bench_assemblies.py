"""The review benchmark's generated assemblies load as cloud assemblies, with every policy resolved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench.review_assemblies import count_statements, template_files, write_assembly

from kmsflow.policy.assembly import Assembly, is_unresolved
from kmsflow.policy.document import as_list, statements

KEYS = 120  # three key stacks (50, 50, 20) over the four environments


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    directory = tmp_path_factory.mktemp("bench") / "cdk.out"
    write_assembly(directory, KEYS)
    return Assembly.from_directory(directory)


def _key_policy(assembly: Assembly, stack: str, index: int) -> dict[str, Any]:
    key = [k for k in assembly.resources("AWS::KMS::Key") if k.stack == stack][index]
    return {
        "properties": key.properties,
        "statements": {s["Sid"]: s for _, s in statements(key.properties["KeyPolicy"])},
    }


def test_the_assembly_holds_the_keys_spread_over_stacks_and_environments(assembly: Assembly) -> None:
    keys = list(assembly.resources("AWS::KMS::Key"))

    assert len(keys) == KEYS
    assert len({key.arn for key in keys}) == KEYS
    assert sum(1 for _ in assembly.resources("AWS::KMS::Alias")) == KEYS
    assert [(name, s.account, s.region) for name, s in assembly.stacks.items()] == [
        ("bench-keys-000", "111111111111", "eu-west-1"),
        ("bench-keys-001", "111111111111", "eu-central-1"),
        ("bench-keys-002", "222222222222", "eu-west-1"),
        ("bench-workloads-111111111111-eu-west-1", "111111111111", "eu-west-1"),
        ("bench-workloads-111111111111-eu-central-1", "111111111111", "eu-central-1"),
        ("bench-workloads-222222222222-eu-west-1", "222222222222", "eu-west-1"),
    ]


def test_iam_policies_in_other_stacks_name_the_keys_by_their_resolved_arns(assembly: Assembly) -> None:
    key_arns = {key.arn for key in assembly.resources("AWS::KMS::Key")}
    policies = list(assembly.resources("AWS::IAM::Policy"))
    named: set[str] = set()
    for policy in policies:
        document = assembly.resolve(policy.stack, policy.properties["PolicyDocument"])
        assert not is_unresolved(document), policy.logical_id
        for _, statement in statements(document):
            if not any(action.startswith("kms:") for action in as_list(statement["Action"])):
                continue
            resources = set(as_list(statement["Resource"]))
            assert resources <= key_arns | {"*"}, statement
            named |= resources - {"*"}

    assert len(policies) == KEYS // 5
    assert named == key_arns  # every key is used by some workload role, across stacks


def test_key_policies_resolve_and_are_kmsflow_like(assembly: Assembly) -> None:
    for key in assembly.resources("AWS::KMS::Key"):
        assert not is_unresolved(assembly.resolve(key.stack, key.properties["KeyPolicy"]))
    shared, private = _key_policy(assembly, "bench-keys-000", 0), _key_policy(assembly, "bench-keys-000", 1)

    assert list(shared["statements"]) == [
        "RootAccountAdministration",
        "KeyAdministrators",
        "KeyUsers",
        "ServiceUsersViaService",
        "ServiceUsersGrantsForAwsResources",
        "CrossAccountPartnerUse",
        "CrossAccountPartnerGrantsForAwsResources",
    ]
    assert shared["statements"]["CrossAccountPartnerUse"]["Condition"]["StringEquals"]["kms:CallerAccount"] == (
        "222222222222"
    )
    assert len(private["statements"]) == 5


def test_variant_1_changes_exactly_the_documented_things(tmp_path: Path) -> None:
    write_assembly(tmp_path / "base", 60)
    write_assembly(tmp_path / "changed", 60, variant=1)
    base, changed = Assembly.from_directory(tmp_path / "base"), Assembly.from_directory(tmp_path / "changed")

    differing = [
        (b.stack, b.logical_id)
        for b, c in zip(base.resources(), changed.resources(), strict=True)
        if b.properties != c.properties
    ]
    assert [logical_id[:6] for _, logical_id in differing] == ["Key001", "Key002", "Key003", "Key004", "BenchA"]
    assert _key_policy(changed, "bench-keys-000", 1)["statements"]["CrossAccountPartnerUse"]["Principal"] == {
        "AWS": "arn:aws:iam::222222222222:root"
    }
    assert _key_policy(changed, "bench-keys-000", 2)["statements"]["KeyAdministrators"]["Principal"] == {
        "AWS": ["arn:aws:iam::111111111111:role/KeyAdministrator"]
    }
    assert _key_policy(changed, "bench-keys-000", 3)["properties"]["EnableKeyRotation"] is False
    narrowed = _key_policy(changed, "bench-keys-000", 4)["statements"]["ServiceUsersViaService"]["Condition"]
    assert narrowed == {"StringEquals": {"kms:ViaService": ["rds.eu-west-1.amazonaws.com"]}}


def test_generation_is_deterministic_and_statements_are_counted(tmp_path: Path) -> None:
    write_assembly(tmp_path / "one", 60)
    write_assembly(tmp_path / "two", 60)
    one = {path.name: path.read_bytes() for path in sorted((tmp_path / "one").iterdir())}
    two = {path.name: path.read_bytes() for path in sorted((tmp_path / "two").iterdir())}
    templates = [json.loads(path.read_text()) for path in template_files(tmp_path / "one")]

    assert one == two
    # 60 keys: 5 key-policy statements each, 2 more for the 12 shared ones; 12 workload policies of 2
    # statements, the first two of each workloads stack (2 of 10, 2 of 2) with a third (Resource "*").
    assert count_statements(templates) == 60 * 5 + 12 * 2 + 12 * 2 + 4


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keys must be at least 1 and variant 0 or 1, got keys=0, variant=0"):
        write_assembly(tmp_path, 0)
