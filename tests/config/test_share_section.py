"""The `workflows.snapshot_share` section: every check of its meaning, with path and message; and what the app
builds from it when a copy and a share share one (account, region)."""

from __future__ import annotations

import json
import tempfile
from typing import Any

import pytest
import yaml

from kmsflow.config import parse_config
from kmsflow.errors import ConfigError

BASE: dict[str, Any] = {
    "version": 1,
    "accounts": {
        "security": {"id": "111111111111"},
        "workloads": {"id": "222222222222"},
        "partner": {"id": "333333333333"},
    },
    "regions": {"primary": "eu-west-1", "secondary": "eu-central-1", "third": "us-east-1"},
    "keys": [
        {"name": "sharing", "account": "workloads", "region": "primary"},
        {"name": "sharing-2", "account": "workloads", "region": "secondary"},
        {"name": "partner-key", "account": "partner", "region": "primary", "replicas": ["secondary"]},
        {"name": "partner-third", "account": "partner", "region": "third"},
        {"name": "elsewhere", "account": "security", "region": "primary"},
        {
            "name": "signing",
            "account": "workloads",
            "region": "primary",
            "spec": "ECC_NIST_P256",
            "usage": "SIGN_VERIFY",
        },
        {"name": "dr", "account": "workloads", "region": "secondary"},
    ],
    "workflows": {
        "snapshot_share": [
            {
                "account": "workloads",
                "region": "primary",
                "sharing_keys": ["sharing"],
                "targets": [{"account": "partner", "regions": ["primary", "secondary"], "keys": ["partner-key"]}],
            }
        ]
    },
}


def with_share(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASE))
    data["workflows"]["snapshot_share"][0].update(changes)
    return data


def with_target(**changes: Any) -> dict[str, Any]:
    data = with_share()
    data["workflows"]["snapshot_share"][0]["targets"][0].update(changes)
    return data


def issues(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_dump(data, sort_keys=False), "a.yaml")
    return [(i.path, i.message) for i in err.value.issues]


def one_issue(data: dict[str, Any]) -> tuple[str, str]:
    (issue,) = issues(data)
    return issue


P = "workflows.snapshot_share[0]"


def test_the_base_section_is_valid_with_defaults() -> None:
    config = parse_config(yaml.safe_dump(BASE))
    (share,) = config.workflows.snapshot_share
    assert (share.source_regions, share.timeout_hours, share.administrators, share.subscriptions) == ([], 24, [], [])
    assert share.targets[0].external_id is None
    # The share's account and its target hold keys and make KMS calls: both are audited, like key accounts.
    assert config.key_accounts() == ["workloads", "partner", "security"]


def test_issues_carry_the_file_and_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_dump(with_share(account="workload"), sort_keys=False), "a.yaml")
    (issue,) = err.value.issues
    assert issue.line is not None
    assert f"a.yaml:{issue.line}: {P}.account: unknown account 'workload'; did you mean 'workloads'?" in str(err.value)


def test_account_and_region_must_be_declared() -> None:
    assert one_issue(with_share(region="primry"))[0] == f"{P}.region"
    assert "did you mean 'primary'?" in one_issue(with_share(region="primry"))[1]
    path, message = one_issue(with_share(source_regions=["primary", "fourth"]))
    assert (path, message.split(";")[0]) == (f"{P}.source_regions[1]", "unknown region 'fourth'")


def test_one_share_machine_per_account_and_region() -> None:
    data = with_share()
    data["workflows"]["snapshot_share"].append(dict(data["workflows"]["snapshot_share"][0]))
    assert one_issue(data) == (
        "workflows.snapshot_share[1]",
        "workflows.snapshot_share[0] is already in account 'workloads' and region 'primary'; one state machine per "
        "account and region",
    )


def test_a_source_region_listed_twice() -> None:
    data = with_share(source_regions=["primary", "primary"])
    assert one_issue(data) == (f"{P}.source_regions[1]", "region 'primary' is listed twice")


@pytest.mark.parametrize(
    ("sharing_keys", "expected"),
    [
        ([], (f"{P}.sharing_keys", "name at least one key (keys[].name) snapshots are re-encrypted under")),
        (["sharng"], (f"{P}.sharing_keys[0]", "unknown key 'sharng'")),
        (["elsewhere"], (f"{P}.sharing_keys[0]", "key 'elsewhere' is in account 'security'; a snapshot share")),
        (["signing"], (f"{P}.sharing_keys[0]", "key 'signing' is ECC_NIST_P256 for SIGN_VERIFY; a snapshot share")),
        (["dr"], (f"{P}.sharing_keys[0]", "key 'dr' is in ['secondary'], none of them a source region (primary)")),
    ],
    ids=["none", "unknown", "other-account", "asymmetric", "not-in-a-source-region"],
)
def test_each_sharing_key_is_a_symmetric_key_of_the_account_in_a_source_region(
    sharing_keys: list[str], expected: tuple[str, str]
) -> None:
    found = issues(with_share(sharing_keys=sharing_keys))
    assert any(path == expected[0] and message.startswith(expected[1]) for path, message in found), found


def test_every_source_region_has_exactly_one_sharing_key() -> None:
    uncovered = with_share(source_regions=["primary", "secondary"])
    assert one_issue(uncovered) == (
        f"{P}.source_regions[1]",
        "no sharing key is in region 'secondary'; list a key of that region in sharing_keys",
    )
    covered = with_share(source_regions=["primary", "secondary"], sharing_keys=["sharing", "sharing-2"])
    parse_config(yaml.safe_dump(covered))
    data = with_share()
    data["keys"].append({"name": "sharing-bis", "account": "workloads", "region": "primary"})
    data["workflows"]["snapshot_share"][0]["sharing_keys"] = ["sharing", "sharing-bis"]
    assert one_issue(data) == (
        f"{P}.sharing_keys[1]",
        "key 'sharing-bis' is in region 'primary' as is 'sharing' (workflows.snapshot_share[0].sharing_keys[0]); "
        "name exactly one sharing key per region",
    )


def test_a_defaulted_source_region_without_a_key_is_reported_at_sharing_keys() -> None:
    """No source_regions written: the machine's own region is the source, and its missing key is reported at
    sharing_keys (there is no source_regions[i] to point at)."""
    assert issues(with_share(sharing_keys=["sharing-2"])) == [
        (f"{P}.sharing_keys", "no sharing key is in region 'primary'; list a key of that region in sharing_keys"),
        (
            f"{P}.sharing_keys[0]",
            "key 'sharing-2' is in ['secondary'], none of them a source region (primary); add its region to "
            "source_regions or replicate it",
        ),
    ]


def test_targets_are_declared_other_accounts_listed_once() -> None:
    assert one_issue(with_share(targets=[])) == (
        f"{P}.targets",
        "name at least one target account the snapshots are shared with",
    )
    path, message = one_issue(with_target(account="partnr"))
    assert (path, message.split(";")[0]) == (f"{P}.targets[0].account", "unknown account 'partnr'")
    assert "did you mean 'partner'?" in message
    data = with_target(account="workloads", keys=["sharing"], regions=["primary"])
    assert one_issue(data) == (
        f"{P}.targets[0].account",
        "account 'workloads' is the machine's own account; a snapshot share copies into another account (use "
        "workflows.snapshot_copy within one account)",
    )
    twice = with_share()
    twice["workflows"]["snapshot_share"][0]["targets"].append(
        dict(twice["workflows"]["snapshot_share"][0]["targets"][0])
    )
    assert one_issue(twice) == (
        f"{P}.targets[1].account",
        f"account 'partner' is already a target at {P}.targets[0]; list each target account once, with all of its "
        "regions",
    )


def test_target_regions_are_declared_and_at_least_one() -> None:
    found = issues(with_target(regions=[]))
    assert (f"{P}.targets[0].regions", "name at least one region the target's copies are made in") in found
    path, message = one_issue(with_target(regions=["primary", "fourth"]))
    assert (path, message.split(";")[0]) == (f"{P}.targets[0].regions[1]", "unknown region 'fourth'")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([], (f"{P}.targets[0].keys", "name at least one key (keys[].name) the target's copies are encrypted under")),
        (["partner-kye"], (f"{P}.targets[0].keys[0]", "unknown key 'partner-kye'")),
        (
            ["partner-key", "sharing"],
            (
                f"{P}.targets[0].keys[1]",
                "key 'sharing' is in account 'workloads'; a target's copies are encrypted under keys of the target "
                "account 'partner'",
            ),
        ),
        (
            ["partner-key", "partner-third"],
            (f"{P}.targets[0].keys[1]", "key 'partner-third' is in ['third'], none of them a target region"),
        ),
    ],
    ids=["none", "unknown", "other-account", "not-in-a-target-region"],
)
def test_target_keys_are_the_target_account_s_keys_in_its_regions(keys: list[str], expected: tuple[str, str]) -> None:
    found = issues(with_target(keys=keys))
    assert any(path == expected[0] and message.startswith(expected[1]) for path, message in found), found


def test_target_keys_must_be_symmetric() -> None:
    data = with_target()
    data["keys"].append(
        {"name": "partner-sign", "account": "partner", "region": "primary", "spec": "RSA_2048", "usage": "SIGN_VERIFY"}
    )
    data["workflows"]["snapshot_share"][0]["targets"][0]["keys"] = ["partner-key", "partner-sign"]
    assert one_issue(data) == (
        f"{P}.targets[0].keys[1]",
        "key 'partner-sign' is RSA_2048 for SIGN_VERIFY; a target copy needs a symmetric encryption key "
        "(SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
    )


def test_every_target_region_has_a_target_key() -> None:
    data = with_target(regions=["primary", "secondary", "third"])
    assert one_issue(data) == (
        f"{P}.targets[0].regions[2]",
        "no target key is in region 'third'; list a key of that region in keys",
    )


@pytest.mark.parametrize("external_id", ["x", "has space", "ä-umlaut", "a" * 1225])
def test_external_id_form(external_id: str) -> None:
    path, message = one_issue(with_target(external_id=external_id))
    assert path == f"{P}.targets[0].external_id"
    assert message.endswith("write 2 to 1224 letters, digits or the characters _+=,.@:/-")


def test_a_valid_external_id() -> None:
    parse_config(yaml.safe_dump(with_target(external_id="partner/2026:share=ok@kmsflow")))


def test_administrators_in_the_account_and_subscription_endpoints() -> None:
    found = issues(
        with_share(
            administrators=["partner:role/Admin"],
            subscriptions=[{"protocol": "email", "endpoint": "not-an-address"}],
        )
    )
    assert found == [
        (
            f"{P}.administrators[0]",
            "'partner:role/Admin' is in account 'partner'; the workflow key's administrators must be in the "
            "workflow's account 'workloads'",
        ),
        (
            f"{P}.subscriptions[0].endpoint",
            "endpoint 'not-an-address' is not an e-mail address, which protocol email needs",
        ),
    ]


def test_timeout_hours_bounds() -> None:
    (issue,) = issues(with_share(timeout_hours=169))
    assert issue[0] == f"{P}.timeout_hours"


def test_unknown_field_is_named() -> None:
    path, message = one_issue(with_target(extrnal_id="abc"))
    assert path == f"{P}.targets[0].extrnal_id"
    assert "did you mean 'external_id'?" in message


def test_policy_principals_name_the_share_administrators() -> None:
    config = parse_config(yaml.safe_dump(with_share(administrators=["workloads:role/Admin"])))
    assert config.policy_principals() == {"workloads:role/Admin": [P]}


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    """A copy and a share in the same (account, region), synthesized once (without cdk-nag)."""
    from kmsflow.app import new_app, populate

    data = with_share(
        administrators=["workloads:role/Admin", "workloads:role/ShareAdmin"],
        subscriptions=[
            {"protocol": "email", "endpoint": "a@example.com"},
            {"protocol": "email", "endpoint": "b@example.com"},
        ],
        targets=[
            {"account": "partner", "regions": ["primary"], "keys": ["partner-key"], "external_id": "partner-chosen"}
        ],
    )
    data["workflows"]["snapshot_copy"] = [
        {
            "account": "workloads",
            "region": "primary",
            "destination_regions": ["secondary"],
            "destination_keys": ["dr"],
            "administrators": ["workloads:role/Admin"],
            "subscriptions": [{"protocol": "email", "endpoint": "a@example.com"}],
        }
    ]
    config = parse_config(yaml.safe_dump(data))
    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        populate(app, config, nag=False)
        assembly = app.synth()
        return {s.stack_name: s.template for s in assembly.stacks}


def test_a_copy_and_a_share_in_one_place_share_one_stack_key_and_topic(merged: dict[str, Any]) -> None:
    assert "kmsflow-workflows-workloads-primary" in merged
    tpl = merged["kmsflow-workflows-workloads-primary"]
    kinds = [r["Type"] for r in tpl["Resources"].values()]
    assert kinds.count("AWS::StepFunctions::StateMachine") == 2
    assert kinds.count("AWS::SNS::Topic") == 1
    assert kinds.count("AWS::KMS::Key") == 1
    # Administrators and subscriptions of both entries, each once.
    (key,) = [r for r in tpl["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    (admins,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "KeyAdministrators"]
    assert sorted(admins["Principal"]["AWS"]) == [
        "arn:aws:iam::222222222222:role/Admin",
        "arn:aws:iam::222222222222:role/ShareAdmin",
    ]
    endpoints = sorted(
        r["Properties"]["Endpoint"] for r in tpl["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"
    )
    assert endpoints == ["a@example.com", "b@example.com"]


def test_a_configured_external_id_reaches_both_accounts(merged: dict[str, Any]) -> None:
    target = merged["kmsflow-share-target-partner-primary"]
    (role,) = [
        r for r in target["Resources"].values() if r["Type"] == "AWS::IAM::Role" and "RoleName" in r["Properties"]
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {"sts:ExternalId": "partner-chosen"}
    source = merged["kmsflow-workflows-workloads-primary"]
    environments = [
        r["Properties"]["Environment"]["Variables"]
        for r in source["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and str(r["Properties"].get("Handler", "")).startswith("kmsflow.lambdas.snapshot_share.")
    ]
    assert len(environments) == 10
    targets = json.loads(environments[0]["KMSFLOW_SHARE_TARGETS"])
    assert targets["333333333333"]["external_id"] == "partner-chosen"
