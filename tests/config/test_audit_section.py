"""The `audit:` section: every check of its meaning, with path and message."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kmsflow.app import new_app, populate
from kmsflow.config import parse_config
from kmsflow.errors import ConfigError

BASE: dict[str, Any] = {
    "version": 1,
    "accounts": {"security": {"id": "111111111111"}, "workloads": {"id": "222222222222"}},
    "regions": {"primary": "eu-west-1"},
    "audit": {"account": "security", "region": "primary"},
}


def with_audit(**changes: Any) -> str:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["audit"].update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def issues(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "a.yaml")
    return [(i.path, i.message) for i in err.value.issues]


def test_a_minimal_audit_section_is_valid_with_defaults() -> None:
    audit = parse_config(with_audit()).audit
    assert audit is not None
    assert (audit.trail_name, audit.log_retention_days, audit.organization_trail) == ("kmsflow-audit", 365, False)
    assert (audit.bucket.transition_to_glacier_days, audit.bucket.expire_days) == (90, 2557)
    assert (audit.alarms.access_denied_threshold, audit.alarms.request_quota_percent) == (10, 80)


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"account": "nobody"}, "audit.account", "unknown account 'nobody'; declared accounts: security, workloads"),
        ({"region": "mars"}, "audit.region", "unknown region 'mars'; declared regions: primary"),
        (
            {"log_retention_days": 100},
            "audit.log_retention_days",
            "log_retention_days is 100; CloudWatch Logs accepts only 1, 3, 5",
        ),
        ({"auditors": ["workloads:role/Auditor"]}, "audit.auditors[0]", "must be in the audit account 'security'"),
        (
            {"administrators": ["ghost:role/A"]},
            "audit.administrators[0]",
            "names account 'ghost', which is not declared",
        ),
        ({"organization_trail": True}, "audit.organization_id", "an organization trail needs organization_id"),
        (
            {"alarms": {"subscriptions": [{"protocol": "email", "endpoint": "not-an-address"}]}},
            "audit.alarms.subscriptions[0].endpoint",
            "endpoint 'not-an-address' is not an e-mail address, which protocol email needs",
        ),
        (
            {"alarms": {"subscriptions": [{"protocol": "sqs", "endpoint": "https://queue"}]}},
            "audit.alarms.subscriptions[0].endpoint",
            "is not an SQS queue ARN",
        ),
        (
            {"alarms": {"organization_accounts": ["security", "elsewhere"]}},
            "audit.alarms.organization_accounts[1]",
            "unknown account 'elsewhere'",
        ),
        (
            {"bucket": {"transition_to_glacier_days": 90, "expire_days": 30}},
            "audit.bucket.expire_days",
            "expire_days (30) must be after transition_to_glacier_days (90)",
        ),
        ({"trail_name": "a b"}, "audit.trail_name", "a trail name has 3 to 128 letters, digits"),
        ({"alarms": {"request_quota_percent": 120}}, "audit.alarms.request_quota_percent", "less than or equal to 100"),
        ({"colour": "red"}, "audit.colour", "unknown field 'colour'; allowed here: account, region, trail_name"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("audit") else None,
)
def test_audit_problems(changes: dict[str, Any], path: str, fragment: str) -> None:
    found = issues(with_audit(**changes))
    assert [p for p, _ in found] == [path]
    assert fragment in found[0][1]


def test_too_many_organization_accounts_for_one_filter_pattern_is_a_config_error() -> None:
    """CloudWatch Logs caps a filter pattern at 1,024 characters; the construct refuses, the app names the field."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["accounts"].update({f"a{i:02d}": {"id": f"1{i:011d}"} for i in range(1, 41)})
    config = parse_config(yaml.safe_dump(data), "a.yaml")
    with pytest.raises(ConfigError) as err:
        populate(new_app(), config, source="a.yaml", nag=False)
    (issue,) = err.value.issues
    assert issue.path == "audit.alarms.organization_accounts"
    assert "the GrantToOutsidePrincipal filter pattern is" in issue.message
    assert "CloudWatch Logs allows 1024" in issue.message
