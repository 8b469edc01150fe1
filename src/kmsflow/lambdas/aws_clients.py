"""The one place where kmsflow creates boto3 clients (Lambda handlers and the CLI alike).

Clients are made per call, never at import time, for a region and optionally through an assumed role, with
an explicit retry configuration: botocore's ``standard`` mode retries throttling errors
(``ThrottlingException``, ``RequestLimitExceeded``, ``Throttling``) with exponential back-off and jitter.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

#: Attempts per API call, first one included. KMS and EC2 throttle in bursts; ten attempts of the standard
#: mode's capped exponential back-off ride out a few seconds of throttling before an error surfaces.
MAX_ATTEMPTS = 10

RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=10,
    read_timeout=60,
)


def session_for(*, region: str, role_arn: str | None = None, session_name: str = "kmsflow") -> Any:
    """A boto3 session in ``region``; with ``role_arn``, one holding that role's temporary credentials."""
    base = boto3.session.Session(region_name=region)
    if role_arn is None:
        return base
    sts = base.client("sts", region_name=region, config=RETRY_CONFIG)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def client(service: str, *, region: str, role_arn: str | None = None, session_name: str = "kmsflow") -> Any:
    """A boto3 client for ``service`` in ``region`` (through ``role_arn`` when given), with retries."""
    session = session_for(region=region, role_arn=role_arn, session_name=session_name)
    return session.client(service, region_name=region, config=RETRY_CONFIG)
