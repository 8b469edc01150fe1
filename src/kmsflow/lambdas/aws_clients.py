"""The one place where kmsflow creates boto3 clients (Lambda handlers and the CLI alike).

Clients are made per call, never at import time, for a region and optionally through an assumed role, with
an explicit retry configuration: botocore's ``standard`` mode retries throttling errors
(``ThrottlingException``, ``RequestLimitExceeded``, ``Throttling``) with exponential back-off and jitter.

Two things are cached process-wide, because Lambda reuses a container across invocations and a handler makes
several clients per invocation:

* **The botocore model loader.** Every new boto3 Session starts with an empty loader and parses the service's
  JSON model again (measured 40-150 ms per client: ec2 is the largest). All sessions made here share the
  loader of the first one, so each model is parsed once per process. Only the loader is shared: every call
  still gets a fresh Session, so credentials (environment variables, profile, container role) are resolved
  per call exactly as before, and nothing about one client leaks into the next.
* **Assumed-role credentials**, per (role, session name, external id, region), until :data:`REFRESH_MARGIN` before their
  ``Expiration``: one ``sts:AssumeRole`` per role and container instead of one per client. Clients are
  short-lived (one invocation, one CLI step), so each gets credentials valid for at least that margin.

Both caches start empty and fill on first use (nothing happens at import time). :func:`reset` empties them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

#: For a person waiting at a terminal (the ``kmsflow`` command): two attempts of at most 3 s to connect and
#: 10 s to read. Measured here: a refused connection fails at once (RETRY_CONFIG: 18 s of ten attempts), an
#: endpoint that accepts but never answers after 20 s (RETRY_CONFIG: ten reads of 60 s).
INTERACTIVE_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=3,
    read_timeout=10,
)

#: Cached assumed-role credentials are used until this long before they expire, then the role is assumed again.
REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class _RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


# One lock for both caches; it is never held during an AWS call (two threads missing the cache at once may
# both assume the role: harmless, the later credentials win).
_lock = threading.Lock()
_loader: Any = None
_role_credentials: dict[tuple[str, str, str | None, str], _RoleCredentials] = {}


def reset(*, keep_models: bool = False) -> None:
    """Forget every cached assumed-role credential and, unless ``keep_models``, the shared model loader
    (models never change within a process; a test suite keeps them so that each test does not parse them again).

    For tests, which start a fresh moto backend per test: credentials assumed in one mock are unknown to the
    next (moto would then silently answer as its default account). And for credential rotation: when the
    caller's own credentials change (rotated keys, another profile) or the role's sessions are revoked, cached
    role credentials would otherwise be used until they expire; after ``reset()`` the role is assumed again.
    """
    global _loader
    with _lock:
        if not keep_models:
            _loader = None
        _role_credentials.clear()


def _now() -> datetime:
    """The wall clock, timezone-aware (STS expirations are). A function so that tests can move time on."""
    return datetime.now(UTC)


def _new_session(**kwargs: Any) -> Any:
    """A fresh boto3 Session (its own credential resolution) that parses service models through the shared loader."""
    global _loader
    session = boto3.session.Session(**kwargs)
    with _lock:
        if _loader is None:
            # Adopt the first session's loader rather than building one: it is set up exactly as boto3 sets up
            # every session's (AWS_DATA_PATH, boto3's own data directory).
            _loader = session._session.get_component("data_loader")
            return session
        loader = _loader
    session._session.register_component("data_loader", loader)
    return session


def _assumed(*, region: str, role_arn: str, session_name: str, external_id: str | None) -> _RoleCredentials:
    """The role's credentials: cached ones while they have more than :data:`REFRESH_MARGIN` left, else new."""
    key = (role_arn, session_name, external_id, region)
    with _lock:
        cached = _role_credentials.get(key)
    if cached is not None and _now() < cached.expiration - REFRESH_MARGIN:
        return cached
    sts = _new_session(region_name=region).client("sts", region_name=region, config=RETRY_CONFIG)
    params = {"RoleArn": role_arn, "RoleSessionName": session_name[:64]}
    if external_id is not None:
        params["ExternalId"] = external_id
    creds = sts.assume_role(**params)["Credentials"]
    fresh = _RoleCredentials(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        expiration=creds["Expiration"],
    )
    with _lock:
        _role_credentials[key] = fresh
    return fresh


def session_for(
    *, region: str, role_arn: str | None = None, session_name: str = "kmsflow", external_id: str | None = None
) -> Any:
    """A boto3 session in ``region``; with ``role_arn``, one holding that role's temporary credentials (assumed
    with ``external_id`` when the role's trust policy asks for one: a role of another account)."""
    if role_arn is None:
        return _new_session(region_name=region)
    creds = _assumed(region=region, role_arn=role_arn, session_name=session_name, external_id=external_id)
    return _new_session(
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        region_name=region,
    )


def client(
    service: str,
    *,
    region: str,
    role_arn: str | None = None,
    session_name: str = "kmsflow",
    external_id: str | None = None,
    config: Config = RETRY_CONFIG,
) -> Any:
    """A boto3 client for ``service`` in ``region`` (through ``role_arn`` when given), with retries
    (:data:`RETRY_CONFIG` for handlers, :data:`INTERACTIVE_CONFIG` for commands a person waits on)."""
    session = session_for(region=region, role_arn=role_arn, session_name=session_name, external_id=external_id)
    return session.client(service, region_name=region, config=config)
