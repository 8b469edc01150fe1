"""userIdentity -> principal, for every documented identity type."""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.audit.usage.identity import principal_of, role_arn_from_session

from . import factory as f


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        # A role session is reported as its role (sessionContext.sessionIssuer.arn), not the session.
        (f.assumed_role("AppRuntime", "i-0abc"), (f.role_arn("AppRuntime"), "role", f.ACCOUNT)),
        (f.iam_user("Alice"), (f"arn:aws:iam::{f.ACCOUNT}:user/Alice", "user", f.ACCOUNT)),
        (f.root(), (f"arn:aws:iam::{f.ACCOUNT}:root", "root", f.ACCOUNT)),
        (f.aws_service("rds.amazonaws.com"), ("rds.amazonaws.com", "service", "")),
        (f.aws_account(f.PARTNER), (f"account:{f.PARTNER}", "account", f.PARTNER)),
        (
            f.federated_user("bob"),
            (f"arn:aws:sts::{f.ACCOUNT}:federated-user/bob", "federated", f.ACCOUNT),
        ),
        (f.kms_internal(), ("AWS Internal", "service", "")),
        (None, ("-", "unknown", "")),
    ],
)
def test_principal_of_each_identity_type(identity: Any, expected: tuple[str, str, str]) -> None:
    assert principal_of(identity) == expected


def test_two_sessions_of_one_role_are_one_principal() -> None:
    first = principal_of(f.assumed_role("BatchJob", "run-1"))
    second = principal_of(f.assumed_role("BatchJob", "run-2"))
    assert first == second == (f.role_arn("BatchJob"), "role", f.ACCOUNT)


def test_assumed_role_without_session_issuer_uses_the_session_arn() -> None:
    identity = f.assumed_role("Deployer", "s")
    del identity["sessionContext"]
    assert principal_of(identity) == (f.role_arn("Deployer"), "role", f.ACCOUNT)


def test_role_arn_from_session_keeps_partition_and_account() -> None:
    arn = "arn:aws-cn:sts::123456789012:assumed-role/Reader/alice@example.com"
    assert role_arn_from_session(arn) == "arn:aws-cn:iam::123456789012:role/Reader"
    assert role_arn_from_session("not-an-arn") == "not-an-arn"


def test_identity_center_user_without_arn_uses_its_user_id() -> None:
    identity = {
        "type": "IdentityCenterUser",
        "accountId": f.ACCOUNT,
        "onBehalfOf": {
            "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
            "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1",
        },
        "credentialId": "EXAMPLE",
    }
    assert principal_of(identity) == (
        "identity-center:544894e8-80c1-707f-60e3-3ba6510dfac1",
        "identity-center-user",
        f.ACCOUNT,
    )


@pytest.mark.parametrize("identity", ["alice", ["x"], {"type": 3}, {"type": "IAMUser", "accountId": 111}])
def test_wrong_shapes_are_malformed(identity: Any) -> None:
    assert principal_of(identity) is None
