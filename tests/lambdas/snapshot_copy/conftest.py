"""Fixtures of the snapshot-copy handler tests: moto in two regions, with EC2's default AMIs off and one fix.

``MOTO_EC2_LOAD_DEFAULT_AMIS=false`` is set with monkeypatch *before* ``mock_aws`` starts: moto reads it when
it (re)builds an EC2 region backend (at mock start and on first use), so no ~1,300 seeded snapshots appear.

moto 5.2.5 gap, patched here: ``CreateSnapshot`` of an encrypted volume returns a snapshot without
``KmsKeyId`` (AWS reports the volume's key). The patch copies the volume's key onto the new snapshot, so the
lineage tag ``kmsflow:source-key`` can be checked for EBS too; ``test_moto_facts.py`` shows the gap and the fix.

Speed: no fixture here shares botocore models; ``aws_clients`` itself shares one model loader between its
sessions, so each service model is parsed once per test process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.ec2.models.elastic_block_store import EBSBackend

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


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, unpatched_aws: None) -> None:
    """moto with EBS snapshots that report their volume's KMS key, as AWS does."""
    monkeypatch.setattr(EBSBackend, "create_snapshot", _create_snapshot_with_volume_key)


@pytest.fixture
def world(aws: None) -> World:
    """Keys in both regions (moto running)."""
    return make_world()
