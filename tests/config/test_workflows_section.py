"""The `workflows.snapshot_copy` section: every check of its meaning, with path and message, and the grants
the app derives from ``destination_keys``."""

from __future__ import annotations

import json
import tempfile
from typing import Any

import pytest
import yaml

from kmsflow.app import new_app, populate
from kmsflow.config import parse_config
from kmsflow.errors import ConfigError

BASE: dict[str, Any] = {
    "version": 1,
    "accounts": {"security": {"id": "111111111111"}, "workloads": {"id": "222222222222"}},
    "regions": {"primary": "eu-west-1", "secondary": "eu-central-1", "third": "us-east-1"},
    "keys": [
        {"name": "dr", "account": "workloads", "region": "secondary"},
        {
            "name": "signing",
            "account": "workloads",
            "region": "secondary",
            "spec": "ECC_NIST_P256",
            "usage": "SIGN_VERIFY",
        },
        {"name": "elsewhere", "account": "security", "region": "secondary"},
        {"name": "home", "account": "workloads", "region": "primary"},
    ],
    "workflows": {
        "snapshot_copy": [
            {
                "account": "workloads",
                "region": "primary",
                "destination_regions": ["secondary"],
                "destination_keys": ["dr"],
            }
        ]
    },
}


def with_flow(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASE))
    data["workflows"]["snapshot_copy"][0].update(changes)
    return data


def issues(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_dump(data, sort_keys=False), "a.yaml")
    return [(i.path, i.message) for i in err.value.issues]


def test_the_base_section_is_valid_with_defaults() -> None:
    (flow,) = parse_config(yaml.safe_dump(BASE)).workflows.snapshot_copy
    assert (flow.source_regions, flow.timeout_hours, flow.administrators) == ([], 24, [])
    assert flow.destination_keys == ["dr"]


FLOW = "workflows.snapshot_copy[0]"


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"account": "nobody"}, f"{FLOW}.account", "unknown account 'nobody'"),
        ({"region": "mars"}, f"{FLOW}.region", "unknown region 'mars'"),
        ({"source_regions": ["moon"]}, f"{FLOW}.source_regions[0]", "unknown region 'moon'"),
        ({"destination_regions": []}, f"{FLOW}.destination_regions", "name at least one destination region"),
        (
            {"destination_regions": ["primary", "secondary"]},
            f"{FLOW}.destination_regions[0]",
            "region 'primary' is also a source region",
        ),
        (
            {"administrators": ["security:role/Admin"]},
            f"{FLOW}.administrators[0]",
            "must be in the workflow's account 'workloads'",
        ),
        ({"destination_keys": []}, f"{FLOW}.destination_keys", "name at least one key"),
        (
            {"destination_keys": ["nope"]},
            f"{FLOW}.destination_keys[0]",
            "unknown key 'nope'; keys declared under keys: are dr, signing, elsewhere, home",
        ),
        (
            {"destination_keys": ["dr", "elsewhere"]},
            f"{FLOW}.destination_keys[1]",
            "key 'elsewhere' is in account 'security'; a snapshot copy encrypts under keys of its own account",
        ),
        (
            {"destination_keys": ["dr", "signing"]},
            f"{FLOW}.destination_keys[1]",
            "key 'signing' is ECC_NIST_P256 for SIGN_VERIFY; a snapshot copy needs a symmetric encryption key",
        ),
        (
            {"destination_keys": ["dr", "home"]},
            f"{FLOW}.destination_keys[1]",
            "key 'home' is in ['primary'], none of them a destination region (secondary)",
        ),
        (
            {"destination_regions": ["secondary", "third"]},
            f"{FLOW}.destination_regions[1]",
            "no destination key is in region 'third'; list a key of that region in destination_keys",
        ),
    ],
)
def test_each_problem_is_reported_at_its_path(changes: dict[str, Any], path: str, fragment: str) -> None:
    found = issues(with_flow(**changes))
    assert any(p == path and fragment in m for p, m in found), found


def test_the_field_is_required() -> None:
    data = with_flow()
    del data["workflows"]["snapshot_copy"][0]["destination_keys"]
    assert any(p == f"{FLOW}.destination_keys" for p, _ in issues(data))


def _key_policies(data: dict[str, Any], stacks: list[str], logical_prefix: str) -> list[list[dict[str, Any]]]:
    """The policy statements of the key (or replica) whose logical id starts with ``logical_prefix`` in each
    of ``stacks``, from one synth of ``data``."""
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        populate(app, parse_config(yaml.safe_dump(data)), nag=False)
        assembly = app.synth()
        templates = [assembly.get_stack_by_name(stack).template for stack in stacks]  # read before outdir goes
    policies = []
    for template in templates:
        (resource,) = [r for lid, r in template["Resources"].items() if lid.startswith(logical_prefix)]
        policies.append(list(resource["Properties"]["KeyPolicy"]["Statement"]))
    return policies


def test_a_replicated_destination_key_is_granted_on_its_replica_in_the_destination_region() -> None:
    """The key lives in the workflow's own region and is replicated into the destination region: the grants
    go to the replica's policy, with the destination region's kms:ViaService values."""
    data = with_flow(destination_keys=["home"])
    data["keys"][3]["replicas"] = ["secondary"]
    statements, primary = _key_policies(
        data, ["kmsflow-keys-workloads-secondary", "kmsflow-keys-workloads-primary"], "home"
    )
    (use,) = [s for s in statements if str(s.get("Sid", "")).startswith("ServiceUse")]
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "rds.eu-central-1.amazonaws.com",
        "ec2.eu-central-1.amazonaws.com",
    ]
    assert "start-copy" in json.dumps(use["Condition"]["ArnEquals"])
    assert not any("snapshot-copy" in json.dumps(s) for s in primary)
