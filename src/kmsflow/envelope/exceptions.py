"""The envelope area's one error family: every error ``kmsflow.envelope`` raises on purpose is an
:class:`EnvelopeError`. A message that fails any check raises before any of its plaintext is returned."""

from __future__ import annotations

from kmsflow.errors import KmsflowError


class EnvelopeError(KmsflowError):
    """Base class of the envelope area."""


class ConfigurationError(EnvelopeError):
    """The keyring or Envelope was configured wrongly: a key identifier of the wrong kind (an alias where a key
    ARN is needed), both or neither of the allowed keys and a discovery filter, a bound that is not positive, a
    suite or key the keyring cannot serve. Raised before any data is encrypted or decrypted; the message names
    what was wrong, the value received, what is allowed and how to fix it."""


class MessageFormatError(EnvelopeError):
    """The bytes are not a message this library can read: wrong version or suite, a field out of range,
    truncated, or trailing bytes."""


class AuthenticationError(EnvelopeError):
    """A message failed authentication: header tag, key commitment, a frame's tag or the signature. It was
    changed, truncated at a frame boundary, or decrypted with a context other than the one it was made with."""


class ContextError(EnvelopeError):
    """An encryption context is not allowed (a reserved ``aws-crypto-`` key on input) or a required pair does not
    match the message's."""


class KeyNotAllowedError(EnvelopeError):
    """No encrypted data key of the message may be decrypted under the allowed keys or discovery filter, or
    KMS refused every one of them."""


class DirectModeError(EnvelopeError):
    """A payload too large for KMS Encrypt (direct mode): use the envelope."""


class KmsError(EnvelopeError):
    """A KMS call failed for a reason retries do not fix (access denied, disabled key, limits), or retries ran
    out; the message names the operation, the key and the AWS error code."""
