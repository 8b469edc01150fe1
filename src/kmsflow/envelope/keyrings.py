"""KMS keyrings: where data keys come from and how they are recovered, written as the AWS Encryption SDK's
KMS keyrings write them, so that either side can read the other's messages.

Facts from the specification (awslabs/aws-encryption-sdk-specification, ``framework/aws-kms/``):

* **KMS keyring** (``aws-kms-keyring.md``): encrypt = ``GenerateDataKey(KeyId, NumberOfBytes = the suite's key
  derivation input length, EncryptionContext = the full context)``; the response plaintext length is checked and
  its ``KeyId`` must be a valid key ARN; the encrypted data key is written with provider id ``aws-kms`` and
  provider info = that response ``KeyId`` (always a key ARN). Decrypt: only EDKs whose provider id is exactly
  ``aws-kms`` and whose provider info is a valid KMS ARN of resource type ``key`` matching the configured key;
  ``Decrypt(KeyId, CiphertextBlob, EncryptionContext)``; the response ``KeyId`` must equal the key and the
  plaintext length the suite's; failures are collected and the next EDK is tried.
* **Discovery keyring** (``aws-kms-discovery-keyring.md``): the same filter with a discovery filter instead of a
  key: the ARN's partition must equal the filter's and its account must be in the filter's accounts;
  ``Decrypt`` is called with ``KeyId`` = the provider info ARN and the response ``KeyId`` must equal it.
  kmsflow never offers discovery without a filter ("any key").
* **KMS RSA keyring** (``aws-kms-rsa-keyring.md``): provider id ``aws-kms-rsa``, provider info = the configured
  key identifier (here always the key ARN, since decrypt requires one). The plaintext RSA-encrypted (OAEP with
  SHA-256 and MGF1-SHA-256 for ``RSAES_OAEP_SHA_256``) is ``SHA-384(serialized context) || data key``, where the
  context is serialized as the message header's key-value pairs (empty context: no bytes); KMS RSA keys take no
  encryption context, so this digest is what binds the context. Decrypt: ``Decrypt(KeyId = the key,
  CiphertextBlob, EncryptionAlgorithm)`` without a context; response ``KeyId`` must equal the key; the first 48
  bytes must equal the digest of the message's context. Public keys must have a modulus of at least 2,048
  bits. The official implementation (aws-cryptographic-material-providers 1.11.3, ``AwsKmsRsaKeyring``) refuses
  algorithm suites with asymmetric signing on both sides, because anyone holding the public key could make a
  message with another context; so does this module.
* **Key ARNs** (``aws-kms-key-arn.md``): six ``:``-separated parts: ``arn``, a non-empty partition, ``kms``, a
  non-empty region and account, and a resource ``type/id`` split at the first ``/``, type ``key`` or ``alias``.

Every KMS call goes through :func:`kmsflow.envelope.retry.call_with_retries`. Keys are in regions: a decrypting
keyring calls KMS in the region the EDK's ARN names (one client per region, made on first use; a client passed
in serves its own region).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmsflow.envelope.context import serialize_context
from kmsflow.envelope.exceptions import AuthenticationError, EnvelopeError, KeyNotAllowedError, KmsError
from kmsflow.envelope.kms_client import client_region, kms_client
from kmsflow.envelope.materials import DataKey, EncryptedDataKey, wipe
from kmsflow.envelope.retry import KmsCallError, RetryPolicy, RetryStats, call_with_retries

if TYPE_CHECKING:
    from kmsflow.envelope.suites import AlgorithmSuite

KMS_PROVIDER_ID = b"aws-kms"
KMS_RSA_PROVIDER_ID = b"aws-kms-rsa"

#: Data key length of every suite this library writes (AES-256 key derivation input), for keys made before a
#: suite is known (deferred keys); keyrings use the suite's ``data_key_length``.
DATA_KEY_LENGTH = 32

#: Length of the SHA-384 encryption context digest in front of an RSA-wrapped data key.
CONTEXT_DIGEST_LENGTH = 48

#: Smallest RSA modulus the KMS RSA keyring accepts (the spec: at least 2,048 bits).
MIN_RSA_BITS = 2048

RsaAlgorithm = Literal["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]
_OAEP_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "RSAES_OAEP_SHA_256": hashes.SHA256,
    "RSAES_OAEP_SHA_1": hashes.SHA1,
}


# ----------------------------------------------------------------------------------------------- key ARNs


@dataclass(frozen=True)
class KmsArn:
    """A KMS ARN, valid as the specification's ``aws-kms-key-arn.md`` defines it."""

    partition: str
    region: str
    account: str
    resource_type: str  # "key" or "alias"
    resource_id: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:{self.resource_type}/{self.resource_id}"


def parse_arn(text: str) -> KmsArn | None:
    """The KMS ARN ``text`` is, or ``None`` if it is not a valid one."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms":
        return None
    _, partition, _, region, account, resource = parts
    resource_type, slash, resource_id = resource.partition("/")
    if not (partition and region and account and slash and resource_id) or resource_type not in ("key", "alias"):
        return None
    return KmsArn(partition, region, account, resource_type, resource_id)


def parse_key_arn(text: str) -> KmsArn | None:
    """The ARN if ``text`` is a valid KMS ARN of resource type ``key``, else ``None``."""
    arn = parse_arn(text)
    return arn if arn is not None and arn.resource_type == "key" else None


def require_key_arn(key_id: str, role: str) -> KmsArn:
    """``key_id`` as a key ARN, or an :class:`EnvelopeError` saying that ``role`` needs one."""
    arn = parse_key_arn(key_id)
    if arn is None:
        raise EnvelopeError(
            f"{role} needs key ARNs (arn:<partition>:kms:<region>:<account>:key/<id>), not {key_id!r}: "
            "encrypted data keys name their key by ARN, so only an ARN can be matched without asking KMS"
        )
    return arn


def check_identifier(key_id: str) -> None:
    """Refuse what cannot be a KMS key identifier (key ARN, alias ARN, key id, alias name)."""
    if not key_id or (key_id.startswith("arn:") and parse_arn(key_id) is None):
        raise EnvelopeError(f"not a KMS key identifier: {key_id!r} (a key ARN, key id, alias name or alias ARN)")


# ---------------------------------------------------------------------------------------- plaintext keys


class SelfWipingKey(bytearray):
    """A plaintext data key handed to a caller that must not wipe it (the DataKey from ``on_encrypt``): it
    overwrites itself when the last reference to it goes (CPython frees it at once, by reference counting).
    Copies the caller made (``bytes(key)``, a library's buffers) are theirs."""

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            wipe(self)


def context_digest(context: Mapping[str, str]) -> bytes:
    """SHA-384 of the serialized context: what the KMS RSA keyring binds to the data key."""
    return hashlib.sha384(serialize_context(context)).digest()


# ---------------------------------------------------------------------------------------------- clients


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


class _KmsCaller:
    """What every KMS keyring shares: clients, retry policy, counters."""

    def __init__(
        self,
        *,
        client: Any,
        region: str | None,
        session: Any,
        retry: RetryPolicy | None,
        stats: RetryStats | None,
        grant_tokens: Sequence[str],
    ) -> None:
        self.clients = KmsClients(client, region, session)
        self.retry = retry
        self.stats = stats if stats is not None else RetryStats()
        self.grant_tokens = list(grant_tokens)

    def call(self, client: Any, operation: str, key_id: str, **params: Any) -> dict[str, Any]:
        """One KMS operation (``GenerateDataKey`` -> ``client.generate_data_key``) with retries."""
        method = getattr(client, _snake(operation))
        if self.grant_tokens and operation not in ("GetPublicKey", "DescribeKey"):
            params["GrantTokens"] = self.grant_tokens
        response: dict[str, Any] = call_with_retries(
            self.retry, self.stats, operation, lambda: method(**params), key_id=key_id
        )
        return response

    def decrypt_kms(
        self, arn: KmsArn, edk: EncryptedDataKey, suite: AlgorithmSuite, context: Mapping[str, str]
    ) -> bytearray:
        """Decrypt an ``aws-kms`` EDK under ``arn`` and check what KMS answers (key, length)."""
        response = self.call(
            self.clients.region(arn.region),
            "Decrypt",
            str(arn),
            KeyId=str(arn),
            CiphertextBlob=edk.ciphertext,
            EncryptionContext=dict(context),
        )
        plaintext = bytearray(response["Plaintext"])
        if response.get("KeyId") != str(arn) or len(plaintext) != suite.data_key_length:
            wipe(plaintext)
            raise KmsError(
                f"KMS Decrypt under {arn} answered for key {response.get('KeyId')!r} with a key of the wrong "
                f"length or for another key: refused"
            )
        return plaintext

    def decrypt_rsa(
        self,
        arn: KmsArn,
        edk: EncryptedDataKey,
        suite: AlgorithmSuite,
        context: Mapping[str, str],
        algorithm: RsaAlgorithm,
    ) -> bytearray:
        """Decrypt an ``aws-kms-rsa`` EDK under ``arn`` and check the context digest it carries."""
        refuse_signed_rsa(suite)
        response = self.call(
            self.clients.region(arn.region),
            "Decrypt",
            str(arn),
            KeyId=str(arn),
            CiphertextBlob=edk.ciphertext,
            EncryptionAlgorithm=algorithm,
        )
        material = bytearray(response["Plaintext"])
        try:
            if response.get("KeyId") != str(arn):
                raise KmsError(f"KMS Decrypt under {arn} answered for key {response.get('KeyId')!r}: refused")
            if len(material) != CONTEXT_DIGEST_LENGTH + suite.data_key_length:
                raise AuthenticationError(f"the RSA-encrypted data key under {arn} has the wrong length")
            if not hmac.compare_digest(bytes(material[:CONTEXT_DIGEST_LENGTH]), context_digest(context)):
                raise AuthenticationError(
                    f"the encryption context digest in the data key under {arn} does not match the message's "
                    "encryption context: the message was changed or made for another context"
                )
            return bytearray(material[CONTEXT_DIGEST_LENGTH:])
        finally:
            wipe(material)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def refuse_signed_rsa(suite: AlgorithmSuite) -> None:
    if suite.signed:
        raise EnvelopeError(
            f"the KMS RSA keyring cannot be used with the signed suite {suite.name}: anyone with the public key "
            "could make a message under another context (the AWS Encryption SDK refuses it too); use an "
            "unsigned suite"
        )


def _describe_edk(edk: EncryptedDataKey) -> str:
    return f"{edk.provider_id.decode(errors='replace')} {edk.provider_info.decode(errors='replace')}"


def _collected(what: str, keys: Sequence[EncryptedDataKey], errors: list[tuple[str, Exception]]) -> Exception:
    """The error for a decrypt that found no usable EDK: :class:`AuthenticationError` when a digest check failed
    (the message, not the key, is wrong); :class:`KmsError` when every attempt ran out of retries (KMS was
    throttled or unavailable: trying later may work); otherwise :class:`KeyNotAllowedError`."""
    if not errors:
        found = ", ".join(_describe_edk(k) for k in keys) or "none"
        return KeyNotAllowedError(
            f"no encrypted data key of the message may be decrypted under {what}; the message has: {found}"
        )
    reasons = "; ".join(f"{arn}: {err}" for arn, err in errors)
    if any(isinstance(err, AuthenticationError) for _, err in errors):
        return AuthenticationError(f"no encrypted data key could be decrypted under {what}: {reasons}")
    if all(isinstance(err, KmsCallError) and err.retryable for _, err in errors):
        return KmsError(f"KMS could not be reached for any encrypted data key allowed under {what}: {reasons}")
    return KeyNotAllowedError(f"KMS refused every encrypted data key allowed under {what}: {reasons}")


# ---------------------------------------------------------------------------------------------- keyrings


class KmsKeyring:
    """Data keys from ``GenerateDataKey`` under one KMS key; decrypts the ``aws-kms`` EDKs of that key only.

    ``key_id``: key ARN, key id, alias name or alias ARN. Encrypting works with any of them (KMS answers the key
    ARN, which becomes the provider info). Decrypting matches EDKs by key ARN: with a key ARN, no KMS call is
    needed to know which EDKs are allowed; otherwise the ARN is looked up once with ``DescribeKey`` (an alias
    is resolved to the key it names *now*)."""

    def __init__(
        self,
        key_id: str,
        *,
        client: Any = None,
        region: str | None = None,
        session: Any = None,
        retry: RetryPolicy | None = None,
        stats: RetryStats | None = None,
        grant_tokens: Sequence[str] = (),
    ) -> None:
        check_identifier(key_id)
        self.key_id = key_id
        arn = parse_arn(key_id)
        self._kms = _KmsCaller(
            client=client,
            region=arn.region if arn is not None else region,
            session=session,
            retry=retry,
            stats=stats,
            grant_tokens=grant_tokens,
        )
        self._key_arn: KmsArn | None = arn if arn is not None and arn.resource_type == "key" else None
        self._lock = threading.Lock()

    @property
    def stats(self) -> RetryStats:
        return self._kms.stats

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        response = self._kms.call(
            self._kms.clients.default(),
            "GenerateDataKey",
            self.key_id,
            KeyId=self.key_id,
            NumberOfBytes=suite.data_key_length,
            EncryptionContext=dict(context),
        )
        plaintext = SelfWipingKey(response["Plaintext"])
        answered = str(response.get("KeyId", ""))
        if len(plaintext) != suite.data_key_length or parse_key_arn(answered) is None:
            raise KmsError(
                f"KMS GenerateDataKey on {self.key_id} answered a {len(plaintext)}-byte key for {answered!r}; "
                f"expected {suite.data_key_length} bytes and a key ARN"
            )
        edk = EncryptedDataKey(KMS_PROVIDER_ID, answered.encode(), bytes(response["CiphertextBlob"]))
        return DataKey(plaintext, (edk,))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        arn = self.key_arn()
        errors: list[tuple[str, Exception]] = []
        for edk in keys:
            if edk.provider_id != KMS_PROVIDER_ID or edk.provider_info != str(arn).encode():
                continue
            try:
                return self._kms.decrypt_kms(arn, edk, suite, context)
            except EnvelopeError as err:
                errors.append((str(arn), err))
        raise _collected(f"the key {arn}", keys, errors)

    def key_arn(self) -> KmsArn:
        """The key's ARN (``DescribeKey`` once when the keyring was given an alias or a key id)."""
        with self._lock:
            if self._key_arn is not None:
                return self._key_arn
        response = self._kms.call(self._kms.clients.default(), "DescribeKey", self.key_id, KeyId=self.key_id)
        arn = parse_key_arn(str(response["KeyMetadata"]["Arn"]))
        if arn is None:
            raise KmsError(f"KMS DescribeKey on {self.key_id} answered no key ARN")
        with self._lock:
            self._key_arn = arn
        return arn


class KmsDecryptKeyring:
    """Decrypts data keys under an explicit set of KMS keys (strict: ``key_ids``, key ARNs) or any key of the
    ``discovery_accounts`` in ``partition`` (discovery) - exactly one of the two; never "any key". Only EDKs
    that pass the filter reach KMS: a message of another key raises :class:`KeyNotAllowedError` without a call.

    Handles both provider ids: ``aws-kms`` (KMS keyring: Decrypt with the context) and ``aws-kms-rsa`` (KMS RSA
    keyring: Decrypt with ``rsa_algorithm``, then the context digest check). Encrypting is not its job."""

    def __init__(
        self,
        key_ids: Sequence[str] | None = None,
        *,
        discovery_accounts: Sequence[str] | None = None,
        partition: str = "aws",
        client: Any = None,
        region: str | None = None,
        session: Any = None,
        retry: RetryPolicy | None = None,
        stats: RetryStats | None = None,
        grant_tokens: Sequence[str] = (),
        rsa_algorithm: RsaAlgorithm = "RSAES_OAEP_SHA_256",
    ) -> None:
        if (key_ids is None) == (discovery_accounts is None):
            raise EnvelopeError(
                "give either the allowed key ARNs (key_ids) or a discovery filter (discovery_accounts + partition), "
                "exactly one: decrypting under any key is not offered"
            )
        if isinstance(key_ids, str) or isinstance(discovery_accounts, str):
            raise EnvelopeError("key_ids and discovery_accounts are sequences of strings, not one string")
        if key_ids is not None:
            if not key_ids:
                raise EnvelopeError("key_ids is empty: no key could decrypt anything")
            self.key_arns: frozenset[str] | None = frozenset(
                str(require_key_arn(k, "a strict decryption keyring")) for k in key_ids
            )
            self.accounts: frozenset[str] | None = None
        else:
            accounts = list(discovery_accounts or ())
            bad = [a for a in accounts if not (len(a) == 12 and a.isdigit())]
            if not accounts or bad:
                raise EnvelopeError(f"discovery_accounts must be 12-digit AWS account ids, got {accounts!r}")
            if not partition:
                raise EnvelopeError("a discovery filter needs a partition (aws, aws-cn, aws-us-gov, ...)")
            self.key_arns = None
            self.accounts = frozenset(accounts)
        self.partition = partition
        self.rsa_algorithm = rsa_algorithm
        self._kms = _KmsCaller(
            client=client, region=region, session=session, retry=retry, stats=stats, grant_tokens=grant_tokens
        )

    @property
    def stats(self) -> RetryStats:
        return self._kms.stats

    def describe(self) -> str:
        if self.key_arns is not None:
            return "the keys " + ", ".join(sorted(self.key_arns))
        return f"the discovery filter (partition {self.partition}, accounts {', '.join(sorted(self.accounts or ()))})"

    def allows(self, edk: EncryptedDataKey) -> KmsArn | None:
        """The key ARN of ``edk`` if this keyring may ask KMS to decrypt it."""
        if edk.provider_id not in (KMS_PROVIDER_ID, KMS_RSA_PROVIDER_ID):
            return None
        try:
            arn = parse_key_arn(edk.provider_info.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        if arn is None:
            return None
        if self.key_arns is not None:
            return arn if str(arn) in self.key_arns else None
        return arn if arn.partition == self.partition and arn.account in (self.accounts or ()) else None

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        raise EnvelopeError("a decryption keyring does not encrypt: use KmsKeyring or KmsRsaKeyring")

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        errors: list[tuple[str, Exception]] = []
        for edk in keys:
            arn = self.allows(edk)
            if arn is None:
                continue
            try:
                if edk.provider_id == KMS_RSA_PROVIDER_ID:
                    return self._kms.decrypt_rsa(arn, edk, suite, context, self.rsa_algorithm)
                return self._kms.decrypt_kms(arn, edk, suite, context)
            except EnvelopeError as err:
                errors.append((str(arn), err))
        raise _collected(self.describe(), keys, errors)


class KmsRsaKeyring:
    """Data keys made locally and encrypted offline under the public key of a KMS RSA ``ENCRYPT_DECRYPT`` key
    (``RSAES_OAEP_SHA_256`` by default), as the AWS Encryption SDK's KMS RSA keyring does; decrypted through KMS.

    ``key_id`` must be the key ARN (it is the provider info). ``public_key_pem``: the key's public key (PEM or
    DER SubjectPublicKeyInfo, as GetPublicKey returns it); without it, one ``GetPublicKey`` on first use. Signed
    suites are refused (see the module docstring)."""

    def __init__(
        self,
        key_id: str,
        *,
        public_key_pem: bytes | None = None,
        algorithm: RsaAlgorithm = "RSAES_OAEP_SHA_256",
        client: Any = None,
        region: str | None = None,
        session: Any = None,
        retry: RetryPolicy | None = None,
        stats: RetryStats | None = None,
        grant_tokens: Sequence[str] = (),
    ) -> None:
        self.arn = require_key_arn(key_id, "the KMS RSA keyring")
        self.key_id = str(self.arn)
        if algorithm not in _OAEP_HASHES:
            raise EnvelopeError(
                f"unknown RSA encryption algorithm {algorithm!r}; expected one of {sorted(_OAEP_HASHES)}"
            )
        self.algorithm = algorithm
        self._kms = _KmsCaller(
            client=client, region=self.arn.region, session=session, retry=retry, stats=stats, grant_tokens=grant_tokens
        )
        self._public_key = load_rsa_public_key(public_key_pem) if public_key_pem is not None else None
        self._lock = threading.Lock()

    @property
    def stats(self) -> RetryStats:
        return self._kms.stats

    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA public key: the one given, or one GetPublicKey (made once, by the first caller)."""
        with self._lock:
            if self._public_key is None:
                response = self._kms.call(self._kms.clients.default(), "GetPublicKey", self.key_id, KeyId=self.key_id)
                if response.get("KeyUsage") != "ENCRYPT_DECRYPT" or self.algorithm not in response.get(
                    "EncryptionAlgorithms", ()
                ):
                    raise EnvelopeError(
                        f"{self.key_id} is not an RSA key for {self.algorithm} encryption (KeyUsage "
                        f"{response.get('KeyUsage')}, algorithms {response.get('EncryptionAlgorithms')})"
                    )
                self._public_key = load_rsa_public_key(bytes(response["PublicKey"]))
            return self._public_key

    def on_encrypt(self, suite: AlgorithmSuite, context: Mapping[str, str]) -> DataKey:
        refuse_signed_rsa(suite)
        public_key = self.public_key()
        plaintext = SelfWipingKey(os.urandom(suite.data_key_length))
        material = bytearray(context_digest(context)) + plaintext
        try:
            hash_algorithm = _OAEP_HASHES[self.algorithm]
            oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_algorithm()), algorithm=hash_algorithm(), label=None)
            ciphertext = public_key.encrypt(bytes(material), oaep)
        finally:
            wipe(material)
        return DataKey(plaintext, (EncryptedDataKey(KMS_RSA_PROVIDER_ID, self.key_id.encode(), ciphertext),))

    def on_decrypt(
        self, suite: AlgorithmSuite, context: Mapping[str, str], keys: Sequence[EncryptedDataKey]
    ) -> bytearray:
        refuse_signed_rsa(suite)
        errors: list[tuple[str, Exception]] = []
        for edk in keys:
            if edk.provider_id != KMS_RSA_PROVIDER_ID or edk.provider_info != self.key_id.encode():
                continue
            try:
                return self._kms.decrypt_rsa(self.arn, edk, suite, context, self.algorithm)
            except EnvelopeError as err:
                errors.append((self.key_id, err))
        raise _collected(f"the RSA key {self.key_id}", keys, errors)


def load_rsa_public_key(data: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or DER (SubjectPublicKeyInfo); refused below :data:`MIN_RSA_BITS`."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as err:
        raise EnvelopeError(f"not a PEM or DER public key: {err}") from err
    if not isinstance(key, rsa.RSAPublicKey):
        raise EnvelopeError(f"the public key is {type(key).__name__}, not RSA")
    if key.key_size < MIN_RSA_BITS:
        raise EnvelopeError(
            f"the RSA public key has {key.key_size} bits; the KMS RSA keyring needs at least {MIN_RSA_BITS}"
        )
    return key
