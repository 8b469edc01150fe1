"""The key-setting rules: KR08 rotation-off, KR09 short-deletion-window."""

from __future__ import annotations

import dataclasses

from kmsflow.review.findings import rotation_off, short_deletion_window
from kmsflow.review.model import Severity
from tests.review.test_findings_context import KEY, context, summary

PRIMARY = "arn:aws:kms:eu-west-1:111111111111:key/keys-Primary"


def test_kr08_rotation_off() -> None:
    findings = rotation_off.check(context(key=dataclasses.replace(KEY, rotation=False, rotation_period_days=None)))
    assert summary(findings) == [("KR08", Severity.MEDIUM, None, None)]
    assert findings[0].message.startswith("automatic key rotation is off (EnableKeyRotation false); set")


def test_kr08_a_replica_points_at_its_primary() -> None:
    replica = dataclasses.replace(KEY, rotation=False, primary=PRIMARY, resource_type="AWS::KMS::ReplicaKey")
    findings = rotation_off.check(context(key=replica))
    assert summary(findings) == [("KR08", Severity.MEDIUM, None, None)]
    assert f"{PRIMARY} does not rotate; set EnableKeyRotation: true on the primary key" in findings[0].message


def test_kr08_negative_rotation_on_or_not_applicable() -> None:
    assert rotation_off.check(context()) == []
    signing = dataclasses.replace(KEY, spec="RSA_3072", usage="SIGN_VERIFY", rotation=None)
    assert rotation_off.check(context(key=signing)) == []


def test_kr09_a_deletion_window_under_30_days() -> None:
    findings = short_deletion_window.check(context(key=dataclasses.replace(KEY, deletion_window_days=7)))
    assert summary(findings) == [("KR09", Severity.LOW, None, None)]
    assert findings[0].message.startswith("the deletion window is 7 days (PendingWindowInDays); set 30")


def test_kr09_negative_30_days() -> None:
    assert short_deletion_window.check(context()) == []
