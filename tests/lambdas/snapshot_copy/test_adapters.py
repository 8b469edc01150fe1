"""The adapters' requests: what each copy call sends, option groups, and how EBS picks among tagged snapshots."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from botocore.stub import Stubber

from kmsflow.lambdas import aws_clients
from kmsflow.lambdas.errors import OptionGroupRequired
from kmsflow.lambdas.snapshot_copy import handlers
from kmsflow.lambdas.snapshot_copy.adapters import SnapshotRecord, adapter_for, percent
from tests.lambdas.snapshot_copy.helpers import (
    ACCOUNT,
    DESTINATION_REGION,
    SOURCE_REGION,
    World,
    client,
    execution,
    job_input,
    make_source,
)

COPY_OPERATION = {
    "rds-snapshot": ("CopyDBSnapshot", "SourceDBSnapshotIdentifier", "PreSignedUrl"),
    "aurora-cluster-snapshot": ("CopyDBClusterSnapshot", "SourceDBClusterSnapshotIdentifier", "PreSignedUrl"),
    "ebs-snapshot": ("CopySnapshot", "SourceSnapshotId", "PresignedUrl"),
}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The parameters of every call the product's clients send, by operation name (after boto3's presigning)."""
    calls: dict[str, dict[str, Any]] = {}
    factory = aws_clients.client

    def recording(*args: Any, **kwargs: Any) -> Any:
        made = factory(*args, **kwargs)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls[model.name] = dict(params["body"]) if isinstance(params.get("body"), dict) else dict(params)

        made.meta.events.register("before-call", record)
        return made

    monkeypatch.setattr(aws_clients, "client", recording)
    return calls


@pytest.mark.parametrize("kind", list(COPY_OPERATION))
def test_the_copy_request_names_the_key_the_source_and_carries_a_presigned_url(
    world: World, kind: str, sent: dict[str, dict[str, Any]]
) -> None:
    """boto3 turns ``SourceRegion`` into a URL presigned for the source region; moto does not check it."""
    job = handlers.validate(
        {"input": job_input(kind, make_source(world, kind), world.destination_key), "execution": execution()}, None
    )
    job = handlers.check_destination_key(handlers.check_source(handlers.prepare_source(job, None), None), None)
    job = handlers.start_copy(job, None)
    operation, source_param, url_param = COPY_OPERATION[kind]
    params = sent[operation]
    assert params["KmsKeyId"] == world.destination_key
    expected_source = job["source"]["snapshot_id"] if kind == "ebs-snapshot" else job["source"]["snapshot_arn"]
    assert params[source_param] == expected_source
    url = urlparse(params[url_param])
    assert SOURCE_REGION in url.netloc
    query = parse_qs(url.query)
    assert query["Action"] == [operation]
    assert query["DestinationRegion"] == [DESTINATION_REGION]
    assert "X-Amz-Signature" in query
    if kind == "ebs-snapshot":
        assert params["Encrypted"] == "true"
    else:
        assert params["CopyTags"] == "false"


def record(option_group: str | None = "og-tde", engine: str = "oracle-ee") -> SnapshotRecord:
    return SnapshotRecord(
        region=SOURCE_REGION,
        snapshot_id="s1",
        arn=f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:snapshot:s1",
        status="available",
        encrypted=True,
        kms_key_id="k",
        engine=engine,
        option_group=option_group,
    )


def stubbed_rds(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    rds = boto3.client("rds", region_name=SOURCE_REGION)
    stubber = Stubber(rds)
    stubber.activate()
    monkeypatch.setattr(aws_clients, "client", lambda *_args, **_kwargs: rds)
    return stubber


COPY_ARGS: dict[str, Any] = {
    "target_id": "kmsflow-0123456789abcdef",
    "kms_key_arn": "arn:aws:kms:eu-central-1:123456789012:key/k",
    "tags": {"kmsflow:job-id": "0123456789abcdef"},
}
COPIED = {
    "DBSnapshot": {
        "DBSnapshotIdentifier": "kmsflow-0123456789abcdef",
        "DBSnapshotArn": "arn:aws:rds:eu-central-1:123456789012:snapshot:kmsflow-0123456789abcdef",
        "Status": "creating",
        "Encrypted": True,
        "KmsKeyId": "k",
    }
}


def test_a_persistent_option_group_without_a_target_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle TDE: the source's option group holds a persistent option, so AWS needs a target option group."""
    stubber = stubbed_rds(monkeypatch)
    stubber.add_response(
        "describe_option_groups",
        {
            "OptionGroupsList": [
                {"OptionGroupName": "og-tde", "Options": [{"OptionName": "TDE", "Persistent": True, "Permanent": True}]}
            ]
        },
        {"OptionGroupName": "og-tde"},
    )
    adapter = adapter_for("rds", source_region=SOURCE_REGION, destination_region=DESTINATION_REGION)
    with pytest.raises(OptionGroupRequired, match=r"og-tde with persistent or permanent options \(TDE\)"):
        adapter.copy(record(), option_group_name=None, **COPY_ARGS)
    stubber.assert_no_pending_responses()


def test_a_given_option_group_is_passed_to_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole CopyDBSnapshot request as the adapter makes it (Stubber checks the arguments exactly)."""
    stubber = stubbed_rds(monkeypatch)
    expected = {
        "SourceDBSnapshotIdentifier": record().arn,
        "TargetDBSnapshotIdentifier": COPY_ARGS["target_id"],
        "KmsKeyId": COPY_ARGS["kms_key_arn"],
        "SourceRegion": SOURCE_REGION,
        "CopyTags": False,
        "Tags": [{"Key": "kmsflow:job-id", "Value": "0123456789abcdef"}],
        "OptionGroupName": "og-tde-eu-central-1",
    }
    stubber.add_response("copy_db_snapshot", COPIED, expected)
    adapter = adapter_for("rds", source_region=SOURCE_REGION, destination_region=DESTINATION_REGION)
    copied = adapter.copy(record(), option_group_name="og-tde-eu-central-1", **COPY_ARGS)
    stubber.assert_no_pending_responses()
    assert copied.status == "pending"


@pytest.mark.parametrize("group", [None, "default:oracle-ee-19"])
def test_a_default_or_no_option_group_needs_no_target(monkeypatch: pytest.MonkeyPatch, group: str | None) -> None:
    stubber = stubbed_rds(monkeypatch)
    stubber.add_response("copy_db_snapshot", COPIED)
    adapter = adapter_for("rds", source_region=SOURCE_REGION, destination_region=DESTINATION_REGION)
    assert adapter.copy(record(group), option_group_name=None, **COPY_ARGS).snapshot_id == "kmsflow-0123456789abcdef"
    stubber.assert_no_pending_responses()


def test_an_unknown_family_has_no_adapter() -> None:
    with pytest.raises(ValueError, match="unknown snapshot family 'rds-proxy'"):
        adapter_for("rds-proxy", source_region=SOURCE_REGION, destination_region=DESTINATION_REGION)


def test_ebs_find_copy_prefers_an_available_copy_over_a_failed_one(world: World) -> None:
    """Two tagged snapshots of one job (a failed copy left behind, then a good one): the good one is found."""
    from tests.lambdas.snapshot_copy.helpers import set_moto_status

    ec2 = client("ec2", DESTINATION_REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{DESTINATION_REGION}a", Size=1)["VolumeId"]
    tags = [
        {"Key": "kmsflow:job-id", "Value": "0123456789abcdef"},
        {"Key": "Name", "Value": "kmsflow-0123456789abcdef"},
    ]
    spec = [{"ResourceType": "snapshot", "Tags": tags}]
    failed = ec2.create_snapshot(VolumeId=volume, TagSpecifications=spec)["SnapshotId"]
    good = ec2.create_snapshot(VolumeId=volume, TagSpecifications=spec)["SnapshotId"]
    # The job's own source snapshot in the same region (a share's copy in place) carries the job tag too.
    source_spec = [
        {"ResourceType": "snapshot", "Tags": [tags[0], {"Key": "Name", "Value": "kmsflow-0123456789abcdef-src"}]}
    ]
    ec2.create_snapshot(VolumeId=volume, TagSpecifications=source_spec)
    set_moto_status("ebs", DESTINATION_REGION, failed, "error")
    adapter = adapter_for("ebs", source_region=SOURCE_REGION, destination_region=DESTINATION_REGION)
    found = adapter.find_copy("kmsflow-0123456789abcdef", job_id="0123456789abcdef")
    assert found is not None
    assert (found.snapshot_id, found.status) == (good, "available")
    assert adapter.find_copy("kmsflow-fedcba9876543210", job_id="fedcba9876543210") is None
    assert adapter.find_copy("kmsflow-0123456789abcdef-share", job_id="0123456789abcdef") is None


@pytest.mark.parametrize(
    ("reported", "expected"),
    [(42, 42), ("42%", 42), (" 7% ", 7), ("100%", 100), (None, None), ("", None), ("n/a", None), (True, None)],
)
def test_progress_figures_are_read_as_whole_percent(reported: object, expected: int | None) -> None:
    assert percent(reported) == expected
