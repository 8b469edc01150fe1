"""Shared fixtures of the envelope tests: test keyrings and a moto KMS key.

Every test here runs without network: moto's ``mock_aws`` for KMS, dummy credentials from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmsflow.lambdas.aws_clients import session_for
from tests.envelope.raw_aes_keyring import FixedKeyring, RawAesKeyring

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@dataclass
class KmsKey:
    """A symmetric KMS key in moto's default account, and a client for its region."""

    client: Any
    arn: str
    key_id: str


@pytest.fixture
def fixed_keyring() -> FixedKeyring:
    """One fixed data key, a fake encrypted data key: the format tests' keyring."""
    return FixedKeyring()


@pytest.fixture
def raw_aes_keyring() -> RawAesKeyring:
    """The AWS Encryption SDK's Raw AES keyring format, with a fixed wrapping key."""
    return RawAesKeyring("kmsflow-tests", "wrapping-key-1", bytes(range(100, 132)))


@pytest.fixture
def kms_key() -> Iterator[KmsKey]:
    """A symmetric ENCRYPT_DECRYPT key under moto (region eu-west-1, account 123456789012)."""
    with mock_aws():
        client = boto3.client("kms", region_name=REGION)
        metadata = client.create_key(Description="kmsflow envelope tests")["KeyMetadata"]
        yield KmsKey(client=client, arn=metadata["Arn"], key_id=metadata["KeyId"])


@dataclass
class Kms:
    """Two moto KMS keys (``key``, ``other_key``) and a client that records the name of every operation it sends
    after the keys were made (``sent``): the direct-mode and deferred-key tests count KMS calls."""

    client: Any
    key: str
    other_key: str
    sent: list[str]


@pytest.fixture
def kms() -> Iterator[Kms]:
    with mock_aws():
        client = session_for(region=REGION).client("kms", region_name=REGION)
        key = client.create_key()["KeyMetadata"]["Arn"]
        other = client.create_key()["KeyMetadata"]["Arn"]
        sent: list[str] = []
        client.meta.events.register("request-created.kms", lambda operation_name, **_: sent.append(operation_name))
        yield Kms(client, key, other, sent)
