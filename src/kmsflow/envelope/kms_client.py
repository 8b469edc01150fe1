"""The KMS clients the envelope makes: botocore's own retries off, timeouts set; one per region
(:class:`KmsClients`), since a decrypting keyring calls KMS in the region an encrypted data key's ARN names.

Retries belong to :mod:`kmsflow.envelope.retry`, which counts them. botocore's ``standard`` mode would retry the
same throttles again inside each of our attempts (8 x 3 requests instead of 8), hide them from the counters,
and retry ``LimitExceededException`` too (botocore/retries/standard.py lists it among throttling codes). So the
client is made with ``retries={"total_max_attempts": 1, "mode": "standard"}``: one attempt, the initial request
included. (botocore's client-config key ``max_attempts`` counts *retries*, so ``{"max_attempts": 1}`` would
allow two requests: botocore/args.py, ``_compute_retry_max_attempts``.)

Timeouts: a KMS cryptographic call answers in milliseconds; a connection that takes more than
:data:`CONNECT_TIMEOUT` seconds or a response that takes more than :data:`READ_TIMEOUT` fails that attempt
with a connection error, which the retry policy treats as transient.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from kmsflow.envelope.exceptions import ConfigurationError
from kmsflow.lambdas.aws_clients import session_for

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 15

#: botocore configuration of every client made here.
CLIENT_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
    user_agent_extra="kmsflow-envelope",
)


def kms_client(region: str | None = None, session: Any = None) -> Any:
    """A KMS client in ``region`` (default: the session's or the environment's region) from ``session`` (a
    ``boto3.Session``; default: a fresh one that resolves credentials as boto3 does, sharing kmsflow's parsed
    service models)."""
    if session is None:
        session = session_for(region=region or default_region())
    region = region or session.region_name or default_region()
    return session.client("kms", region_name=region, config=CLIENT_CONFIG)


def client_region(client: Any) -> str:
    """The region a boto3 client sends its requests to."""
    return str(client.meta.region_name)


def default_region() -> str:
    """The region boto3 resolves without being told one (``AWS_REGION``/``AWS_DEFAULT_REGION``, profile)."""
    region = boto3.session.Session().region_name
    if not region:
        raise ConfigurationError(
            "no AWS region: neither a region nor a session with one was given, and boto3 resolves none "
            "(AWS_REGION, AWS_DEFAULT_REGION, the profile's region are unset): pass region=..., a session with a "
            "region, or set AWS_REGION"
        )
    return str(region)


class KmsClients:
    """One KMS client per region, made on first use and shared by threads (boto3 clients are thread-safe).
    A client passed in serves its own region; other regions get clients from ``session`` (or boto3's default
    credentials)."""

    def __init__(self, client: Any = None, region: str | None = None, session: Any = None) -> None:
        self._session = session
        self._region = region or (client_region(client) if client is not None else None)
        self._clients: dict[str, Any] = {}
        if client is not None:
            self._clients[client_region(client)] = client
        self._lock = threading.Lock()

    def default(self) -> Any:
        """The client of the configured region (the given client's, ``region``, or the session's)."""
        if self._region is None:
            client = kms_client(None, self._session)
            with self._lock:
                self._region = client_region(client)
                return self._clients.setdefault(self._region, client)
        return self.region(self._region)

    def region(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
        if client is None:
            made = kms_client(region, self._session)
            with self._lock:
                client = self._clients.setdefault(region, made)
        return client
