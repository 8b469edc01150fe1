"""A data-key cache: fewer KMS calls, at a security cost the bounds limit.

Reusing a data key means one compromised key exposes every message it encrypted, and KMS no longer sees (or
logs) each message. So each cached key is bounded, like the AWS Encryption SDK's caching CMM
(aws-encryption-sdk-specification ``framework/caching-cmm.md``: a TTL, "Limit Messages", "Limit Bytes"):

* **age** - usable while ``clock() - created < max_age`` (``created``: when KMS answered);
* **messages** - at most ``max_messages`` messages per key: the ``max_messages``-th use retires it;
* **bytes** - at most ``max_bytes`` of plaintext per key, counted *as the data streams through* (below): once
  the count reaches ``max_bytes`` the key is retired. The message that crosses the bound finishes under its key
  (it cannot be re-keyed half-way), so a key encrypts at most ``max_bytes`` plus the rest of the messages in
  flight when it crossed; every later message gets a new key. This is what makes unknown lengths bounded: the
  official SDK instead refuses to cache when the length is not known in advance.

**Byte meter.** :meth:`CachingKeyring.on_encrypt` returns a :class:`CachedDataKey`; its plaintext usage is
reported with ``data_key.record_bytes(n)``. For a stream whose ``on_frame(n)`` callback reports each frame's
plaintext length, pass :meth:`CachingKeyring.meter` (it charges the key this thread last got from
``on_encrypt``, i.e. the message being encrypted: ``encrypt_stream`` calls ``on_encrypt`` before its first frame,
in the calling thread). For a message encrypted in memory, ``meter(len(plaintext))`` after it. Bytes reported for
a key already retired still count nowhere else: they cannot re-open it.

**Keys of the cache.** Encryption: ``(partition, suite id, encryption context)``, the context as the frozen set
of its pairs, so equal contexts map to one entry whatever their order (the same identity as the serialized
context: 1 us cheaper per message). Decryption: ``(partition, suite id, the sorted encrypted data keys (provider
id, info, ciphertext), context)``, the parts of the official formula (which hashes them with SHA-512); with one
key (the usual case) no sort, and the key's bytes hash once each (the header parser hands out the same bytes
objects for a repeated header); decryption entries are bounded by age only. The partition defaults to
one per :class:`CachingKeyring` (as the official CMM's partition id): two keyrings never share entries, so a
decryption keyring that allows only key A cannot be served a data key another keyring got from key B.
Signed-suite data keys are never cached for encryption: each signed message has its own signing key in its
context (``aws-crypto-public-key``), so no two messages could share one anyway.

**Single flight.** Concurrent misses of one cache key make one call to the wrapped keyring: the first thread
asks, the others wait for its answer and then take the entry (8 threads, one KMS call).

**Plaintext keys.** Each entry's key is a ``bytearray`` overwritten (:func:`~kmsflow.envelope.materials.wipe`)
when the entry is evicted, expires, reaches a bound or the cache is cleared. A message gets its own copy (a
:class:`~kmsflow.envelope.materials.SelfWipingKey` from ``on_encrypt``, overwritten when the message drops it; a
plain ``bytearray`` from ``on_decrypt``, which the caller wipes), so evicting an entry never changes a key a
message in another thread is still using. Copies libraries make are beyond reach.

**Counters** (:meth:`DataKeyCache.snapshot`): ``hits``, ``misses``, ``kms_calls`` (calls of the wrapped keyrings
on misses and bypasses: each one KMS operation for the KMS keyrings), ``throttles`` and ``kms_attempts`` (summed
over the :class:`~kmsflow.envelope.retry.RetryStats` of the wrapped keyrings), ``evictions``, ``bypasses``.

The cache is thread-safe: one lock guards the entries and counters; no KMS call is made while holding it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from kmsflow.envelope.exceptions import ConfigurationError
from kmsflow.envelope.materials import DataKey, EncryptedDataKey, Keyring, SelfWipingKey, wipe
from kmsflow.envelope.retry import RetryStats

if TYPE_CHECKING:
    from kmsflow.envelope.suites import AlgorithmSuite

#: What a single flight returns to its callers, and what its leader's ``make`` produces.
_T = TypeVar("_T")
_M = TypeVar("_M")


class _Entry:
    """One cached data key and how much it has been used."""

    __slots__ = ("bytes", "created", "encrypted", "key", "messages", "plaintext", "retired")

    def __init__(self, key: Hashable, plaintext: bytearray, encrypted: tuple[EncryptedDataKey, ...], now: float):
        self.key = key
        self.plaintext = plaintext
        self.encrypted = encrypted
        self.created = now
        self.messages = 0
        self.bytes = 0
        self.retired = False


class _LeasedKey(SelfWipingKey):
    """A lease's own copy of a cached key: a :class:`SelfWipingKey` whose finalizer runs once per message, so it
    is written for speed (a slice assignment of the same length, which cannot resize and so cannot fail on a
    buffer export; no context manager)."""

    def __del__(self) -> None:
        try:  # noqa: SIM105 - contextlib.suppress costs ~0.4 us per message here
            self[:] = _ZEROS if len(self) == _KEY_LENGTH else bytes(len(self))
        except Exception:  # never raise from a finalizer
            pass


_KEY_LENGTH = 32
_ZEROS = bytes(_KEY_LENGTH)


class CachedDataKey(DataKey):
    """A data key for one message, served from the cache: ``plaintext`` is this message's own copy; report the
    plaintext bytes encrypted under it with :meth:`record_bytes` (the cache's byte bound)."""

    def __init__(
        self, plaintext: bytearray, encrypted: tuple[EncryptedDataKey, ...], cache: DataKeyCache, entry: _Entry
    ) -> None:
        self.plaintext = plaintext  # DataKey's fields, set here: one message's cost (no dataclass __init__)
        self.encrypted = encrypted
        self._cache = cache
        self._entry = entry

    def record_bytes(self, n: int) -> None:
        """Count ``n`` more plaintext bytes encrypted under this key."""
        self._cache.record_bytes(self._entry, n)


class DataKeyCache:
    """Bounded, thread-safe store of data keys (see the module docstring for the bounds and the keys).

    ``max_age`` seconds, ``max_messages`` messages and ``max_bytes`` plaintext bytes per encryption key;
    ``capacity`` entries in all (least recently used evicted first); ``clock``: seconds, monotonic."""

    def __init__(
        self,
        max_age: float,
        max_messages: int,
        max_bytes: int,
        capacity: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age <= 0 or max_messages < 1 or max_bytes < 1 or capacity < 1:
            raise ConfigurationError(
                "DataKeyCache bounds must be positive: max_age > 0 s, max_messages >= 1, max_bytes >= 1, "
                f"capacity >= 1; got max_age={max_age!r}, max_messages={max_messages!r}, max_bytes={max_bytes!r}, "
                f"capacity={capacity!r}: raise the ones that are not"
            )
        self.max_age = max_age
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.capacity = capacity
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._flights: dict[Hashable, Future[None]] = {}
        self._lock = threading.Lock()
        self._stats: dict[int, RetryStats] = {}
        self.hits = 0
        self.misses = 0
        self.kms_calls = 0
        self.evictions = 0
        self.bypasses = 0

    # --- counters -----------------------------------------------------------------------------------------
    @property
    def throttles(self) -> int:
        """Throttling errors KMS answered the wrapped keyrings (their RetryStats, summed)."""
        with self._lock:
            stats = list(self._stats.values())
        return sum(s.throttles for s in stats)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            stats = list(self._stats.values())
            counters = {
                "hits": self.hits,
                "misses": self.misses,
                "kms_calls": self.kms_calls,
                "evictions": self.evictions,
                "bypasses": self.bypasses,
                "entries": len(self._entries),
            }
        counters["throttles"] = sum(s.throttles for s in stats)
        counters["kms_attempts"] = sum(s.attempts for s in stats)
        return counters

    def watch(self, stats: RetryStats) -> None:
        """Include ``stats`` (a wrapped keyring's) in :attr:`throttles`."""
        with self._lock:
            self._stats[id(stats)] = stats

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Evict (and wipe) every entry."""
        with self._lock:
            for entry in list(self._entries.values()):
                self._retire(entry)

    # --- encryption ---------------------------------------------------------------------------------------
    def lease(self, key: Hashable, make: Callable[[], DataKey]) -> tuple[CachedDataKey, _Entry]:
        """A data key for one message under ``key``: from a usable entry, or from ``make()`` (one caller at a
        time per key; the others wait for it)."""

        def store(data_key: DataKey) -> tuple[CachedDataKey, _Entry]:
            entry = _Entry(key, bytearray(data_key.plaintext), data_key.encrypted, self.clock())
            self._insert(entry)
            wipe(data_key.plaintext)  # the entry holds its own copy
            return self._take(entry), entry

        return self._single_flight(key, lambda entry: (self._take(entry), entry), make, store)

    def record_bytes(self, entry: _Entry, n: int) -> None:
        """Count ``n`` plaintext bytes encrypted under ``entry``'s key; retire it at the byte bound."""
        with self._lock:
            entry.bytes += n
            if entry.bytes >= self.max_bytes and not entry.retired:
                self._retire(entry)

    def bypass(self, make: Callable[[], DataKey]) -> DataKey:
        """A data key that is not cached (signed suites): straight from ``make()``."""
        with self._lock:
            self.bypasses += 1
            self.kms_calls += 1
        return make()

    # --- decryption ---------------------------------------------------------------------------------------
    def recover(self, key: Hashable, make: Callable[[], bytearray]) -> bytearray:
        """A copy of the data key cached under ``key``, or of ``make()``'s (single flight, as :meth:`lease`)."""

        def hit(entry: _Entry) -> bytearray:
            self._entries.move_to_end(key)
            return bytearray(entry.plaintext)

        def store(plaintext: bytearray) -> bytearray:
            self._insert(_Entry(key, plaintext, (), self.clock()))
            return bytearray(plaintext)

        return self._single_flight(key, hit, make, store)

    def _single_flight(
        self,
        key: Hashable,
        hit: Callable[[_Entry], _T],
        make: Callable[[], _M],
        store: Callable[[_M], _T],
    ) -> _T:
        """``hit(entry)`` for a usable entry under ``key``; else one caller (the leader) runs ``make()`` outside
        the lock and ``store``s its result while the others wait for it and look again (a leader's error is
        theirs too). ``hit`` and ``store`` run with the lock held."""
        while True:
            with self._lock:
                entry = self._usable(key)
                if entry is not None:
                    self.hits += 1
                    return hit(entry)
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = Future()
                    self.misses += 1
            if not leader:
                flight.result()  # the leader's error, if it failed, is this caller's too
                continue
            try:
                made = make()
            except BaseException as err:
                self._land(key, flight, err)
                raise
            with self._lock:
                result = store(made)
            self._land(key, flight, None)
            return result

    # --- internals (called with the lock held, except _land) ----------------------------------------------
    def _usable(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if (
            self.clock() - entry.created >= self.max_age
            or entry.messages >= self.max_messages
            or entry.bytes >= self.max_bytes
            or not any(entry.plaintext)  # wiped by someone else: never hand out a zero key
        ):
            self._retire(entry)
            return None
        return entry

    def _take(self, entry: _Entry) -> CachedDataKey:
        """One message's lease of ``entry``: counts the message, retires the entry at the message bound."""
        entry.messages += 1
        lease = CachedDataKey(_LeasedKey(entry.plaintext), entry.encrypted, self, entry)
        if entry.messages >= self.max_messages:
            self._retire(entry)
        elif not entry.retired:
            self._entries.move_to_end(entry.key)
        return lease

    def _insert(self, entry: _Entry) -> None:
        old = self._entries.get(entry.key)
        if old is not None:
            self._retire(old)
        while len(self._entries) >= self.capacity:
            _, oldest = next(iter(self._entries.items()))
            self._retire(oldest)
        self._entries[entry.key] = entry

    def _retire(self, entry: _Entry) -> None:
        if entry.retired:
            return
        entry.retired = True
        if self._entries.get(entry.key) is entry:
            del self._entries[entry.key]
        wipe(entry.plaintext)
        self.evictions += 1

    def _land(self, key: Hashable, flight: Future[None], error: BaseException | None) -> None:
        with self._lock:
            self.kms_calls += 1
            if self._flights.get(key) is flight:
                del self._flights[key]
        if error is None:
            flight.set_result(None)
        else:
            flight.set_exception(error)


class CachingKeyring:
    """A :class:`~kmsflow.envelope.materials.Keyring` that serves data keys of ``keyring`` from ``cache``.

    ``partition``: entries are shared only between CachingKeyrings with the same partition (default: a new one
    for this keyring). See the module docstring for the byte meter (:meth:`meter`, ``CachedDataKey.record_bytes``)."""

    def __init__(self, keyring: Keyring, cache: DataKeyCache, *, partition: str | None = None) -> None:
        self.keyring = keyring
        self.cache = cache
        self.partition = partition if partition is not None else uuid.uuid4().hex
        self._local = threading.local()
        stats = getattr(keyring, "stats", None)
        if isinstance(stats, RetryStats):
            cache.watch(stats)

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        if suite.signed:
            self._local.entry = None
            return self.cache.bypass(lambda: self.keyring.on_encrypt(suite, context))
        key = (self.partition, "encrypt", suite.id, frozenset(context.items()))
        lease, entry = self.cache.lease(key, lambda: self.keyring.on_encrypt(suite, context))
        self._local.entry = entry
        return lease

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        if len(keys) == 1:  # the usual case, without a sort
            edk = keys[0]
            edks: tuple[tuple[bytes, bytes, bytes], ...] = ((edk.provider_id, edk.provider_info, edk.ciphertext),)
        else:
            edks = tuple(sorted((k.provider_id, k.provider_info, k.ciphertext) for k in keys))
        key = (self.partition, "decrypt", suite.id, edks, frozenset(context.items()))
        return self.cache.recover(key, lambda: self.keyring.on_decrypt(suite, context, keys))

    def meter(self, n: int) -> None:
        """Count ``n`` plaintext bytes for the data key this thread last got from :meth:`on_encrypt` (pass as a
        stream's ``on_frame``). Nothing to count after a signed-suite (uncached) key."""
        entry: Any = getattr(self._local, "entry", None)
        if entry is not None:
            self.cache.record_bytes(entry, n)

    @property
    def stats(self) -> RetryStats | None:
        """The wrapped keyring's KMS counters, if it keeps them."""
        stats = getattr(self.keyring, "stats", None)
        return stats if isinstance(stats, RetryStats) else None
