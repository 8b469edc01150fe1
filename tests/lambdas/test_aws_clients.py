"""The client factory: region, assumed role (another account), retry configuration and its caches, against moto."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import botocore.loaders
import pytest
from moto import mock_aws

from kmsflow.lambdas import aws_clients
from kmsflow.lambdas.aws_clients import MAX_ATTEMPTS, REFRESH_MARGIN, client, session_for

SOURCE_ACCOUNT = "123456789012"  # moto's default account
TARGET_ROLE = "arn:aws:iam::222222222222:role/kmsflow-copy"
REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def empty_caches() -> Iterator[None]:
    """Each test starts and ends with empty caches: credentials assumed in one moto mock mean nothing in the next."""
    aws_clients.reset()
    yield
    aws_clients.reset()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Operation names of every API call any client makes from now on."""
    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        calls[operation_name] += 1
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The factory's clock; set ``clock[0]`` to move time on."""
    now = [datetime.now(UTC)]
    monkeypatch.setattr(aws_clients, "_now", lambda: now[0])
    return now


def _access_key(**kwargs: Any) -> str:
    return str(session_for(region=REGION, **kwargs).get_credentials().access_key)


# ------------------------------------------------------------------------------------------ behaviour


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("region", ["eu-west-1", "eu-central-1"])
def test_clients_are_made_for_the_region_asked(region: str) -> None:
    kms = client("kms", region=region)
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith(f"arn:aws:kms:{region}:{SOURCE_ACCOUNT}:key/")
    assert kms.meta.region_name == region


@pytest.mark.usefixtures("aws")
def test_role_arn_gives_a_client_in_the_other_account() -> None:
    sts = client("sts", region="eu-west-1", role_arn=TARGET_ROLE, session_name="kmsflow-test")
    identity = sts.get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"] == "arn:aws:sts::222222222222:assumed-role/kmsflow-copy/kmsflow-test"
    kms = client("kms", region="eu-central-1", role_arn=TARGET_ROLE)
    assert ":222222222222:key/" in kms.create_key()["KeyMetadata"]["Arn"]
    # The source account does not see the target's keys.
    assert client("kms", region="eu-central-1").list_keys()["Keys"] == []


@pytest.mark.usefixtures("aws")
def test_retries_are_explicit() -> None:
    kms = client("kms", region="eu-west-1")
    assert kms.meta.config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}


def test_client_goes_through_the_module_session_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests and the workflow harness replace ``aws_clients.session_for``; ``client`` must pick the replacement up."""
    calls: list[dict[str, Any]] = []
    original = aws_clients.session_for

    def recording(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(region=kwargs["region"])

    monkeypatch.setattr(aws_clients, "session_for", recording)
    client("kms", region=REGION, role_arn=TARGET_ROLE, session_name="s", external_id="x-1")
    assert calls == [{"region": REGION, "role_arn": TARGET_ROLE, "session_name": "s", "external_id": "x-1"}]


# ------------------------------------------------------------------------------------------ shared model loader


def test_sessions_are_fresh_but_share_one_model_loader() -> None:
    first, second = session_for(region=REGION), session_for(region="eu-central-1")
    assert first is not second
    assert first._session.get_component("data_loader") is second._session.get_component("data_loader")


def test_a_service_model_is_parsed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: Counter[str] = Counter()
    original = botocore.loaders.Loader.load_data_with_path

    def counting(self: Any, name: str) -> Any:
        reads[name] += 1
        return original(self, name)

    monkeypatch.setattr(botocore.loaders.Loader, "load_data_with_path", counting)
    for region in (REGION, "eu-central-1", REGION):
        client("kms", region=region)
    model_reads = {name: count for name, count in reads.items() if name.endswith("/service-2")}
    assert model_reads == {"kms/2014-11-01/service-2": 1}


def test_credentials_are_still_resolved_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the loader is shared: a change of the environment's credentials shows in the next session."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRSTFIRSTFIRST1")
    assert _access_key() == "AKIAFIRSTFIRSTFIRST1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECONDSECONDSEC2")
    assert _access_key() == "AKIASECONDSECONDSEC2"


def test_reset_forgets_the_shared_loader() -> None:
    before = session_for(region=REGION)._session.get_component("data_loader")
    aws_clients.reset()
    after = session_for(region=REGION)._session.get_component("data_loader")
    assert after is not before
    assert session_for(region=REGION)._session.get_component("data_loader") is after


def test_reset_keeping_models_keeps_the_loader() -> None:
    before = session_for(region=REGION)._session.get_component("data_loader")
    aws_clients.reset(keep_models=True)
    assert session_for(region=REGION)._session.get_component("data_loader") is before


# ------------------------------------------------------------------------------------------ assumed-role credentials


@pytest.mark.usefixtures("aws")
def test_the_role_is_assumed_once_and_its_credentials_reused(api_calls: Counter[str]) -> None:
    first = client("kms", region=REGION, role_arn=TARGET_ROLE)
    second = client("ec2", region=REGION, role_arn=TARGET_ROLE)
    assert api_calls["AssumeRole"] == 1
    assert first._request_signer._credentials.access_key == second._request_signer._credentials.access_key
    # The reused credentials still act as the role.
    assert ":222222222222:key/" in first.create_key()["KeyMetadata"]["Arn"]
    assert api_calls["AssumeRole"] == 1


@pytest.mark.usefixtures("aws")
def test_credentials_are_cached_per_role_session_name_and_region(api_calls: Counter[str]) -> None:
    keys = {
        _access_key(role_arn=TARGET_ROLE),
        _access_key(role_arn=TARGET_ROLE, session_name="other"),
        str(session_for(region="eu-central-1", role_arn=TARGET_ROLE).get_credentials().access_key),
        _access_key(role_arn="arn:aws:iam::333333333333:role/kmsflow-copy"),
    }
    assert len(keys) == 4
    assert api_calls["AssumeRole"] == 4
    _access_key(role_arn=TARGET_ROLE)
    _access_key(role_arn=TARGET_ROLE, session_name="other")
    assert api_calls["AssumeRole"] == 4


@pytest.mark.usefixtures("aws")
def test_the_external_id_reaches_sts_and_keys_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target account's role trusts only callers that present its external id: it goes into AssumeRole, and
    credentials assumed with one external id are not reused for another (or for none)."""
    sent: list[Any] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == "AssumeRole":
            sent.append(api_params.get("ExternalId"))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    client("kms", region=REGION, role_arn=TARGET_ROLE, external_id="kmsflow-share-1")
    client("kms", region=REGION, role_arn=TARGET_ROLE, external_id="kmsflow-share-1")
    client("kms", region=REGION, role_arn=TARGET_ROLE)
    assert sent == ["kmsflow-share-1", None]


@pytest.mark.usefixtures("aws")
def test_credentials_are_renewed_once_within_the_margin_of_their_expiry(
    api_calls: Counter[str], clock: list[datetime]
) -> None:
    start = clock[0]
    expires = start + timedelta(hours=1)  # moto's (and AWS's) default duration of an AssumeRole session
    first = _access_key(role_arn=TARGET_ROLE)
    clock[0] = expires - REFRESH_MARGIN - timedelta(minutes=1)
    assert _access_key(role_arn=TARGET_ROLE) == first
    assert api_calls["AssumeRole"] == 1
    clock[0] = expires - REFRESH_MARGIN + timedelta(minutes=1)
    renewed = _access_key(role_arn=TARGET_ROLE)
    assert renewed != first
    assert api_calls["AssumeRole"] == 2


@pytest.mark.usefixtures("aws")
def test_reset_forgets_assumed_role_credentials(api_calls: Counter[str]) -> None:
    first = _access_key(role_arn=TARGET_ROLE)
    aws_clients.reset()
    assert _access_key(role_arn=TARGET_ROLE) != first
    assert api_calls["AssumeRole"] == 2


def test_nothing_is_created_at_import_time() -> None:
    """A fresh interpreter that imports the factory has created no session, loader or credentials."""
    program = (
        "import boto3.session\n"
        "boto3.session.Session.__init__ = lambda *a, **k: (_ for _ in ()).throw(AssertionError('session made'))\n"
        "from kmsflow.lambdas import aws_clients\n"
        "assert aws_clients._loader is None and aws_clients._role_credentials == {}\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
