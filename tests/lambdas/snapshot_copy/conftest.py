"""Fixtures of the snapshot-copy handler tests: moto in two regions, with EC2's default AMIs off and one fix.

``MOTO_EC2_LOAD_DEFAULT_AMIS=false`` is set with monkeypatch *before* ``mock_aws`` starts: moto reads it when
it (re)builds an EC2 region backend (at mock start and on first use), so no ~1,300 seeded snapshots appear.

moto 5.2.5 gap, patched here: ``CreateSnapshot`` of an encrypted volume returns a snapshot without
``KmsKeyId`` (AWS reports the volume's key). The patch copies the volume's key onto the new snapshot, so the
lineage tag ``kmsflow:source-key`` can be checked for EBS too; ``test_moto_facts.py`` shows the gap and the fix.

Speed: ``aws_clients.client`` makes a fresh boto3 Session per client, and each session parses the service's
JSON model again (measured: ec2 0.13-0.17 s, rds 0.05-0.13 s, kms 0.04 s per client). The ``aws`` fixture lets
those sessions share one botocore model loader; the factory's code (region, role, retry configuration) runs
unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models.elastic_block_store import EBSBackend

from kmsflow.lambdas import aws_clients
from tests.lambdas.snapshot_copy.helpers import World, make_world

_ORIGINAL_CREATE_SNAPSHOT = EBSBackend.create_snapshot


def _create_snapshot_with_volume_key(self: EBSBackend, *args: Any, **kwargs: Any) -> Any:
    snapshot = _ORIGINAL_CREATE_SNAPSHOT(self, *args, **kwargs)
    if snapshot.encrypted and snapshot.kms_key_id is None:
        snapshot.kms_key_id = snapshot.volume.kms_key_id
    return snapshot


@pytest.fixture
def unpatched_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto as released (default AMIs off), for the tests that show moto's own behaviour."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        yield


_LOADER = boto3.session.Session()._session.get_component("data_loader")
_ORIGINAL_SESSION_FOR = aws_clients.session_for


def _session_sharing_models(**kwargs: Any) -> Any:
    session = _ORIGINAL_SESSION_FOR(**kwargs)
    session._session.register_component("data_loader", _LOADER)
    return session


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, unpatched_aws: None) -> None:
    """moto with EBS snapshots that report their volume's KMS key, as AWS does; clients share parsed models."""
    monkeypatch.setattr(EBSBackend, "create_snapshot", _create_snapshot_with_volume_key)
    monkeypatch.setattr(aws_clients, "session_for", _session_sharing_models)


@pytest.fixture
def world(aws: None) -> World:
    """Keys in both regions (moto running)."""
    return make_world()
