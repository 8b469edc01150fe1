""":class:`kmsflow.envelope.Envelope` on moto KMS: round trips in memory and streamed (unknown length, short
reads), which keys may decrypt (its own by default, key ARNs, a discovery filter; never any key), contexts, the
cache through the Envelope (KMS calls per 1,000 messages, the byte bound counted as frames stream, 8 threads,
one call), deferred keys, direct mode, injected throttling, and the counters."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from kmsflow.envelope import (
    COMMITTING_SIGNED,
    DEFAULT_FRAME_LENGTH,
    AuthenticationError,
    ContextError,
    DataKeyCache,
    DirectModeError,
    Envelope,
    EnvelopeError,
    EnvelopeStats,
    KeyNotAllowedError,
    RetryPolicy,
)
from tests.envelope.refusals import configuration_error
from tests.envelope.test_interop import CONTEXT, REGION, World, moto_world, pattern
from tests.support.moto_kms_rsa import KmsRsaModel


@pytest.fixture
def world() -> Iterator[World]:
    with moto_world() as made:
        yield made


def other_key(world: World) -> str:
    return str(world.kms.create_key(Description="another")["KeyMetadata"]["Arn"])


class Trickle(io.RawIOBase):
    """A non-seekable source of unknown length that returns at most ``step`` bytes per read (as pipes do)."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self.data = memoryview(data)
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.step, len(self.data))
        buffer[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


def test_round_trip_in_memory_with_context_and_exact_counters(world: World) -> None:
    envelope = Envelope(world.key_arn)
    message = envelope.encrypt(b"attack at dawn", context=CONTEXT)
    assert b"attack at dawn" not in message
    assert envelope.decrypt(message, context={"tenant": "orders"}) == b"attack at dawn"
    assert envelope.decrypt(message) == b"attack at dawn"
    # GenerateDataKey once, Decrypt twice (no cache); no retries.
    assert envelope.stats() == EnvelopeStats(
        kms_attempts=3, retries=0, throttles=0, cache_hits=0, cache_misses=0, cache_kms_calls=0
    )


def test_a_required_pair_that_differs_or_is_missing_is_refused(world: World) -> None:
    envelope = Envelope(world.key_arn)
    message = envelope.encrypt(b"x", context=CONTEXT)
    with pytest.raises(ContextError):
        envelope.decrypt(message, context={"tenant": "billing"})
    with pytest.raises(ContextError):
        envelope.decrypt(message, context={"region": "eu"})


def test_reserved_context_keys_are_refused_on_encrypt(world: World) -> None:
    with pytest.raises(ContextError):
        Envelope(world.key_arn).encrypt(b"x", context={"aws-crypto-public-key": "forged"})


def test_streams_of_unknown_length_round_trip_and_report_frames(world: World) -> None:
    envelope = Envelope(world.key_arn)
    data = pattern(3 * DEFAULT_FRAME_LENGTH + 17)
    frames: list[int] = []
    out = io.BytesIO()
    assert envelope.encrypt_stream(
        io.BufferedReader(Trickle(data)), out, context=CONTEXT, on_frame=frames.append
    ) == len(data)
    assert sum(frames) == len(data)
    assert max(frames) == DEFAULT_FRAME_LENGTH
    plain = io.BytesIO()
    seen: list[int] = []
    header = envelope.decrypt_stream(Trickle(out.getvalue(), step=777), plain, context=CONTEXT, on_frame=seen.append)  # type: ignore[arg-type]
    assert plain.getvalue() == data
    assert sum(seen) == len(data)
    assert header.context == CONTEXT
    assert envelope.decrypt(out.getvalue()) == data  # a streamed message is an ordinary message


def test_the_signed_suite_round_trips_through_streams_and_a_tampered_one_writes_nothing(world: World) -> None:
    envelope = Envelope(world.key_arn)
    data = pattern(2 * DEFAULT_FRAME_LENGTH + 3)
    sealed = io.BytesIO()
    envelope.encrypt_stream(io.BytesIO(data), sealed, context=CONTEXT, suite=COMMITTING_SIGNED)
    out = io.BytesIO()
    header = envelope.decrypt_stream(io.BytesIO(sealed.getvalue()), out)
    assert (out.getvalue() == data, header.suite) == (True, COMMITTING_SIGNED)
    changed = bytearray(sealed.getvalue())
    changed[-1] ^= 1  # the signature
    out = io.BytesIO()
    with pytest.raises(AuthenticationError):
        envelope.decrypt_stream(io.BytesIO(bytes(changed)), out)
    assert out.getvalue() == b""


def test_decryption_allows_the_envelopes_key_by_default_and_no_other(world: World) -> None:
    other = Envelope(other_key(world))
    message = other.encrypt(b"not for you", context=CONTEXT)
    envelope = Envelope(world.key_arn)
    with pytest.raises(KeyNotAllowedError):
        envelope.decrypt(message)
    assert envelope.stats().kms_attempts == 0  # refused by the filter, before any KMS call


def test_key_ids_and_discovery_filters(world: World) -> None:
    second = other_key(world)
    message = Envelope(second).encrypt(b"payload", context=CONTEXT)
    envelope = Envelope(world.key_arn)
    assert envelope.decrypt(message, key_ids=[world.key_arn, second]) == b"payload"
    assert envelope.decrypt(message, discovery_accounts=["123456789012"]) == b"payload"
    with pytest.raises(KeyNotAllowedError):
        envelope.decrypt(message, discovery_accounts=["111122223333"])
    with pytest.raises(KeyNotAllowedError):
        envelope.decrypt(message, discovery_accounts=["123456789012"], partition="aws-cn")
    assert configuration_error(
        lambda: envelope.decrypt(message, key_ids=[second], discovery_accounts=["123456789012"])
    ).startswith(f"both key_ids [{second!r}] and discovery_accounts ['123456789012'] were given; pass key_ids")
    assert configuration_error(lambda: envelope.decrypt(message, key_ids=["alias/orders"])).startswith(
        "a strict decryption keyring needs key ARNs (arn:<partition>:kms:<region>:<account>:key/<key id>); got "
        "'alias/orders', an alias name. "
    )


def test_an_alias_encrypts_and_decrypts_resolving_its_key_once(world: World) -> None:
    world.kms.create_alias(AliasName="alias/orders", TargetKeyId=world.key_arn)
    envelope = Envelope("alias/orders", region=REGION)
    messages = [envelope.encrypt(b"a"), envelope.encrypt(b"b")]
    assert [envelope.decrypt(m) for m in messages] == [b"a", b"b"]
    # 2 GenerateDataKey + 1 DescribeKey + 2 Decrypt.
    assert envelope.stats().kms_attempts == 5
    assert world.sdk_decrypt(messages[0])[0] == b"a"


def test_an_envelope_without_a_key_only_decrypts_with_an_explicit_filter(world: World) -> None:
    message = Envelope(world.key_arn).encrypt(b"z")
    reader = Envelope(None, region=REGION)
    no_key = (
        "this Envelope was made with key_id=None, so it has no key to encrypt under or to decrypt with by default: "
        "make it with a key_id, or decrypt with key_ids=[...] or discovery_accounts=[...]"
    )
    assert configuration_error(lambda: reader.encrypt(b"z")) == no_key
    assert configuration_error(lambda: reader.decrypt(message)) == no_key
    assert configuration_error(lambda: reader.encrypt_direct(b"z")) == no_key
    assert reader.decrypt(message, key_ids=[world.key_arn]) == b"z"


def test_a_cache_of_1000_makes_one_kms_call_per_1000_messages_each_way(world: World) -> None:
    envelope = Envelope(world.key_arn, cache=DataKeyCache(max_age=300, max_messages=1000, max_bytes=2**40))
    messages = [envelope.encrypt(b"m%d" % i, context=CONTEXT) for i in range(1000)]
    after_encrypt = envelope.stats()
    assert (after_encrypt.kms_attempts, after_encrypt.cache_hits, after_encrypt.cache_misses) == (1, 999, 1)
    assert [envelope.decrypt(m, context=CONTEXT) for m in messages[:500]] == [b"m%d" % i for i in range(500)]
    stats = envelope.stats()
    assert (stats.kms_attempts, stats.cache_kms_calls) == (2, 2)  # + one Decrypt: all share the data key
    # The 1,001st message needs a new key (the message bound).
    envelope.encrypt(b"one more", context=CONTEXT)
    assert envelope.stats().kms_attempts == 3


def test_the_cache_byte_bound_counts_streamed_frames_and_in_memory_messages(world: World) -> None:
    frame = 4096
    envelope = Envelope(world.key_arn, cache=DataKeyCache(max_age=300, max_messages=1000, max_bytes=3 * frame))
    first = io.BytesIO()
    envelope.encrypt_stream(Trickle(pattern(5 * frame)), first, frame_length=frame)  # type: ignore[arg-type]
    assert envelope.stats().kms_attempts == 1
    # 5 frames passed the 3-frame bound: the key is retired, the next message has a new one.
    envelope.encrypt(b"x" * 10, frame_length=frame)
    assert envelope.stats().kms_attempts == 2
    envelope.encrypt(b"x" * (3 * frame - 10), frame_length=frame)  # reaches the bound exactly
    envelope.encrypt(b"y", frame_length=frame)
    assert envelope.stats().kms_attempts == 3


def test_eight_threads_missing_together_make_one_kms_call(world: World) -> None:
    envelope = Envelope(world.key_arn, cache=DataKeyCache(max_age=300, max_messages=1000, max_bytes=2**40))
    client = envelope.kms_client()
    gate = threading.Barrier(8)
    calls = []

    def slow(**kwargs: Any) -> None:
        calls.append(kwargs["model"].name)
        time.sleep(0.05)  # the other seven arrive while the first call is in flight

    client.meta.events.register("before-call.kms.GenerateDataKey", slow)
    results: list[bytes] = []

    def work() -> None:
        gate.wait()
        results.append(envelope.encrypt(b"t", context=CONTEXT))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(results), calls) == (8, ["GenerateDataKey"])
    assert {envelope.decrypt(m) for m in results} == {b"t"}


def throttle_every_third_of_ten(client: Any) -> list[str]:
    """Answer 3 of every 10 KMS requests with ThrottlingException (HTTP 400) instead of sending them."""
    seen: list[str] = []

    def maybe_throttle(**kwargs: Any) -> Any:
        seen.append(kwargs["model"].name)
        if (len(seen) - 1) % 10 in (0, 3, 6):
            body = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            body["ResponseMetadata"] = {"HTTPStatusCode": 400}  # type: ignore[dict-item]
            return AWSResponse("https://kms", 400, {}, None), body
        return None

    client.meta.events.register("before-call.kms.*", maybe_throttle)
    return seen


def test_injected_throttling_of_30_percent_succeeds_with_every_retry_counted(world: World) -> None:
    policy = RetryPolicy(sleep=lambda _: None, random=lambda: 0.5)
    envelope = Envelope(world.key_arn, retry=policy)
    seen = throttle_every_third_of_ten(envelope.kms_client())
    messages = [envelope.encrypt(b"%d" % i) for i in range(20)]
    assert [envelope.decrypt(m) for m in messages] == [b"%d" % i for i in range(20)]
    stats = envelope.stats()
    assert stats.kms_attempts == len(seen)
    assert stats.throttles == stats.retries == sum(1 for i in range(len(seen)) if i % 10 in (0, 3, 6))
    assert stats.kms_attempts - stats.retries == 40  # 20 GenerateDataKey + 20 Decrypt operations


def test_deferred_keys_are_decrypted_only_when_used(world: World) -> None:
    envelope = Envelope(world.key_arn)
    keys = envelope.generate_data_keys(3, context=CONTEXT)
    assert envelope.stats().kms_attempts == 3  # GenerateDataKeyWithoutPlaintext x 3, nothing decrypted
    message = envelope.encrypt(b"later", context=CONTEXT, data_key=keys[0])
    assert envelope.stats().kms_attempts == 4  # one Decrypt of the first key, on use
    assert envelope.decrypt(message, context=CONTEXT) == b"later"
    assert world.sdk_decrypt(message)[0] == b"later"
    with pytest.raises(EnvelopeError, match="already encrypted a message"):
        envelope.encrypt(b"again", context=CONTEXT, data_key=keys[0])
    with pytest.raises(ContextError):
        envelope.encrypt(b"other", context={"tenant": "x"}, data_key=keys[1])


def test_direct_mode_takes_4096_bytes_and_refuses_4097(world: World) -> None:
    envelope = Envelope(world.key_arn)
    blob = envelope.encrypt_direct(pattern(4096), context=CONTEXT)
    assert envelope.decrypt_direct(blob, context=CONTEXT) == pattern(4096)
    with pytest.raises(DirectModeError, match="4,097 bytes: use the envelope"):
        envelope.encrypt_direct(pattern(4097))
    with pytest.raises(AuthenticationError):
        envelope.decrypt_direct(blob, context={"tenant": "billing"})


def test_the_envelope_uses_the_session_and_region_it_was_given(world: World) -> None:
    session = boto3.Session(region_name="eu-central-1")
    envelope = Envelope("alias/x", session=session)
    assert envelope.kms_client().meta.region_name == "eu-central-1"
    assert Envelope(world.key_arn).kms_client().meta.region_name == REGION  # from the key ARN
    assert Envelope(world.key_arn).s3_client().meta.region_name == REGION


def test_an_rsa_key_encrypts_offline_from_one_get_public_key_and_decrypts_through_kms(world: World) -> None:
    with KmsRsaModel().install() as model:
        arn = world.kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="RSA_2048")["KeyMetadata"]["Arn"]
        envelope = Envelope(arn, rsa=True)
        messages = [envelope.encrypt(b"offline %d" % i, context=CONTEXT) for i in range(3)]
        assert envelope.stats().kms_attempts == 1  # one GetPublicKey, then no KMS call per message
        assert [envelope.decrypt(m, context=CONTEXT) for m in messages] == [b"offline %d" % i for i in range(3)]
        assert model.decrypts[arn] == 3
        assert Envelope(None, region=REGION).decrypt(messages[0], key_ids=[arn]) == b"offline 0"
        with pytest.raises(EnvelopeError, match="signed suite"):
            envelope.encrypt(b"x", suite=COMMITTING_SIGNED)


def test_the_package_exports_resolve_and_import_neither_aws_cdk_nor_the_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kmsflow.envelope as e\n"
        "for name in e.__all__: getattr(e, name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'aws_encryption_sdk',"
        " 'aws_cryptographic_material_providers', 'moto'))\n"
        "print(len(e.__all__), loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "35 []\n"
