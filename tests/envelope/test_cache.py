"""The data-key cache: each bound exact (age on an injected clock, messages, bytes counted as frames stream),
keys (suite, context, partition; the EDK on decrypt), single flight (8 threads, one KMS call), wiping, counters."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import pytest
from moto import mock_aws

from kmsflow.envelope import message, stream
from kmsflow.envelope.cache import CachedDataKey, CachingKeyring, DataKeyCache
from kmsflow.envelope.exceptions import KeyNotAllowedError, KmsError
from kmsflow.envelope.header import read_header
from kmsflow.envelope.kms_keyring import KmsKeyring
from kmsflow.envelope.materials import DataKey, EncryptedDataKey, SelfWipingKey
from kmsflow.envelope.retry import RetryPolicy, RetryStats
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite
from kmsflow.lambdas.aws_clients import session_for
from tests.envelope.refusals import configuration_error

REGION = "eu-west-1"
CONTEXT = {"purpose": "cache"}


class FakeKeyring:
    """Issues a fresh random data key per on_encrypt (EDK ciphertext = its serial number) and decrypts the EDKs
    it issued; counts calls; optionally waits ``delay`` seconds or fails."""

    def __init__(self, delay: float = 0.0, fail: Exception | None = None) -> None:
        self.delay = delay
        self.fail = fail
        self.encrypts = 0
        self.decrypts = 0
        self.issued: dict[bytes, bytes] = {}
        self.returned: list[DataKey] = []
        self._lock = threading.Lock()

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        with self._lock:
            self.encrypts += 1
            serial = str(self.encrypts).encode()
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        key = os.urandom(32)
        self.issued[serial] = key
        data_key = DataKey(bytearray(key), (EncryptedDataKey(b"fake", b"fake-key", serial),))
        self.returned.append(data_key)
        return data_key

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        with self._lock:
            self.decrypts += 1
        time.sleep(self.delay)
        for edk in keys:
            if edk.ciphertext in self.issued:
                return bytearray(self.issued[edk.ciphertext])
        raise KeyNotAllowedError("not mine")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def serial(data_key: DataKey) -> bytes:
    return data_key.encrypted[0].ciphertext


@dataclass
class Setup:
    keyring: CachingKeyring
    inner: FakeKeyring
    cache: DataKeyCache
    clock: Clock


def make(
    *, max_age: float = 60, max_messages: int = 100, max_bytes: int = 10**9, capacity: int = 100, delay: float = 0
) -> Setup:
    clock = Clock()
    cache = DataKeyCache(max_age, max_messages, max_bytes, capacity=capacity, clock=clock)
    inner = FakeKeyring(delay)
    return Setup(CachingKeyring(inner, cache), inner, cache, clock)


# ------------------------------------------------------------------------------------------------ bounds


def test_age_bound_is_exact() -> None:
    setup = make(max_age=10)
    keyring = setup.keyring
    inner = setup.inner
    cache = setup.cache
    clock = setup.clock
    first = keyring.on_encrypt(COMMITTING, CONTEXT)
    clock.now += 9.999
    assert serial(keyring.on_encrypt(COMMITTING, CONTEXT)) == serial(first)
    clock.now += 0.001  # exactly max_age after KMS answered
    renewed = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert serial(renewed) != serial(first)
    assert renewed.plaintext != first.plaintext
    assert inner.encrypts == 2
    assert (cache.hits, cache.misses, cache.kms_calls) == (1, 2, 2)


def test_message_bound_is_exact() -> None:
    setup = make(max_messages=3)
    keyring = setup.keyring
    inner = setup.inner
    cache = setup.cache
    keys = [keyring.on_encrypt(COMMITTING, CONTEXT) for _ in range(7)]
    assert [serial(k) for k in keys] == [b"1", b"1", b"1", b"2", b"2", b"2", b"3"]
    assert inner.encrypts == 3
    assert (cache.hits, cache.misses, cache.kms_calls) == (4, 3, 3)
    assert len(cache) == 1  # the third key, used once


def test_one_message_per_key_caches_nothing() -> None:
    setup = make(max_messages=1)
    keyring = setup.keyring
    cache = setup.cache
    assert [serial(keyring.on_encrypt(COMMITTING, CONTEXT)) for _ in range(3)] == [b"1", b"2", b"3"]
    assert len(cache) == 0


def test_byte_bound_is_exact_through_record_bytes() -> None:
    setup = make(max_bytes=1000)
    keyring = setup.keyring
    first = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert isinstance(first, CachedDataKey)
    first.record_bytes(999)
    second = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert isinstance(second, CachedDataKey)
    assert serial(second) == serial(first)
    second.record_bytes(1)  # 1,000 bytes: the bound is reached
    assert serial(keyring.on_encrypt(COMMITTING, CONTEXT)) == b"2"
    second.record_bytes(5000)  # a message in flight goes on counting against its own (retired) key only
    assert serial(keyring.on_encrypt(COMMITTING, CONTEXT)) == b"2"


def test_byte_bound_crossed_by_a_streamed_message_rekeys_the_next() -> None:
    setup = make(max_bytes=100_000)
    keyring = setup.keyring
    inner = setup.inner
    messages = []
    for size in (60_000, 60_000, 10):  # the second crosses 100,000 half-way through its frames
        out = io.BytesIO()
        assert (
            stream.encrypt_stream(io.BytesIO(b"x" * size), out, keyring, frame_length=4096, on_frame=keyring.meter)
            == size
        )
        messages.append(out.getvalue())
    edks = [read_header(m).encrypted_data_keys[0].ciphertext for m in messages]
    assert edks == [b"1", b"1", b"2"]  # the crossing message finished under its key; the next got a new one
    for data, size in zip(messages, (60_000, 60_000, 10), strict=True):
        assert message.decrypt(data, inner) == b"x" * size


def test_unknown_length_stream_is_bounded_too() -> None:
    class Pipe(io.RawIOBase):
        """Non-seekable, short reads: the length is unknown until the end."""

        def __init__(self, total: int) -> None:
            self.left = total

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            n = min(len(buffer), 1000, self.left)
            buffer[:n] = b"y" * n
            self.left -= n
            return n

    def pipe(total: int) -> BinaryIO:
        return cast(BinaryIO, Pipe(total))

    setup = make(max_bytes=50_000)
    keyring = setup.keyring
    inner = setup.inner
    out = io.BytesIO()
    stream.encrypt_stream(pipe(49_999), out, keyring, frame_length=4096, on_frame=keyring.meter)
    out2 = io.BytesIO()
    stream.encrypt_stream(pipe(1), out2, keyring, frame_length=4096, on_frame=keyring.meter)  # reaches 50,000
    out3 = io.BytesIO()
    stream.encrypt_stream(pipe(10), out3, keyring, frame_length=4096, on_frame=keyring.meter)
    edks = [read_header(o.getvalue()).encrypted_data_keys[0].ciphertext for o in (out, out2, out3)]
    assert edks == [b"1", b"1", b"2"]
    assert message.decrypt(out.getvalue(), inner) == b"y" * 49_999


def test_meter_charges_the_key_of_its_own_thread() -> None:
    setup = make(max_bytes=100)
    keyring = setup.keyring
    keyring.on_encrypt(COMMITTING, CONTEXT)
    worker = threading.Thread(target=lambda: keyring.meter(1000))  # this thread got no key: nothing charged
    worker.start()
    worker.join()
    assert serial(keyring.on_encrypt(COMMITTING, CONTEXT)) == b"1"
    keyring.meter(100)
    assert serial(keyring.on_encrypt(COMMITTING, CONTEXT)) == b"2"


def test_in_memory_messages_are_metered_by_length() -> None:
    setup = make(max_bytes=3000)
    keyring = setup.keyring
    for _ in range(3):
        data = message.encrypt(b"z" * 1000, keyring)
        keyring.meter(1000)
        assert message.decrypt(data, keyring) == b"z" * 1000
    assert serial(keyring.on_encrypt(COMMITTING, {})) == b"2"


# -------------------------------------------------------------------------------------------- cache keys


def test_entries_are_keyed_by_suite_and_context_in_any_order() -> None:
    setup = make()
    keyring = setup.keyring
    inner = setup.inner
    a = keyring.on_encrypt(COMMITTING, {"a": "1", "b": "2"})
    assert serial(keyring.on_encrypt(COMMITTING, {"b": "2", "a": "1"})) == serial(a)
    assert serial(keyring.on_encrypt(COMMITTING, {"a": "1"})) != serial(a)
    assert serial(keyring.on_encrypt(COMMITTING, {})) not in (serial(a),)
    assert inner.encrypts == 3


def test_signed_suite_keys_are_never_cached() -> None:
    setup = make()
    keyring = setup.keyring
    cache = setup.cache
    keys = [keyring.on_encrypt(COMMITTING_SIGNED, {**CONTEXT, "aws-crypto-public-key": "A"}) for _ in range(3)]
    assert [serial(k) for k in keys] == [b"1", b"2", b"3"]
    assert (len(cache), cache.bypasses, cache.kms_calls, cache.hits) == (0, 3, 3, 0)
    keyring.meter(10**12)  # nothing to charge after an uncached key


def test_partitions_keep_keyrings_apart() -> None:
    cache = DataKeyCache(60, 100, 10**9)
    inner = FakeKeyring()
    one, two = CachingKeyring(inner, cache), CachingKeyring(inner, cache)
    assert serial(one.on_encrypt(COMMITTING, CONTEXT)) != serial(two.on_encrypt(COMMITTING, CONTEXT))
    shared_a, shared_b = CachingKeyring(inner, cache, partition="p"), CachingKeyring(inner, cache, partition="p")
    assert serial(shared_a.on_encrypt(COMMITTING, CONTEXT)) == serial(shared_b.on_encrypt(COMMITTING, CONTEXT))


def test_decrypt_side_is_keyed_by_edk_context_and_suite() -> None:
    setup = make(max_age=30)
    keyring = setup.keyring
    inner = setup.inner
    cache = setup.cache
    clock = setup.clock
    data_key = inner.on_encrypt(COMMITTING, CONTEXT)
    first = keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
    assert first == data_key.plaintext
    first[:] = bytes(32)  # the caller wipes its copy: the cached key is not affected
    assert keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == data_key.plaintext
    assert inner.decrypts == 1
    keyring.on_decrypt(COMMITTING, {"purpose": "other"}, data_key.encrypted)
    keyring.on_decrypt(COMMITTING_SIGNED, CONTEXT, data_key.encrypted)
    other = inner.on_encrypt(COMMITTING, CONTEXT)
    keyring.on_decrypt(COMMITTING, CONTEXT, other.encrypted)
    assert inner.decrypts == 4
    clock.now += 30
    keyring.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted)
    assert inner.decrypts == 5
    assert (cache.hits, cache.misses) == (1, 5)


def test_decrypt_failures_are_not_cached() -> None:
    setup = make()
    keyring = setup.keyring
    inner = setup.inner
    cache = setup.cache
    foreign = (EncryptedDataKey(b"fake", b"fake-key", b"unknown"),)
    for _ in range(2):
        with pytest.raises(KeyNotAllowedError):
            keyring.on_decrypt(COMMITTING, CONTEXT, foreign)
    assert (inner.decrypts, len(cache), cache.kms_calls) == (2, 0, 2)


# ------------------------------------------------------------------------------------ plaintext handling


def test_evicted_keys_are_wiped_but_leases_keep_their_copy() -> None:
    setup = make(capacity=2)
    keyring = setup.keyring
    inner = setup.inner
    cache = setup.cache
    leases = [keyring.on_encrypt(COMMITTING, {"n": str(i)}) for i in range(3)]
    assert len(cache) == 2
    assert cache.evictions == 1
    assert all(any(lease.plaintext) for lease in leases)  # a message in flight keeps its key
    assert leases[0].plaintext == inner.issued[b"1"]
    # white box: the evicted entry's own copy is zeros, the live ones are not
    assert inner.returned[0].plaintext == bytearray(32)  # what the wrapped keyring returned, wiped once copied
    entries = list(cache._entries.values())
    assert all(any(e.plaintext) for e in entries)
    cache.clear()
    assert len(cache) == 0
    assert all(e.plaintext == bytearray(32) for e in entries)
    assert cache.evictions == 3


def test_least_recently_used_entry_goes_first() -> None:
    setup = make(capacity=2)
    keyring = setup.keyring
    keyring.on_encrypt(COMMITTING, {"n": "a"})
    keyring.on_encrypt(COMMITTING, {"n": "b"})
    keyring.on_encrypt(COMMITTING, {"n": "a"})  # a is now the most recent
    keyring.on_encrypt(COMMITTING, {"n": "c"})  # evicts b
    assert serial(keyring.on_encrypt(COMMITTING, {"n": "a"})) == b"1"
    assert serial(keyring.on_encrypt(COMMITTING, {"n": "b"})) == b"4"


def test_leases_are_self_wiping_copies() -> None:
    setup = make()
    keyring = setup.keyring
    lease = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert isinstance(lease.plaintext, SelfWipingKey)
    again = keyring.on_encrypt(COMMITTING, CONTEXT)
    assert again.plaintext == lease.plaintext
    assert again.plaintext is not lease.plaintext
    lease.plaintext[:] = bytes(32)  # a careless caller wipes its lease: others are not affected
    assert keyring.on_encrypt(COMMITTING, CONTEXT).plaintext == again.plaintext
    key = SelfWipingKey(b"\x07" * 32)
    key.__del__()  # what CPython runs when the last reference goes
    assert key == bytearray(32)


def test_a_lease_wipes_its_own_copy_when_dropped() -> None:
    setup = make()
    keyring = setup.keyring
    copy = keyring.on_encrypt(COMMITTING, CONTEXT).plaintext
    assert any(copy)
    copy.__del__()  # what CPython runs when the message drops its lease
    assert copy == bytearray(32)
    assert keyring.on_encrypt(COMMITTING, CONTEXT).plaintext == setup.inner.issued[b"1"]  # the entry's is intact


def test_decrypt_side_keys_are_the_set_of_edks() -> None:
    setup = make()
    keyring = setup.keyring
    inner = setup.inner
    keys = inner.on_encrypt(COMMITTING, CONTEXT).encrypted + inner.on_encrypt(COMMITTING, CONTEXT).encrypted
    first = keyring.on_decrypt(COMMITTING, CONTEXT, keys)
    assert keyring.on_decrypt(COMMITTING, CONTEXT, tuple(reversed(keys))) == first  # any order: one entry
    assert keyring.on_decrypt(COMMITTING, CONTEXT, list(keys)) == first
    assert inner.decrypts == 1
    keyring.on_decrypt(COMMITTING, CONTEXT, keys[:1])  # one of them alone: another entry
    keyring.on_decrypt(COMMITTING, CONTEXT, keys[1:])
    assert inner.decrypts == 3
    assert keyring.on_decrypt(COMMITTING, CONTEXT, keys[1:]) == bytearray(inner.issued[b"2"])
    assert inner.decrypts == 3


def test_bounds_are_validated() -> None:
    for bad in ((0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0), (-0.5, 1, 1, 1)):
        assert configuration_error(lambda: DataKeyCache(*bad)) == (  # noqa: B023 -- called at once
            "DataKeyCache bounds must be positive: max_age > 0 s, max_messages >= 1, max_bytes >= 1, capacity >= 1; "
            f"got max_age={bad[0]!r}, max_messages={bad[1]!r}, max_bytes={bad[2]!r}, capacity={bad[3]!r}: raise the "
            "ones that are not"
        )


# ------------------------------------------------------------------------------------------ concurrency


def run_threads(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except Exception as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def moto_key() -> Iterator[tuple[str, Any, list[str]]]:
    with mock_aws():
        client = session_for(region=REGION).client("kms", region_name=REGION)
        sent: list[str] = []
        client.meta.events.register("request-created.kms", lambda operation_name, **_: sent.append(operation_name))
        yield client.create_key()["KeyMetadata"]["Arn"], client, sent


class Slow:
    """Wraps a KMS client so that GenerateDataKey/Decrypt take ``delay`` seconds (threads pile up on the miss)."""

    def __init__(self, client: Any, delay: float) -> None:
        self.client, self.delay, self.meta = client, delay, client.meta

    def generate_data_key(self, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return self.client.generate_data_key(**kwargs)

    def decrypt(self, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return self.client.decrypt(**kwargs)


def test_eight_threads_one_kms_call(moto_key: tuple[str, Any, list[str]]) -> None:
    key, client, sent = moto_key
    cache = DataKeyCache(60, 1000, 10**9)
    stats = RetryStats()
    keyring = CachingKeyring(KmsKeyring(key, client=Slow(client, 0.2), stats=stats), cache)
    sent.clear()
    results = run_threads(8, lambda: keyring.on_encrypt(COMMITTING, CONTEXT))
    assert all(isinstance(r, CachedDataKey) for r in results)
    assert sent == ["GenerateDataKey"]
    assert stats.attempts == 1
    assert len({bytes(r.plaintext) for r in results}) == 1
    assert len({r.encrypted for r in results}) == 1
    snapshot = cache.snapshot()
    assert (snapshot["misses"], snapshot["hits"], snapshot["kms_calls"], snapshot["kms_attempts"]) == (1, 7, 1, 1)
    # decrypt side: 8 threads on the same EDK, one Decrypt
    decrypting = CachingKeyring(KmsKeyring(key, client=Slow(client, 0.2)), cache)
    out = run_threads(8, lambda: decrypting.on_decrypt(COMMITTING, CONTEXT, results[0].encrypted))
    assert all(o == results[0].plaintext for o in out)
    assert sent == ["GenerateDataKey", "Decrypt"]


def test_a_failed_flight_fails_its_waiters_once() -> None:
    cache = DataKeyCache(60, 1000, 10**9)
    inner = FakeKeyring(delay=0.2, fail=KmsError("KMS GenerateDataKey on k failed: AccessDeniedException"))
    keyring = CachingKeyring(inner, cache)
    results = run_threads(8, lambda: keyring.on_encrypt(COMMITTING, CONTEXT))
    assert all(isinstance(r, KmsError) for r in results)
    assert inner.encrypts == 1
    assert (cache.misses, cache.hits, cache.kms_calls, len(cache)) == (1, 0, 1, 0)
    inner.fail = None
    assert serial(keyring.on_encrypt(COMMITTING, CONTEXT)) == b"2"  # the next caller tries again


def test_concurrent_leases_respect_the_message_bound() -> None:
    cache = DataKeyCache(60, 10, 10**9)
    inner = FakeKeyring()
    keyring = CachingKeyring(inner, cache)
    results = run_threads(16, lambda: [serial(keyring.on_encrypt(COMMITTING, CONTEXT)) for _ in range(25)])
    uses: dict[bytes, int] = {}
    for batch in results:
        for s in batch:
            uses[s] = uses.get(s, 0) + 1
    assert sum(uses.values()) == 400
    assert max(uses.values()) <= 10
    assert inner.encrypts == len(uses) == 40


def test_throttles_are_counted_from_the_wrapped_keyrings(moto_key: tuple[str, Any, list[str]]) -> None:
    key, client, _ = moto_key

    class ThrottleOnce:
        def __init__(self) -> None:
            self.meta, self.done = client.meta, False

        def generate_data_key(self, **kwargs: Any) -> Any:
            if not self.done:
                self.done = True
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GenerateDataKey")
            return client.generate_data_key(**kwargs)

    cache = DataKeyCache(60, 1000, 10**9)
    retry = RetryPolicy(sleep=lambda _: None)
    keyring = CachingKeyring(KmsKeyring(key, client=ThrottleOnce(), retry=retry), cache)
    keyring.on_encrypt(COMMITTING, CONTEXT)
    keyring.on_encrypt(COMMITTING, CONTEXT)
    assert cache.throttles == 1
    snapshot = cache.snapshot()
    assert (snapshot["throttles"], snapshot["kms_attempts"], snapshot["kms_calls"], snapshot["hits"]) == (1, 2, 1, 1)
    assert keyring.stats is not None
    assert keyring.stats.retries == 1
