"""KMS keyrings on moto KMS: the EDKs the KMS keyring writes, strict and discovery decryption (which EDKs may
reach KMS at all), two regions, two accounts (the second through ``sts:AssumeRole``), and KMS answers that
must be refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from kmsflow.envelope.arns import KmsArn, parse_arn, parse_key_arn
from kmsflow.envelope.decrypt_keyring import KmsDecryptKeyring
from kmsflow.envelope.exceptions import ConfigurationError, KeyNotAllowedError, KmsError
from kmsflow.envelope.kms_keyring import KmsKeyring
from kmsflow.envelope.materials import KMS_PROVIDER_ID, EncryptedDataKey
from kmsflow.envelope.retry import RetryPolicy, RetryStats
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED
from kmsflow.lambdas.aws_clients import session_for
from tests.envelope.refusals import configuration_error

REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "222222222222"
CONTEXT = {"purpose": "test", "tenant": "a"}


def session_of(account: str, region: str = REGION) -> Any:
    """Credentials of a role in ``account`` through ``sts:AssumeRole`` (moto takes the account from the access
    key it hands out); sessions share kmsflow's parsed service models, so tests stay fast."""
    return session_for(region=region, role_arn=f"arn:aws:iam::{account}:role/kmsflow-envelope-test")


@dataclass
class World:
    kms: Any  # moto client, default account, REGION
    key: str  # key ARN, default account, REGION
    other_key: str  # another key, same account and region
    far_key: str  # a key in OTHER_REGION
    foreign_session: Any  # boto3 session of a role of OTHER_ACCOUNT
    foreign_key: str  # key ARN in OTHER_ACCOUNT, REGION
    sent: list[str]  # KMS operations sent by clients made through ``client()``

    def client(self, region: str = REGION, session: Any = None) -> Any:
        """A KMS client that records each request it sends."""
        client = (session or session_for(region=region)).client("kms", region_name=region)
        client.meta.events.register(
            "request-created.kms", lambda operation_name, **_: self.sent.append(f"{region}:{operation_name}")
        )
        return client


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        kms = session_for(region=REGION).client("kms", region_name=REGION)
        foreign = session_of(OTHER_ACCOUNT)
        yield World(
            kms=kms,
            key=kms.create_key(Description="main")["KeyMetadata"]["Arn"],
            other_key=kms.create_key(Description="other")["KeyMetadata"]["Arn"],
            far_key=session_for(region=OTHER_REGION).client("kms").create_key()["KeyMetadata"]["Arn"],
            foreign_session=foreign,
            foreign_key=foreign.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"],
            sent=[],
        )


# ------------------------------------------------------------------------------------------------- ARNs


def test_arn_validation_follows_the_spec() -> None:
    arn = parse_arn("arn:aws:kms:us-east-1:2222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert arn == KmsArn("aws", "us-east-1", "2222222222222", "key", "1234abcd-12ab-34cd-56ef-1234567890ab")
    assert str(arn) == "arn:aws:kms:us-east-1:2222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    # any further "/" belongs to the resource id
    assert parse_arn("arn:aws:kms:us-west-2:111122223333:alias/a/b") == KmsArn(
        "aws", "us-west-2", "111122223333", "alias", "a/b"
    )
    assert parse_key_arn("arn:aws:kms:us-west-2:111122223333:alias/test-key") is None
    for bad in [
        "",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/test",
        "arn:aws:kms:us-east-1:111122223333:key/",  # empty resource id
        "arn:aws:kms:us-east-1:111122223333:key",  # no "/"
        "arn::kms:us-east-1:111122223333:key/x",  # empty partition
        "arn:aws:kms::111122223333:key/x",  # empty region
        "arn:aws:kms:us-east-1::key/x",  # empty account
        "arn:aws:s3:us-east-1:111122223333:key/x",  # not kms
        "arn:aws:kms:us-east-1:111122223333:grant/x",  # resource type
        "urn:aws:kms:us-east-1:111122223333:key/x",
    ]:
        assert parse_arn(bad) is None, bad


# ------------------------------------------------------------------------------------------ KmsKeyring


def test_encrypt_writes_the_sdk_kms_edk(world: World) -> None:
    keyring = KmsKeyring(world.key, client=world.client())
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert len(data_key.plaintext) == 32
    assert isinstance(data_key.plaintext, bytearray)
    [edk] = data_key.encrypted
    assert edk.provider_id == b"aws-kms"
    assert edk.provider_info == world.key.encode()
    # KMS bound the full context: the EDK decrypts with it, not without it
    answer = world.kms.decrypt(CiphertextBlob=edk.ciphertext, EncryptionContext=CONTEXT)
    assert answer["Plaintext"] == bytes(data_key.plaintext)
    with pytest.raises(world.kms.exceptions.InvalidCiphertextException):
        world.kms.decrypt(CiphertextBlob=edk.ciphertext, EncryptionContext={"purpose": "test"})
    assert world.sent == [f"{REGION}:GenerateDataKey"]


def test_round_trip_and_alias_resolved_once(world: World) -> None:
    world.kms.create_alias(AliasName="alias/envelope", TargetKeyId=world.key)
    stats = RetryStats()
    keyring = KmsKeyring("alias/envelope", client=world.client(), stats=stats)
    data_key = keyring.on_encrypt(COMMITTING_SIGNED, {**CONTEXT, "aws-crypto-public-key": "AqzG"})
    assert data_key.encrypted[0].provider_info == world.key.encode()  # the key ARN KMS answered, not the alias
    for _ in range(2):
        plaintext = keyring.on_decrypt(
            COMMITTING_SIGNED, {**CONTEXT, "aws-crypto-public-key": "AqzG"}, data_key.encrypted
        )
        assert plaintext == data_key.plaintext
    assert world.sent == [
        f"{REGION}:GenerateDataKey",
        f"{REGION}:DescribeKey",
        f"{REGION}:Decrypt",
        f"{REGION}:Decrypt",
    ]
    assert stats.calls == 4


def test_kms_keyring_decrypts_only_its_own_key(world: World) -> None:
    other = KmsKeyring(world.other_key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    world.sent.clear()
    with pytest.raises(
        KeyNotAllowedError, match=f"under the key {world.key}; the message has: aws-kms {world.other_key}"
    ):
        KmsKeyring(world.key, client=world.client()).on_decrypt(COMMITTING, CONTEXT, other.encrypted)
    assert world.sent == []


def test_wrong_context_is_refused_by_kms(world: World) -> None:
    keyring = KmsKeyring(world.key, client=world.client())
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    with pytest.raises(KeyNotAllowedError, match="InvalidCiphertextException") as caught:
        keyring.on_decrypt(COMMITTING, {"purpose": "other"}, data_key.encrypted)
    assert f"KMS refused every encrypted data key allowed under the key {world.key}" in str(caught.value)


def test_invalid_identifiers_are_refused() -> None:
    for bad in ["", "arn:aws:kms:eu-west-1:123456789012:key/"]:
        with pytest.raises(ConfigurationError, match=f"^not a KMS key identifier: {bad!r}, "):
            KmsKeyring(bad)


# ------------------------------------------------------------------------------------ KmsDecryptKeyring


def test_strict_keyring_refuses_an_edk_of_another_key_without_calling_kms(world: World) -> None:
    data_key = KmsKeyring(world.other_key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    world.sent.clear()
    stats = RetryStats()
    keyring = KmsDecryptKeyring([world.key], client=world.client(), stats=stats)
    with pytest.raises(KeyNotAllowedError) as caught:
        keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
    assert str(caught.value) == (
        f"no encrypted data key of the message may be decrypted under the keys {world.key}; "
        f"the message has: aws-kms {world.other_key}"
    )
    assert world.sent == []
    assert stats.attempts == 0


def test_strict_keyring_picks_the_allowed_edk_among_several(world: World) -> None:
    mine = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    theirs = KmsKeyring(world.other_key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    other_provider = EncryptedDataKey(b"raw-aes", b"whatever", b"\x00" * 40)
    world.sent.clear()
    keyring = KmsDecryptKeyring([world.key], client=world.client())
    keys = (other_provider, *theirs.encrypted, *mine.encrypted)
    assert keyring.on_decrypt(COMMITTING, CONTEXT, keys) == mine.plaintext
    assert world.sent == [f"{REGION}:Decrypt"]


def test_strict_keyring_collects_errors_and_tries_the_next_edk(world: World) -> None:
    good = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    [edk] = good.encrypted
    broken = EncryptedDataKey(KMS_PROVIDER_ID, edk.provider_info, edk.ciphertext[:-1] + bytes([edk.ciphertext[-1] ^ 1]))
    world.sent.clear()
    keyring = KmsDecryptKeyring([world.key], client=world.client())
    assert keyring.on_decrypt(COMMITTING, CONTEXT, (broken, edk)) == good.plaintext
    assert world.sent == [f"{REGION}:Decrypt", f"{REGION}:Decrypt"]
    with pytest.raises(KeyNotAllowedError, match=f"{world.key}: KMS Decrypt on {world.key} failed: InvalidCiphertext"):
        keyring.on_decrypt(COMMITTING, CONTEXT, (broken,))


EITHER = (
    "key_ids (the allowed key ARNs) or discovery_accounts (with partition: every key of those accounts), exactly "
    "one: decrypting under any key is not offered"
)


def test_strict_keyring_needs_key_arns_and_exactly_one_filter(world: World) -> None:
    alias_arn = world.key.replace(":key/", ":alias/")
    for bad, kind in (("alias/envelope", "an alias name"), ("1234abcd", "a key id"), (alias_arn, "an alias ARN")):
        assert configuration_error(partial(KmsDecryptKeyring, [world.key, bad])) == (
            "a strict decryption keyring needs key ARNs (arn:<partition>:kms:<region>:<account>:key/<key id>); got "
            f"{bad!r}, {kind}. Encrypted data keys name their key by ARN, so only a key ARN can be matched without "
            "asking KMS: pass the key's ARN (aws kms describe-key --key-id <key id or alias> prints it as "
            "KeyMetadata.Arn)"
        )
    assert (
        configuration_error(lambda: KmsDecryptKeyring())
        == f"neither key_ids nor discovery_accounts was given; pass {EITHER}"
    )
    assert configuration_error(lambda: KmsDecryptKeyring([world.key], discovery_accounts=[ACCOUNT])) == (
        f"both key_ids [{world.key!r}] and discovery_accounts ['{ACCOUNT}'] were given; pass {EITHER}"
    )
    assert configuration_error(lambda: KmsDecryptKeyring([])) == (
        f"key_ids is empty, so no key could decrypt anything; pass a non-empty {EITHER}"
    )
    assert configuration_error(lambda: KmsDecryptKeyring(discovery_accounts=[])) == (
        f"discovery_accounts is empty, so no key could decrypt anything; pass a non-empty {EITHER}"
    )
    assert configuration_error(lambda: KmsDecryptKeyring(discovery_accounts=["12345", ACCOUNT])) == (
        f"discovery_accounts must be 12-digit AWS account ids; got ['12345'] among ['12345', '{ACCOUNT}']: pass the "
        "ids of the accounts whose keys may decrypt"
    )
    assert configuration_error(lambda: KmsDecryptKeyring(discovery_accounts=[ACCOUNT], partition="")) == (
        "a discovery filter needs a partition; got '': pass partition='aws' (or 'aws-cn', 'aws-us-gov', ...: the "
        "partition of the accounts' keys)"
    )
    assert configuration_error(lambda: KmsDecryptKeyring(world.key)) == (
        f"key_ids is one string, {world.key!r}; it takes a sequence of strings: pass key_ids=[{world.key!r}]"
    )
    assert configuration_error(lambda: KmsDecryptKeyring(discovery_accounts=ACCOUNT)) == (
        f"discovery_accounts is one string, '{ACCOUNT}'; it takes a sequence of strings: pass "
        f"discovery_accounts=['{ACCOUNT}']"
    )
    assert configuration_error(lambda: KmsDecryptKeyring([world.key]).on_encrypt(COMMITTING, {})) == (
        "KmsDecryptKeyring was asked to encrypt; it only decrypts: encrypt with KmsKeyring or KmsRsaKeyring"
    )


def test_strict_keyring_across_two_regions(world: World) -> None:
    near = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    far = KmsKeyring(world.far_key, client=world.client(OTHER_REGION)).on_encrypt(COMMITTING, CONTEXT)
    assert parse_key_arn(far.encrypted[0].provider_info.decode()) is not None
    world.sent.clear()
    # one client (eu-west-1) given; the us-east-1 EDK goes to a us-east-1 client the keyring makes
    keyring = KmsDecryptKeyring([world.key, world.far_key], client=world.client())
    assert keyring.on_decrypt(COMMITTING, CONTEXT, far.encrypted) == far.plaintext
    assert keyring.on_decrypt(COMMITTING, CONTEXT, near.encrypted) == near.plaintext
    assert world.sent == [f"{REGION}:Decrypt"]  # the other region's request went through the keyring's own client
    assert keyring.stats.attempts == 2


def test_discovery_filters_by_account(world: World) -> None:
    foreign = KmsKeyring(world.foreign_key, session=world.foreign_session).on_encrypt(COMMITTING, CONTEXT)
    assert parse_key_arn(foreign.encrypted[0].provider_info.decode()).account == OTHER_ACCOUNT  # type: ignore[union-attr]
    home = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    world.sent.clear()
    # only the default account: the foreign EDK never reaches KMS
    mine_only = KmsDecryptKeyring(discovery_accounts=[ACCOUNT], client=world.client())
    with pytest.raises(KeyNotAllowedError, match=rf"discovery filter \(partition aws, accounts {ACCOUNT}\)"):
        mine_only.on_decrypt(COMMITTING, CONTEXT, foreign.encrypted)
    assert world.sent == []
    assert mine_only.on_decrypt(COMMITTING, CONTEXT, home.encrypted) == home.plaintext
    # the other account, with credentials of a role there
    theirs = KmsDecryptKeyring(discovery_accounts=[OTHER_ACCOUNT], client=world.client(session=world.foreign_session))
    assert theirs.on_decrypt(COMMITTING, CONTEXT, foreign.encrypted) == foreign.plaintext
    with pytest.raises(KeyNotAllowedError):
        theirs.on_decrypt(COMMITTING, CONTEXT, home.encrypted)
    assert world.sent == [f"{REGION}:Decrypt", f"{REGION}:Decrypt"]


def test_discovery_filters_by_partition(world: World) -> None:
    home = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    world.sent.clear()
    china = KmsDecryptKeyring(discovery_accounts=[ACCOUNT], partition="aws-cn", client=world.client())
    with pytest.raises(KeyNotAllowedError, match="partition aws-cn"):
        china.on_decrypt(COMMITTING, CONTEXT, home.encrypted)
    # an EDK claiming the aws-cn partition is matched by partition, not by account alone
    [edk] = home.encrypted
    relabelled = EncryptedDataKey(
        edk.provider_id, edk.provider_info.replace(b"arn:aws:", b"arn:aws-cn:"), edk.ciphertext
    )
    standard = KmsDecryptKeyring(discovery_accounts=[ACCOUNT], client=world.client())
    with pytest.raises(KeyNotAllowedError, match="may be decrypted"):
        standard.on_decrypt(COMMITTING, CONTEXT, (relabelled,))
    assert world.sent == []


def test_provider_info_that_is_not_a_key_arn_never_reaches_kms(world: World) -> None:
    home = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    [edk] = home.encrypted
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/envelope".encode()
    odd = [
        EncryptedDataKey(b"aws-kms", alias_arn, edk.ciphertext),
        EncryptedDataKey(b"aws-kms", b"\xff\xfe", edk.ciphertext),
        EncryptedDataKey(b"aws-kmsx", edk.provider_info, edk.ciphertext),
    ]
    world.sent.clear()
    keyring = KmsDecryptKeyring(discovery_accounts=[ACCOUNT], client=world.client())
    with pytest.raises(KeyNotAllowedError):
        keyring.on_decrypt(COMMITTING, CONTEXT, odd)
    assert world.sent == []


class Lying:
    """A KMS client that answers Decrypt for another key id, or a key of the wrong length."""

    def __init__(self, real: Any, *, key_id: str | None = None, plaintext: bytes | None = None) -> None:
        self.real = real
        self.meta = real.meta
        self.key_id = key_id
        self.plaintext = plaintext

    def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.real.decrypt(**kwargs)
        if self.key_id is not None:
            answer["KeyId"] = self.key_id
        if self.plaintext is not None:
            answer["Plaintext"] = self.plaintext
        return answer

    def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.real.generate_data_key(**kwargs)
        if self.key_id is not None:
            answer["KeyId"] = self.key_id
        if self.plaintext is not None:
            answer["Plaintext"] = self.plaintext
        return answer


def test_answers_for_another_key_or_length_are_refused(world: World) -> None:
    data_key = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    for lying in (Lying(world.client(), key_id=world.other_key), Lying(world.client(), plaintext=b"\x01" * 16)):
        with pytest.raises(KeyNotAllowedError, match="refused"):
            KmsDecryptKeyring([world.key], client=lying).on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
        with pytest.raises(KeyNotAllowedError, match="refused"):
            KmsKeyring(world.key, client=lying).on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
    with pytest.raises(KmsError, match="answered a 16-byte key"):
        KmsKeyring(world.key, client=Lying(world.client(), plaintext=b"\x01" * 16)).on_encrypt(COMMITTING, CONTEXT)
    with pytest.raises(KmsError, match="expected 32 bytes and a key ARN"):
        KmsKeyring(world.key, client=Lying(world.client(), key_id="alias/x")).on_encrypt(COMMITTING, CONTEXT)


def test_access_errors_name_operation_key_and_code(world: World) -> None:
    missing = world.key.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(KmsError) as caught:
        KmsKeyring(missing, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    assert str(caught.value) == (
        f"KMS GenerateDataKey on {missing} failed: NotFoundException: Key '{missing}' does not exist "
        "(not retryable; 1 attempt)"
    )
    assert world.sent == [f"{REGION}:GenerateDataKey"]  # not retried


def test_grant_tokens_are_sent(world: World) -> None:
    params: list[dict[str, Any]] = []
    client = world.client()
    client.meta.events.register("provide-client-params.kms", lambda params_=None, **kw: params.append(kw["params"]))
    keyring = KmsKeyring(world.key, client=client, grant_tokens=["token-1"])
    data_key = keyring.on_encrypt(COMMITTING, CONTEXT)
    keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
    assert [p.get("GrantTokens") for p in params] == [["token-1"], ["token-1"]]


class Throttled:
    """A KMS client whose Decrypt is always throttled."""

    def __init__(self, real: Any) -> None:
        self.meta = real.meta
        self.calls = 0

    def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Decrypt")


def test_throttled_out_decrypt_is_a_kms_error_not_a_configuration_error(world: World) -> None:
    data_key = KmsKeyring(world.key, client=world.client()).on_encrypt(COMMITTING, CONTEXT)
    throttled = Throttled(world.client())
    retry = RetryPolicy(max_attempts=3, sleep=lambda _: None)
    keyring = KmsDecryptKeyring([world.key], client=throttled, retry=retry)
    with pytest.raises(KmsError) as caught:
        keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
    assert not isinstance(caught.value, KeyNotAllowedError)
    assert str(caught.value).startswith(
        f"KMS could not be reached for any encrypted data key allowed under the keys {world.key}"
    )
    assert "ThrottlingException: Rate exceeded (retry attempts exhausted; 3 attempts)" in str(caught.value)
    assert throttled.calls == 3
    assert keyring.stats.throttles == 3
