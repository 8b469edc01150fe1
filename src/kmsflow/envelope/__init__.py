"""Envelope encryption with AWS KMS: data keys from KMS, AES-256-GCM here, in the AWS Encryption SDK's message
format (version 2, framed, key-committing suite by default), readable and writable by the official SDK.

Start with :class:`Envelope`::

    from kmsflow.envelope import Envelope, DataKeyCache

    envelope = Envelope("arn:aws:kms:eu-west-1:111122223333:key/...", cache=DataKeyCache(300, 1000, 2**30))
    message = envelope.encrypt(b"...", context={"tenant": "orders"})
    plaintext = envelope.decrypt(message, context={"tenant": "orders"})
    envelope.put_object("bucket", "key", open("big.bin", "rb"), context={"tenant": "orders"})

The pieces underneath are public too: the format (:func:`encrypt`, :func:`decrypt`, :func:`encrypt_stream`,
:func:`decrypt_stream`, :func:`read_header`), keyrings (:class:`KmsKeyring`, :class:`KmsDecryptKeyring`,
:class:`KmsRsaKeyring`, :class:`CachingKeyring`), direct mode, deferred keys, the retry policy and the errors,
all of them :class:`EnvelopeError`.

Names are loaded on first use (PEP 562 ``__getattr__``): importing one module of the package, say the format's,
does not import boto3 or the KMS side, and ``kmsflow --help`` stays fast. The package imports no ``aws_cdk``;
its runtime needs are the standard library, boto3/botocore and ``cryptography``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kmsflow.envelope.api import Envelope, EnvelopeStats
    from kmsflow.envelope.cache import CachingKeyring, DataKeyCache
    from kmsflow.envelope.decrypt_keyring import KmsDecryptKeyring
    from kmsflow.envelope.deferred import DeferredDataKey, generate_data_keys
    from kmsflow.envelope.direct import direct_decrypt, direct_encrypt
    from kmsflow.envelope.exceptions import (
        AuthenticationError,
        ConfigurationError,
        ContextError,
        DirectModeError,
        EnvelopeError,
        KeyNotAllowedError,
        KmsError,
        MessageFormatError,
    )
    from kmsflow.envelope.kms_keyring import KmsKeyring
    from kmsflow.envelope.materials import DataKey, EncryptedDataKey, Keyring
    from kmsflow.envelope.message import DEFAULT_FRAME_LENGTH, Header, decrypt, encrypt, read_header
    from kmsflow.envelope.retry import RetryPolicy, RetryStats
    from kmsflow.envelope.rsa_keyring import KmsRsaKeyring
    from kmsflow.envelope.s3 import PutResult
    from kmsflow.envelope.stream import decrypt_stream, encrypt_stream
    from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED, AlgorithmSuite

#: Public name → the module that defines it.
_WHERE = {
    "Envelope": "api",
    "EnvelopeStats": "api",
    "CachingKeyring": "cache",
    "DataKeyCache": "cache",
    "DeferredDataKey": "deferred",
    "generate_data_keys": "deferred",
    "direct_decrypt": "direct",
    "direct_encrypt": "direct",
    "AuthenticationError": "exceptions",
    "ConfigurationError": "exceptions",
    "ContextError": "exceptions",
    "DirectModeError": "exceptions",
    "EnvelopeError": "exceptions",
    "KeyNotAllowedError": "exceptions",
    "KmsError": "exceptions",
    "MessageFormatError": "exceptions",
    "KmsDecryptKeyring": "decrypt_keyring",
    "KmsKeyring": "kms_keyring",
    "KmsRsaKeyring": "rsa_keyring",
    "DataKey": "materials",
    "EncryptedDataKey": "materials",
    "Keyring": "materials",
    "DEFAULT_FRAME_LENGTH": "message",
    "Header": "message",
    "decrypt": "message",
    "encrypt": "message",
    "read_header": "message",
    "RetryPolicy": "retry",
    "RetryStats": "retry",
    "PutResult": "s3",
    "decrypt_stream": "stream",
    "encrypt_stream": "stream",
    "COMMITTING": "suites",
    "COMMITTING_SIGNED": "suites",
    "AlgorithmSuite": "suites",
}

__all__ = [
    "COMMITTING",
    "COMMITTING_SIGNED",
    "DEFAULT_FRAME_LENGTH",
    "AlgorithmSuite",
    "AuthenticationError",
    "CachingKeyring",
    "ConfigurationError",
    "ContextError",
    "DataKey",
    "DataKeyCache",
    "DeferredDataKey",
    "DirectModeError",
    "EncryptedDataKey",
    "Envelope",
    "EnvelopeError",
    "EnvelopeStats",
    "Header",
    "KeyNotAllowedError",
    "Keyring",
    "KmsDecryptKeyring",
    "KmsError",
    "KmsKeyring",
    "KmsRsaKeyring",
    "MessageFormatError",
    "PutResult",
    "RetryPolicy",
    "RetryStats",
    "decrypt",
    "decrypt_stream",
    "direct_decrypt",
    "direct_encrypt",
    "encrypt",
    "encrypt_stream",
    "generate_data_keys",
    "read_header",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kmsflow.envelope' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kmsflow.envelope.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
