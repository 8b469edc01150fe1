"""The audit stack of the default configuration, on its synthesized template (shared session synth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_all

from kmsflow.app import new_app
from kmsflow.auditspec import METRIC_NAMESPACE, USAGE_DIMENSIONS
from kmsflow.policy.document import principal_values
from kmsflow.stacks.audit_stack import AuditStack
from tests.constructs.filter_pattern import matches

STACK = "kmsflow-audit-security-primary"
ACCOUNT = "111111111111"
WORKLOADS = "222222222222"
#: The partner account holds a key (the share target's) since Workflows II: its trail delivers here too.
PARTNER = "333333333333"
TRAIL_ARN = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/kmsflow-audit"


@pytest.fixture(scope="module")
def tpl(default_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return default_templates[STACK]


def of_type(tpl: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in tpl["Resources"].values() if r["Type"] == kind]


def one(tpl: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = of_type(tpl, kind)
    return found


def key_statements(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in one(tpl, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]}


class TestTrail:
    def test_multi_region_validated_encrypted_with_logs(self, tpl: dict[str, Any]) -> None:
        props = one(tpl, "AWS::CloudTrail::Trail")["Properties"]
        assert props["TrailName"] == "kmsflow-audit"
        assert props["IsMultiRegionTrail"] is True
        assert props["IncludeGlobalServiceEvents"] is True
        assert props["EnableLogFileValidation"] is True
        assert props["IsLogging"] is True
        assert props["KMSKeyId"]["Fn::GetAtt"][1] == "Arn"
        assert props["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][1] == "Arn"

    def test_read_and_write_management_events_and_kms_never_excluded(self, tpl: dict[str, Any]) -> None:
        props = one(tpl, "AWS::CloudTrail::Trail")["Properties"]
        assert props["EventSelectors"] == [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]
        assert "ExcludeManagementEventSources" not in str(props)
        assert "AdvancedEventSelectors" not in props


class TestAuditKeyPolicy:
    def test_cloudtrail_generates_data_keys_only_for_this_trail_and_context(self, tpl: dict[str, Any]) -> None:
        stmt = key_statements(tpl)["CloudTrailEncryptLogs"]
        assert stmt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert stmt["Action"] == "kms:GenerateDataKey*"
        assert stmt["Condition"] == {
            "StringEquals": {"aws:SourceArn": TRAIL_ARN},
            "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"},
        }

    def test_cloudtrail_describes_the_key(self, tpl: dict[str, Any]) -> None:
        stmt = key_statements(tpl)["CloudTrailDescribeKey"]
        assert stmt["Action"] == "kms:DescribeKey"
        assert stmt["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}

    def test_auditors_decrypt_from_their_account_only(self, tpl: dict[str, Any]) -> None:
        stmt = key_statements(tpl)["AuditorsDecryptLogFiles"]
        assert principal_values(stmt) == [f"arn:aws:iam::{ACCOUNT}:role/Auditor"]
        assert sorted(stmt["Action"]) == ["kms:Decrypt", "kms:ReEncryptFrom"]
        assert stmt["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT}

    def test_cloudwatch_logs_uses_the_key_for_the_trail_log_group_only(self, tpl: dict[str, Any]) -> None:
        stmt = key_statements(tpl)["CloudWatchLogsForTrailLogGroup"]
        assert stmt["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
        assert stmt["Condition"] == {
            "ArnEquals": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:"
                "/kmsflow/cloudtrail/kmsflow-audit"
            }
        }

    def test_key_rotates_and_is_retained(self, tpl: dict[str, Any]) -> None:
        key = one(tpl, "AWS::KMS::Key")
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "Retain"

    def test_no_wildcard_principal_anywhere_in_the_key_policy(self, tpl: dict[str, Any]) -> None:
        for sid, stmt in key_statements(tpl).items():
            assert "*" not in principal_values(stmt), sid


class TestBucketsAndLogs:
    def test_both_buckets_are_private_versioned_retained_and_ssl_only(self, tpl: dict[str, Any]) -> None:
        buckets = of_type(tpl, "AWS::S3::Bucket")
        assert len(buckets) == 2
        for bucket in buckets:
            props = bucket["Properties"]
            assert bucket["DeletionPolicy"] == "Retain"
            assert props["VersioningConfiguration"] == {"Status": "Enabled"}
            assert props["PublicAccessBlockConfiguration"] == {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
        for policy in of_type(tpl, "AWS::S3::BucketPolicy"):
            denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
            assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)

    def test_trail_bucket_is_kms_encrypted_logged_and_has_a_lifecycle(self, tpl: dict[str, Any]) -> None:
        (trail_bucket,) = [b for b in of_type(tpl, "AWS::S3::Bucket") if "LoggingConfiguration" in b["Properties"]]
        props = trail_bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        # No Bucket Key: with one, creating the trail would need kms:Decrypt, which nobody holds.
        assert rule["BucketKeyEnabled"] is False
        assert props["BucketName"] == f"kmsflow-audit-{ACCOUNT}-eu-west-1"
        assert props["LoggingConfiguration"]["LogFilePrefix"] == "trail-bucket/"
        (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
        assert lifecycle["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 90}]
        assert lifecycle["ExpirationInDays"] == 2557

    def test_cloudtrail_may_deliver_only_for_the_declared_trails_each_under_its_own_prefix(
        self, tpl: dict[str, Any]
    ) -> None:
        statements = [
            s for p in of_type(tpl, "AWS::S3::BucketPolicy") for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        trail = [s for s in statements if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}]
        by_sid = {s["Sid"]: s for s in trail}
        accounts = (ACCOUNT, WORKLOADS, PARTNER)
        assert sorted(by_sid) == ["CloudTrailAclCheck", *(f"CloudTrailWrite{a}" for a in accounts)]
        assert by_sid["CloudTrailAclCheck"]["Condition"] == {
            "StringEquals": {"aws:SourceArn": [TRAIL_ARN.replace(ACCOUNT, a) for a in accounts]}
        }
        for account in accounts:
            write = by_sid[f"CloudTrailWrite{account}"]
            assert write["Effect"] == "Allow"
            assert write["Action"] == "s3:PutObject"
            assert write["Resource"]["Fn::Join"][1][1] == f"/AWSLogs/{account}/*"
            assert write["Condition"] == {
                "StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": TRAIL_ARN.replace(ACCOUNT, account),
                }
            }

    def test_log_group_is_encrypted_with_retention(self, tpl: dict[str, Any]) -> None:
        group = one(tpl, "AWS::Logs::LogGroup")
        assert group["Properties"]["LogGroupName"] == "/kmsflow/cloudtrail/kmsflow-audit"
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"
        assert group["DeletionPolicy"] == "Retain"


def kms_event(name: str, **extra: Any) -> dict[str, Any]:
    return {"eventSource": "kms.amazonaws.com", "eventName": name, **extra}


def filter_for(tpl: dict[str, Any], metric: str) -> str:
    (found,) = [
        f["Properties"]["FilterPattern"]
        for f in of_type(tpl, "AWS::Logs::MetricFilter")
        if f["Properties"]["MetricTransformations"][0]["MetricName"] == metric
    ]
    return found


@pytest.mark.parametrize(
    ("metric", "hits", "misses"),
    [
        (
            "KeyDisabledOrScheduledForDeletion",
            [kms_event("DisableKey"), kms_event("ScheduleKeyDeletion")],
            [
                kms_event("EnableKey"),
                kms_event("CancelKeyDeletion"),
                {"eventSource": "ec2.amazonaws.com", "eventName": "DisableKey"},
            ],
        ),
        ("KeyPolicyChanged", [kms_event("PutKeyPolicy")], [kms_event("GetKeyPolicy")]),
        (
            "GrantToOutsidePrincipal",
            [kms_event("CreateGrant", requestParameters={"granteePrincipal": "arn:aws:iam::999999999999:role/X"})],
            [
                kms_event("CreateGrant", requestParameters={"granteePrincipal": "arn:aws:iam::222222222222:role/App"}),
                kms_event("CreateGrant", requestParameters={"granteePrincipal": "rds.eu-west-1.amazonaws.com"}),
                kms_event("RetireGrant", requestParameters={"granteePrincipal": "arn:aws:iam::999999999999:role/X"}),
            ],
        ),
        (
            "KeyMaterialImportedOrDeleted",
            [kms_event("ImportKeyMaterial"), kms_event("DeleteImportedKeyMaterial")],
            [kms_event("GetParametersForImport")],
        ),
        (
            "AccessDeniedBurst",
            [kms_event("Decrypt", errorCode="AccessDenied"), kms_event("Decrypt", errorCode="AccessDeniedException")],
            [kms_event("Decrypt"), kms_event("Decrypt", errorCode="ThrottlingException")],
        ),
    ],
)
def test_each_metric_filter_matches_exactly_its_events(
    tpl: dict[str, Any], metric: str, hits: list[dict[str, Any]], misses: list[dict[str, Any]]
) -> None:
    pattern = filter_for(tpl, metric)
    for event in hits:
        assert matches(pattern, event), (metric, event)
    for event in misses:
        assert not matches(pattern, event), (metric, event)


def test_every_alarm_notifies_the_encrypted_topic(tpl: dict[str, Any]) -> None:
    topic_ids = [lid for lid, r in tpl["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    assert len(topic_ids) == 1
    topic = tpl["Resources"][topic_ids[0]]
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][1] == "Arn"
    alarms = of_type(tpl, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_ids[0]}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_ids[0]}]
    filters = {
        f["Properties"]["MetricTransformations"][0]["MetricName"] for f in of_type(tpl, "AWS::Logs::MetricFilter")
    }
    assert {a["Properties"].get("MetricName") for a in alarms if "MetricName" in a["Properties"]} == filters
    assert {a["Properties"].get("Namespace") for a in alarms if "Namespace" in a["Properties"]} == {METRIC_NAMESPACE}


def test_access_denied_alarm_uses_the_configured_threshold(tpl: dict[str, Any]) -> None:
    (alarm,) = [
        a for a in of_type(tpl, "AWS::CloudWatch::Alarm") if a["Properties"].get("MetricName") == "AccessDeniedBurst"
    ]
    assert alarm["Properties"]["Threshold"] == 10
    assert alarm["Properties"]["Period"] == 300


def test_request_quota_alarm_compares_usage_with_the_service_quota(tpl: dict[str, Any]) -> None:
    (alarm,) = [a for a in of_type(tpl, "AWS::CloudWatch::Alarm") if "Metrics" in a["Properties"]]
    props = alarm["Properties"]
    assert props["Threshold"] == 80
    expression = next(m for m in props["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "(calls / 60) / SERVICE_QUOTA(calls) * 100"
    usage = next(m for m in props["Metrics"] if "MetricStat" in m)["MetricStat"]
    assert usage["Metric"]["Namespace"] == "AWS/Usage"
    assert usage["Metric"]["MetricName"] == "CallCount"
    assert {d["Name"]: d["Value"] for d in usage["Metric"]["Dimensions"]} == USAGE_DIMENSIONS
    assert usage["Stat"] == "Sum"


def test_subscription_from_the_configuration(tpl: dict[str, Any]) -> None:
    sub = one(tpl, "AWS::SNS::Subscription")["Properties"]
    assert (sub["Protocol"], sub["Endpoint"]) == ("email", "security-alerts@example.com")


def test_cfn_lint_reports_no_error_on_the_audit_and_keys_templates(
    default_templates: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    for name, template in default_templates.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        errors = [m for m in lint_all(path.read_text()) if m.rule.id.startswith("E")]
        assert errors == [], (name, [str(e) for e in errors])


def small_audit_stack(name: str, **overrides: Any) -> dict[str, Any]:
    """The template of one audit stack beside the default app's: no lifecycle, thresholds 3 and 50 %."""
    props: dict[str, Any] = {
        "bucket_name": f"{name.lower()}-bucket",
        "administrators": [],
        "auditors": [],
        "organization_trail": False,
        "organization_id": None,
        "log_retention_days": 365,
        "transition_to_glacier_days": None,
        "expire_days": None,
        "trusted_accounts": [ACCOUNT],
        "access_denied_threshold": 3,
        "request_quota_percent": 50,
    }
    app = new_app()
    stack = AuditStack(app, name, env={"account": ACCOUNT, "region": "eu-west-1"}, **{**props, **overrides})
    return dict(app.synth().get_stack_by_name(stack.stack_name).template)


def test_organization_trail_and_arn_subscriptions() -> None:
    """A second, small audit stack: organization trail, SQS and Lambda subscriptions, no lifecycle."""
    tpl = small_audit_stack(
        "OrgAudit",
        trail_name="org-audit",
        organization_trail=True,
        organization_id="o-abcdefghij",
        log_retention_days=3653,
        subscriptions=[
            ("sqs", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:alerts"),
            ("lambda", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:pager"),
        ],
    )
    assert one(tpl, "AWS::CloudTrail::Trail")["Properties"]["IsOrganizationTrail"] is True
    assert "AuditorsDecryptLogFiles" not in key_statements(tpl)
    assert one(tpl, "AWS::Logs::LogGroup")["Properties"]["RetentionInDays"] == 3653
    protocols = sorted(s["Properties"]["Protocol"] for s in of_type(tpl, "AWS::SNS::Subscription"))
    assert protocols == ["lambda", "sqs"]
    for bucket in of_type(tpl, "AWS::S3::Bucket"):
        (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert "ExpirationInDays" not in rule
        assert "Transitions" not in rule
    thresholds = {
        a["Properties"].get("MetricName"): a["Properties"]["Threshold"] for a in of_type(tpl, "AWS::CloudWatch::Alarm")
    }
    assert thresholds["AccessDeniedBurst"] == 3
    assert thresholds[None] == 50  # the request-quota alarm (a metric-math alarm has no MetricName)
    writes = {
        s["Sid"]: s["Resource"]["Fn::Join"][1][1]
        for p in of_type(tpl, "AWS::S3::BucketPolicy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid", "").startswith("CloudTrailWrite")
    }
    # An organization trail also writes under the organization id (AWSLogs/o-.../<account>/...).
    assert writes == {
        f"CloudTrailWrite{ACCOUNT}": f"/AWSLogs/{ACCOUNT}/*",
        "CloudTrailWriteoabcdefghij": "/AWSLogs/o-abcdefghij/*",
    }


class TestMemberAccountTrail:
    """The workloads account holds keys: its own trail delivers to the central bucket."""

    @pytest.fixture
    def member(self, default_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return default_templates["kmsflow-audit-workloads-primary"]

    def test_it_delivers_to_the_central_bucket_and_owns_no_bucket(self, member: dict[str, Any]) -> None:
        props = one(member, "AWS::CloudTrail::Trail")["Properties"]
        assert props["S3BucketName"] == f"kmsflow-audit-{ACCOUNT}-eu-west-1"
        assert props["IsMultiRegionTrail"] is True
        assert props["TrailName"] == "kmsflow-audit"
        assert of_type(member, "AWS::S3::Bucket") == []
        assert of_type(member, "AWS::S3::BucketPolicy") == []

    def test_its_key_serves_its_own_trail_and_the_central_auditors(self, member: dict[str, Any]) -> None:
        statements = key_statements(member)
        member_trail = TRAIL_ARN.replace(ACCOUNT, WORKLOADS)
        assert statements["CloudTrailEncryptLogs"]["Condition"]["StringEquals"] == {"aws:SourceArn": member_trail}
        auditors = statements["AuditorsDecryptLogFiles"]
        assert principal_values(auditors) == [f"arn:aws:iam::{ACCOUNT}:role/Auditor"]
        assert auditors["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT}
        assert auditors["Condition"]["StringLike"] == {
            "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{WORKLOADS}:trail/*"
        }

    def test_its_key_is_administered_by_its_own_account_only(self, member: dict[str, Any]) -> None:
        statements = key_statements(member)
        assert "KeyAdministrators" not in statements
        root = statements["RootAccountAdministration"]
        assert principal_values(root) == [f"arn:aws:iam::{WORKLOADS}:root"]
        assert "kms:Decrypt" not in root["Action"]

    def test_its_alarms_notify_its_own_topic(self, member: dict[str, Any]) -> None:
        names = {a["Properties"].get("MetricName") for a in of_type(member, "AWS::CloudWatch::Alarm")}
        assert "KeyDisabledOrScheduledForDeletion" in names
        topic = next(iter(r for r, v in member["Resources"].items() if v["Type"] == "AWS::SNS::Topic"))
        for alarm in of_type(member, "AWS::CloudWatch::Alarm"):
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]


def test_without_cloudwatch_logs_there_is_no_log_group_role_or_log_alarm() -> None:
    tpl = small_audit_stack("NoLogs", trail_name="quiet", cloudwatch_logs=False)
    props = one(tpl, "AWS::CloudTrail::Trail")["Properties"]
    assert "CloudWatchLogsLogGroupArn" not in props
    assert "CloudWatchLogsRoleArn" not in props
    assert of_type(tpl, "AWS::Logs::LogGroup") == []
    assert of_type(tpl, "AWS::IAM::Role") == []
    assert "CloudWatchLogsForTrailLogGroup" not in key_statements(tpl)
    assert of_type(tpl, "AWS::Logs::MetricFilter") == []
    (quota,) = of_type(tpl, "AWS::CloudWatch::Alarm")  # the request-rate alarm needs no log group
    assert quota["Properties"]["Threshold"] == 50
