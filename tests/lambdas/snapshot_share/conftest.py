"""Fixtures of the share handler tests: the copy tests' moto set-up plus the share machine's environment.

The source side runs in moto's default account (one account is enough for what these tests prove: the input
rules, what is made shareable, the grant and the share, and their revocation). The target side, in another
account through its copy role, is proven end to end on the two-account harness (tests/workflows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.lambdas.snapshot_copy.conftest import _create_snapshot_with_volume_key
from tests.lambdas.snapshot_copy.helpers import ACCOUNT, DESTINATION_REGION, SOURCE_REGION, client

TARGET_ACCOUNT = "333333333333"
TARGET_ROLES = {
    region: f"arn:aws:iam::{TARGET_ACCOUNT}:role/kmsflow-share-{ACCOUNT}-{SOURCE_REGION}-{region}"
    for region in (SOURCE_REGION, DESTINATION_REGION)
}
EXTERNAL_ID = f"kmsflow-share-{ACCOUNT}-{SOURCE_REGION}"
RETIRING_ROLE = f"arn:aws:iam::{ACCOUNT}:role/kmsflow-snapshot-share-{SOURCE_REGION}-revoke"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws
    from moto.ec2.models.elastic_block_store import EBSBackend

    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        monkeypatch.setattr(EBSBackend, "create_snapshot", _create_snapshot_with_volume_key)
        yield


@pytest.fixture
def sharing_key(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The machine's sharing key in the source region, and the environment the construct sets."""
    arn = str(client("kms", SOURCE_REGION).create_key(Description="sharing")["KeyMetadata"]["Arn"])
    targets = {TARGET_ACCOUNT: {"regions": list(TARGET_ROLES), "roles": TARGET_ROLES, "external_id": EXTERNAL_ID}}
    monkeypatch.setenv("KMSFLOW_SHARE_TARGETS", json.dumps(targets))
    monkeypatch.setenv("KMSFLOW_SHARING_KEYS", json.dumps({SOURCE_REGION: arn}))
    monkeypatch.setenv("KMSFLOW_RETIRING_ROLE", RETIRING_ROLE)
    return arn
