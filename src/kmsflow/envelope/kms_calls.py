"""What the KMS keyrings share: how they call KMS (one client per region, retries, grant tokens, counters) and how
they go through a message's encrypted data keys when decrypting.

Every KMS call goes through :func:`kmsflow.envelope.retry.call_with_retries`. Decrypting follows the
specification (``framework/aws-kms/``): only the encrypted data keys the keyring's filter allows reach KMS, in
the message's order; a failure is collected and the next one is tried; the first that decrypts wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict

from kmsflow.envelope.arns import KmsArn
from kmsflow.envelope.exceptions import AuthenticationError, EnvelopeError, KeyNotAllowedError, KmsError
from kmsflow.envelope.kms_client import KmsClients
from kmsflow.envelope.materials import EncryptedDataKey
from kmsflow.envelope.retry import KmsCallError, RetryPolicy, RetryStats, call_with_retries

#: Operations that take no grant tokens.
_NO_GRANT_TOKENS = ("GetPublicKey", "DescribeKey")


class KmsOptions(TypedDict, total=False):
    """How a KMS keyring reaches KMS; every keyring takes these keywords, all optional.

    ``client``: a boto3 KMS client (it serves its own region); ``region``: the region of the keyring's own calls
    when its key is not named by an ARN (default: the client's, else the session's); ``session``: the boto3
    session clients of other regions come from (default: boto3's credentials); ``retry``: the back-off policy
    (default :class:`RetryPolicy`); ``stats``: counters to add this keyring's calls to; ``grant_tokens``: sent
    with every call that takes them."""

    client: Any
    region: str | None
    session: Any
    retry: RetryPolicy | None
    stats: RetryStats | None
    grant_tokens: Sequence[str]


class KmsCaller:
    """One keyring's way to KMS: its clients, retry policy and counters. ``key_region``: the region of the
    keyring's own key ARN, which wins over ``region``."""

    def __init__(
        self,
        key_region: str | None,
        *,
        client: Any = None,
        region: str | None = None,
        session: Any = None,
        retry: RetryPolicy | None = None,
        stats: RetryStats | None = None,
        grant_tokens: Sequence[str] = (),
    ) -> None:
        self.clients = KmsClients(client, key_region or region, session)
        self.retry = retry
        self.stats = stats if stats is not None else RetryStats()
        self.grant_tokens = list(grant_tokens)

    def call(self, client: Any, operation: str, key_id: str, **params: Any) -> dict[str, Any]:
        """One KMS operation (``GenerateDataKey`` -> ``client.generate_data_key``) with retries."""
        method = getattr(client, _snake(operation))
        if self.grant_tokens and operation not in _NO_GRANT_TOKENS:
            params["GrantTokens"] = self.grant_tokens
        response: dict[str, Any] = call_with_retries(
            self.retry, self.stats, operation, lambda: method(**params), key_id=key_id
        )
        return response

    def decrypt(self, arn: KmsArn, edk: EncryptedDataKey, **params: Any) -> dict[str, Any]:
        """KMS ``Decrypt`` of an encrypted data key under the key ``arn``, in the region the ARN names."""
        return self.call(
            self.clients.region(arn.region),
            "Decrypt",
            str(arn),
            KeyId=str(arn),
            CiphertextBlob=edk.ciphertext,
            **params,
        )


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def decrypt_first(
    keys: Sequence[EncryptedDataKey],
    allowed: Callable[[EncryptedDataKey], KmsArn | None],
    decrypt: Callable[[KmsArn, EncryptedDataKey], bytearray],
    what: str,
) -> bytearray:
    """The plaintext of the first of ``keys`` that ``allowed`` lets through (it answers the key's ARN) and
    ``decrypt`` decrypts; else the error of :func:`_no_key_decrypted`. ``what``: the allowed keys, for messages."""
    errors: list[tuple[str, Exception]] = []
    for edk in keys:
        arn = allowed(edk)
        if arn is None:
            continue
        try:
            return decrypt(arn, edk)
        except EnvelopeError as err:
            errors.append((str(arn), err))
    raise _no_key_decrypted(what, keys, errors)


def _describe_edk(edk: EncryptedDataKey) -> str:
    return f"{edk.provider_id.decode(errors='replace')} {edk.provider_info.decode(errors='replace')}"


def _no_key_decrypted(what: str, keys: Sequence[EncryptedDataKey], errors: list[tuple[str, Exception]]) -> Exception:
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
