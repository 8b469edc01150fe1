""":class:`Envelope`: envelope encryption under one KMS key, as one object with the few calls an application needs.

It wires the format (:mod:`~kmsflow.envelope.message`, :mod:`~kmsflow.envelope.stream`) to the KMS side
(the keyrings, :mod:`~kmsflow.envelope.cache`, :mod:`~kmsflow.envelope.retry`) so that a
caller chooses a key, a context and a size class, not keyrings:

- ``encrypt`` / ``decrypt`` for bytes, ``encrypt_stream`` / ``decrypt_stream`` for file-like objects of any length
  in constant memory, ``put_object`` / ``get_object`` for S3 (multipart, streamed; :mod:`~kmsflow.envelope.s3`);
- ``encrypt_direct`` / ``decrypt_direct``: KMS Encrypt/Decrypt for payloads up to 4,096 bytes, chosen explicitly;
- ``generate_data_keys(n)``: keys made now (GenerateDataKeyWithoutPlaintext), decrypted through KMS when used;
- ``stats()``: KMS attempts, retries and throttles, and the data-key cache's counters when there is one.

Decryption never accepts "any key": it takes the allowed key ARNs (default: this Envelope's key) or a discovery
filter (accounts and partition), never both. One KMS client, one retry policy and one set of counters serve
every call of an Envelope; keyrings are made once per distinct decryption filter, so a cache keeps serving them.
An Envelope is safe to share between threads when its cache is (:class:`~kmsflow.envelope.cache.DataKeyCache`
is).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast, overload

from kmsflow.envelope import message, s3, stream
from kmsflow.envelope.cache import CachingKeyring, DataKeyCache
from kmsflow.envelope.decrypt_keyring import KmsDecryptKeyring
from kmsflow.envelope.deferred import DeferredDataKey, generate_data_keys
from kmsflow.envelope.direct import direct_decrypt, direct_encrypt
from kmsflow.envelope.exceptions import ConfigurationError
from kmsflow.envelope.kms_client import kms_client as make_kms_client
from kmsflow.envelope.kms_keyring import KmsKeyring
from kmsflow.envelope.message import DEFAULT_FRAME_LENGTH, Header
from kmsflow.envelope.retry import RetryPolicy, RetryStats
from kmsflow.envelope.rsa_keyring import KmsRsaKeyring
from kmsflow.envelope.suites import COMMITTING, AlgorithmSuite, suite_by_id

if TYPE_CHECKING:
    import boto3

    from kmsflow.envelope.materials import Keyring

OnFrame = Callable[[int], None]


@dataclass(frozen=True)
class EnvelopeStats:
    """Counters of one :class:`Envelope` since it was made. ``kms_attempts`` counts every KMS request sent (first
    tries and retries); ``cache_*`` are zero without a cache."""

    kms_attempts: int
    retries: int
    throttles: int
    cache_hits: int
    cache_misses: int
    cache_kms_calls: int


class Envelope:
    """Envelope encryption under the KMS key ``key_id`` (key ARN, key id, alias name or alias ARN).

    ``cache``: a :class:`DataKeyCache` shared by encryption and decryption (what caching costs in security and
    how to choose its bounds: :mod:`kmsflow.envelope.cache`). ``retry``: the back-off policy for KMS calls
    (default :class:`RetryPolicy`). ``rsa`` / ``public_key_pem``: the key is an RSA ``ENCRYPT_DECRYPT`` key;
    encryption runs offline from its public key (the PEM given, or one GetPublicKey) and decryption goes through
    KMS. ``key_id`` may be ``None`` for an Envelope that only decrypts with an explicit ``key_ids`` or
    ``discovery_accounts``.
    """

    def __init__(
        self,
        key_id: str | None,
        *,
        region: str | None = None,
        session: boto3.Session | None = None,
        cache: DataKeyCache | None = None,
        retry: RetryPolicy | None = None,
        rsa: bool = False,
        public_key_pem: bytes | None = None,
    ) -> None:
        self.key_id = key_id
        self.region = region if region is not None else _region_of(key_id)
        self._session = session
        self._cache = cache
        self._retry = retry if retry is not None else RetryPolicy()
        self._stats = RetryStats()
        self._rsa = rsa or public_key_pem is not None
        self._public_key_pem = public_key_pem
        self._lock = threading.Lock()
        self._client: Any = None
        self._s3_client: Any = None
        self._encrypt_keyring: Keyring | None = None
        self._decrypt_keyrings: dict[tuple[Any, ...], Keyring] = {}

    # --- bytes -------------------------------------------------------------------------------------------
    def encrypt(
        self,
        data: bytes | bytearray | memoryview,
        *,
        context: Mapping[str, str] | None = None,
        suite: AlgorithmSuite = COMMITTING,
        frame_length: int = DEFAULT_FRAME_LENGTH,
        data_key: Keyring | None = None,
    ) -> bytes:
        """One message (AWS Encryption SDK format v2) holding ``data``. ``data_key``: a key from
        :meth:`generate_data_keys` (or any keyring) instead of this Envelope's keyring, for this message."""
        keyring = data_key if data_key is not None else self._encryption_keyring()
        result = message.encrypt(data, keyring, context=context, suite=suite, frame_length=frame_length)
        if isinstance(keyring, CachingKeyring):
            keyring.meter(memoryview(data).nbytes)  # the cache's byte bound: this message's bytes, on the key it leased
        return result

    def decrypt(
        self,
        data: bytes | bytearray | memoryview,
        *,
        context: Mapping[str, str] | None = None,
        key_ids: Sequence[str] | None = None,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
    ) -> bytes:
        """The plaintext of a message, once every check passed. ``context``: pairs the message's encryption
        context must contain (ContextError otherwise). ``key_ids`` (key ARNs) or ``discovery_accounts`` (+
        ``partition``): which KMS keys may decrypt its data key; default: this Envelope's key."""
        keyring = self._decryption_keyring(key_ids, discovery_accounts, partition)
        return message.decrypt(data, keyring, required_context=context)

    # --- streams -----------------------------------------------------------------------------------------
    def encrypt_stream(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        *,
        context: Mapping[str, str] | None = None,
        suite: AlgorithmSuite = COMMITTING,
        frame_length: int = DEFAULT_FRAME_LENGTH,
        on_frame: OnFrame | None = None,
        data_key: Keyring | None = None,
    ) -> int:
        """Encrypt ``src`` (read to its end, length unknown is fine) into ``dst`` frame by frame, in constant
        memory. Returns the plaintext length."""
        keyring = data_key if data_key is not None else self._encryption_keyring()
        return stream.encrypt_stream(
            src,
            dst,
            keyring,
            context=context,
            suite=suite,
            frame_length=frame_length,
            on_frame=_metered(keyring, on_frame),
        )

    def decrypt_stream(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        *,
        context: Mapping[str, str] | None = None,
        key_ids: Sequence[str] | None = None,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
        on_frame: OnFrame | None = None,
    ) -> Header:
        """Decrypt the message read from ``src`` into ``dst``; a frame is written only after its tag verified.

        A message of the signed suite cannot be released frame by frame (the signature covers the whole message
        and comes last), so it is read whole into memory, verified and only then written: bounded by memory.
        Returns the message header (suite, context, data keys)."""
        keyring = self._decryption_keyring(key_ids, discovery_accounts, partition)
        head = _read_exactly(src, 3)
        if len(head) == 3 and head[0] == 2 and suite_by_id(int.from_bytes(head[1:3], "big")).signed:
            whole = head + src.read()
            plaintext = message.decrypt(whole, keyring, required_context=context)
            stream.write_all(dst, plaintext)
            if on_frame is not None:
                on_frame(len(plaintext))
            return message.read_header(whole)
        return stream.decrypt_stream(
            cast(BinaryIO, _Prefixed(head, src)), dst, keyring, required_context=context, on_frame=on_frame
        )

    # --- S3 ----------------------------------------------------------------------------------------------
    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | bytearray | memoryview | BinaryIO,
        *,
        context: Mapping[str, str] | None = None,
        suite: AlgorithmSuite = COMMITTING,
        frame_length: int = DEFAULT_FRAME_LENGTH,
        part_size: int = s3.DEFAULT_PART_SIZE,
        on_frame: OnFrame | None = None,
    ) -> s3.PutResult:
        """Encrypt ``data`` (bytes or a readable file-like object) into ``s3://bucket/key`` as it is read:
        multipart above one part, at most one part of ciphertext in memory; metadata names the format."""

        def encrypt(src: BinaryIO, dst: BinaryIO) -> int:
            return self.encrypt_stream(
                src, dst, context=context, suite=suite, frame_length=frame_length, on_frame=on_frame
            )

        return s3.put_object(self.s3_client(), bucket, key, data, encrypt, suite_name=suite.name, part_size=part_size)

    @overload
    def get_object(
        self,
        bucket: str,
        key: str,
        dst: None = None,
        *,
        context: Mapping[str, str] | None = None,
        key_ids: Sequence[str] | None = None,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
        on_frame: OnFrame | None = None,
    ) -> bytes: ...

    @overload
    def get_object(
        self,
        bucket: str,
        key: str,
        dst: BinaryIO,
        *,
        context: Mapping[str, str] | None = None,
        key_ids: Sequence[str] | None = None,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
        on_frame: OnFrame | None = None,
    ) -> Header: ...

    def get_object(
        self,
        bucket: str,
        key: str,
        dst: BinaryIO | None = None,
        *,
        context: Mapping[str, str] | None = None,
        key_ids: Sequence[str] | None = None,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
        on_frame: OnFrame | None = None,
    ) -> bytes | Header:
        """Decrypt ``s3://bucket/key`` as its body streams in. Into ``dst`` (returns the header: verified frames
        are written as they come, so on an error ``dst`` may hold a verified prefix; the CLI writes to a
        temporary file for that reason), or, without ``dst``, returns the whole plaintext (nothing on error)."""

        def decrypt(src: BinaryIO, out: BinaryIO) -> Header:
            return self.decrypt_stream(
                src,
                out,
                context=context,
                key_ids=key_ids,
                discovery_accounts=discovery_accounts,
                partition=partition,
                on_frame=on_frame,
            )

        if dst is not None:
            return s3.get_object(self.s3_client(), bucket, key, dst, decrypt)
        buffer = io.BytesIO()
        s3.get_object(self.s3_client(), bucket, key, buffer, decrypt)
        return buffer.getvalue()

    # --- direct mode and deferred keys ---------------------------------------------------------------------
    def encrypt_direct(self, data: bytes, *, context: Mapping[str, str] | None = None) -> bytes:
        """KMS Encrypt of at most 4,096 bytes (no data key; the result is KMS's ciphertext blob, not a message).
        A larger payload raises DirectModeError: use :meth:`encrypt`."""
        return direct_encrypt(
            data, self._require_key(), context=context, client=self.kms_client(), retry=self._retry, stats=self._stats
        )

    def decrypt_direct(self, blob: bytes, *, context: Mapping[str, str] | None = None) -> bytes:
        """KMS Decrypt of a blob from :meth:`encrypt_direct`, allowed only under this Envelope's key."""
        return direct_decrypt(
            blob, self._require_key(), context=context, client=self.kms_client(), retry=self._retry, stats=self._stats
        )

    def generate_data_keys(self, n: int, *, context: Mapping[str, str] | None = None) -> list[DeferredDataKey]:
        """``n`` data keys made now under this key (GenerateDataKeyWithoutPlaintext, bound to ``context``),
        whose plaintext KMS returns only when each is first used (pass one as ``data_key=`` to :meth:`encrypt`,
        with the same context): keys for later, without plaintext keys waiting in memory."""
        return generate_data_keys(
            n, self._require_key(), context=context, client=self.kms_client(), retry=self._retry, stats=self._stats
        )

    # --- counters ------------------------------------------------------------------------------------------
    def stats(self) -> EnvelopeStats:
        """A snapshot of this Envelope's KMS and cache counters."""
        retries = self._stats.snapshot()
        cache = self._cache.snapshot() if self._cache is not None else {}
        return EnvelopeStats(
            kms_attempts=retries["attempts"],
            retries=retries["retries"],
            throttles=retries["throttles"],
            cache_hits=cache.get("hits", 0),
            cache_misses=cache.get("misses", 0),
            cache_kms_calls=cache.get("kms_calls", 0),
        )

    # --- wiring --------------------------------------------------------------------------------------------
    def _require_key(self) -> str:
        if self.key_id is None:
            raise ConfigurationError(
                "this Envelope was made with key_id=None, so it has no key to encrypt under or to decrypt with by "
                "default: make it with a key_id, or decrypt with key_ids=[...] or discovery_accounts=[...]"
            )
        return self.key_id

    def kms_client(self) -> Any:
        """The KMS client of this Envelope (made on first use, in its region and session; botocore retries off)."""
        with self._lock:
            if self._client is None:
                self._client = make_kms_client(self.region, self._session)
            return self._client

    def s3_client(self) -> Any:
        """The S3 client of this Envelope (made on first use, in its region and session)."""
        with self._lock:
            if self._s3_client is None:
                self._s3_client = _s3_client(self.region, self._session)
            return self._s3_client

    def _cached(self, keyring: Keyring) -> Keyring:
        return CachingKeyring(keyring, self._cache) if self._cache is not None else keyring

    def _encryption_keyring(self) -> Keyring:
        """This Envelope's own keyring: it encrypts, and decrypts the data keys of this key alone (an alias or
        key id is resolved to its key ARN once, by DescribeKey)."""
        ready = self._encrypt_keyring
        if ready is not None:  # the per-message path: no lock once made
            return ready
        key_id = self._require_key()
        client = self.kms_client()
        with self._lock:
            if self._encrypt_keyring is None:
                base: Keyring
                if self._rsa:
                    base = KmsRsaKeyring(
                        key_id, public_key_pem=self._public_key_pem, client=client, retry=self._retry, stats=self._stats
                    )
                else:
                    base = KmsKeyring(key_id, client=client, retry=self._retry, stats=self._stats)
                self._encrypt_keyring = self._cached(base)
            return self._encrypt_keyring

    def _decryption_keyring(
        self, key_ids: Sequence[str] | None, discovery_accounts: Sequence[str] | None, partition: str
    ) -> Keyring:
        """The keyring for a decryption: this Envelope's own (no filter given), or a :class:`KmsDecryptKeyring`
        for the key ARNs or the discovery filter (made once per distinct filter, both provider ids)."""
        if key_ids is None and discovery_accounts is None:
            return self._encryption_keyring()
        identity: tuple[Any, ...] = (
            ("keys", tuple(key_ids))
            if key_ids is not None
            else ("discovery", tuple(discovery_accounts or ()), partition)
        )
        client = self.kms_client()
        with self._lock:
            keyring = self._decrypt_keyrings.get(identity)
            if keyring is None:
                base = KmsDecryptKeyring(
                    key_ids,
                    discovery_accounts=discovery_accounts,
                    partition=partition,
                    client=client,
                    retry=self._retry,
                    stats=self._stats,
                )
                keyring = self._decrypt_keyrings[identity] = self._cached(base)
            return keyring


def _metered(keyring: Keyring, on_frame: OnFrame | None) -> OnFrame | None:
    """``on_frame`` that also charges each frame's bytes to the cached data key (the cache's byte bound, counted
    as the data streams, so a stream of unknown length is bounded too)."""
    if not isinstance(keyring, CachingKeyring):
        return on_frame
    meter = keyring.meter
    if on_frame is None:
        return meter

    def both(n: int) -> None:
        meter(n)
        on_frame(n)

    return both


class _Prefixed(io.RawIOBase):
    """A reader that yields ``prefix`` and then the rest of ``src``: the bytes read to peek at the suite go
    back in front of the stream. Reads may be short (the format's reader keeps reading); past the prefix,
    ``readinto`` goes straight to ``src`` (no extra copy per frame)."""

    def __init__(self, prefix: bytes, src: BinaryIO) -> None:
        super().__init__()
        self._prefix = prefix
        self._src = src

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                out, self._prefix = self._prefix + self._src.read(), b""
            else:
                out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out
        return self._src.read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        readinto = getattr(self._src, "readinto", None)
        if readinto is not None:
            return int(readinto(buffer) or 0)
        data = self._src.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_exactly(src: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, fewer only at the end of the stream (pipes and sockets return short reads)."""
    out = b""
    while len(out) < n:
        chunk = src.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def _region_of(key_id: str | None) -> str | None:
    """The region of a key or alias ARN (``arn:aws:kms:<region>:...``); None for ids and alias names."""
    if key_id is not None and key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    return None


def _s3_client(region: str | None, session: boto3.Session | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)
    return (session or boto3.Session()).client("s3", region_name=region, config=config)
