"""Valid configurations load: the embedded default file, a minimal file, and the defaults of every field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kmsflow.config import DEFAULT_CONFIG, KmsflowConfig, load_config
from kmsflow.errors import ConfigError
from kmsflow.keyspec import KeyOrigin, KeySettings, KeyUsage

from .conftest import DEFAULT_FILE, config, dump, key, loads

DEFAULT_KEYS = [
    "data",
    "release-signing",
    "session-tokens",
    "global-data",
    "workloads-default",
    "shared-snapshots",
    "dr-snapshots",
    "partner-snapshots",
]


def settings_of(cfg: KmsflowConfig, index: int) -> KeySettings:
    settings, problems = cfg.keys[index].settings()
    assert problems == []
    assert settings is not None
    return settings


@pytest.fixture(scope="module")
def default() -> KmsflowConfig:
    return load_config(DEFAULT_FILE)


def test_default_file_is_the_one_app_reads() -> None:
    assert DEFAULT_FILE.name == DEFAULT_CONFIG


def test_default_file_loads(default: KmsflowConfig) -> None:
    assert [k.name for k in default.keys] == DEFAULT_KEYS
    assert default.partition == "aws"
    assert {name: a.id for name, a in default.accounts.items()} == {
        "security": "111111111111",
        "workloads": "222222222222",
        "partner": "333333333333",
    }
    assert default.regions == {"primary": "eu-west-1", "secondary": "eu-central-1"}
    assert default.tags == {"project": "kmsflow", "managed-by": "kmsflow"}
    assert default.account_id("workloads") == "222222222222"
    assert default.region_code("secondary") == "eu-central-1"


def test_default_file_loads_from_a_str_path_too() -> None:
    assert len(load_config(str(DEFAULT_FILE)).keys) == len(DEFAULT_KEYS)


@pytest.mark.parametrize(
    ("name", "spec", "usage", "rotation_days", "multi_region", "origin", "mode"),
    [
        ("data", "SYMMETRIC_DEFAULT", KeyUsage.ENCRYPT_DECRYPT, 180, False, KeyOrigin.AWS_KMS, "custom"),
        ("release-signing", "RSA_3072", KeyUsage.SIGN_VERIFY, None, False, KeyOrigin.AWS_KMS, "custom"),
        ("session-tokens", "HMAC_256", KeyUsage.GENERATE_VERIFY_MAC, None, False, KeyOrigin.AWS_KMS, "custom"),
        ("global-data", "SYMMETRIC_DEFAULT", KeyUsage.ENCRYPT_DECRYPT, 365, True, KeyOrigin.AWS_KMS, "custom"),
        ("workloads-default", "SYMMETRIC_DEFAULT", KeyUsage.ENCRYPT_DECRYPT, 365, False, KeyOrigin.AWS_KMS, "default"),
        ("shared-snapshots", "SYMMETRIC_DEFAULT", KeyUsage.ENCRYPT_DECRYPT, 365, False, KeyOrigin.AWS_KMS, "custom"),
        ("dr-snapshots", "SYMMETRIC_DEFAULT", KeyUsage.ENCRYPT_DECRYPT, 365, False, KeyOrigin.AWS_KMS, "custom"),
        ("partner-snapshots", "SYMMETRIC_DEFAULT", KeyUsage.ENCRYPT_DECRYPT, 365, True, KeyOrigin.AWS_KMS, "custom"),
    ],
    ids=DEFAULT_KEYS,
)
def test_default_keys_resolve(
    default: KmsflowConfig,
    name: str,
    spec: str,
    usage: KeyUsage,
    rotation_days: int | None,
    multi_region: bool,
    origin: KeyOrigin,
    mode: str,
) -> None:
    index = DEFAULT_KEYS.index(name)
    s = settings_of(default, index)
    assert (s.spec, s.usage, s.rotation_days, s.multi_region, s.origin) == (
        spec,
        usage,
        rotation_days,
        multi_region,
        origin,
    )
    assert s.rotation is (rotation_days is not None)
    assert s.deletion_window_days == 30
    assert default.keys[index].policy.mode == mode


def test_minimal_file_loads() -> None:
    text = "version: 1\naccounts:\n  main:\n    id: '012345678901'\nregions:\n  home: us-east-1\n"
    cfg = loads(text)
    assert cfg.keys == []
    assert cfg.tags == {}
    assert cfg.partition == "aws"
    assert cfg.accounts["main"].id == "012345678901"
    assert cfg.accounts["main"].description == ""
    assert cfg.regions == {"home": "us-east-1"}


def test_key_defaults() -> None:
    cfg = loads(dump(config(key("plain"))))
    k = cfg.keys[0]
    assert (k.spec, k.usage, k.rotation, k.rotation_days, k.deletion_window_days, k.origin, k.multi_region) == (
        "SYMMETRIC_DEFAULT",
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert (k.description, k.aliases, k.replicas, k.enabled, k.tags) == ("", [], [], True, {})
    p = k.policy
    assert (p.mode, p.root_access, p.separation_reason, p.service_users) == ("default", "admin", None, None)
    assert p.administrators == p.users == p.cross_account == p.organizations == p.statements == []


def test_key_defaults_resolve_to_yearly_rotation() -> None:
    s = settings_of(loads(dump(config(key("plain")))), 0)
    assert (s.usage, s.rotation, s.rotation_days, s.deletion_window_days, s.origin, s.multi_region) == (
        KeyUsage.ENCRYPT_DECRYPT,
        True,
        365,
        30,
        KeyOrigin.AWS_KMS,
        False,
    )


def test_rotation_false_on_symmetric_resolves_to_no_rotation() -> None:
    s = settings_of(loads(dump(config(key("plain", rotation=False)))), 0)
    assert (s.rotation, s.rotation_days) == (False, None)


def test_replicas_imply_multi_region() -> None:
    cfg = loads(dump(config(key("g", replicas=["secondary"]))))
    assert cfg.keys[0].multi_region is None
    assert settings_of(cfg, 0).multi_region is True


def test_partition_and_arn_principals_of_that_partition() -> None:
    data = config(key("k", policy={"mode": "custom", "users": ["arn:aws-us-gov:iam::111111111111:role/App"]}))
    data["partition"] = "aws-us-gov"
    cfg = loads(dump(data))
    assert cfg.partition == "aws-us-gov"
    assert cfg.keys[0].policy.users == ["arn:aws-us-gov:iam::111111111111:role/App"]


def test_loaded_config_is_frozen(default: KmsflowConfig) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        default.keys[0].name = "renamed"  # type: ignore[misc]


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert [(i.path, i.line) for i in info.value.issues] == [("", None)]
    expected = (
        f"{missing}: 1 configuration error:\n  {missing}: (top level): cannot read the file: No such file or directory"
    )
    assert str(info.value) == expected
