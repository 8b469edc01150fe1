"""Deferred data keys on moto KMS: made with GenerateDataKeyWithoutPlaintext, decrypted only on first use (KMS
calls counted), one message each, bound to their context, readable by the KMS keyrings."""

from __future__ import annotations

from functools import partial

import pytest

from kmsflow.envelope import message
from kmsflow.envelope.decrypt_keyring import KmsDecryptKeyring
from kmsflow.envelope.deferred import MAX_KEYS, DeferredDataKey, generate_data_keys
from kmsflow.envelope.exceptions import ContextError, EnvelopeError, KeyNotAllowedError
from kmsflow.envelope.header import read_header
from kmsflow.envelope.kms_keyring import KmsKeyring
from kmsflow.envelope.materials import EncryptedDataKey
from kmsflow.envelope.retry import RetryStats
from kmsflow.envelope.suites import COMMITTING, COMMITTING_SIGNED
from tests.envelope.conftest import Kms
from tests.envelope.refusals import configuration_error

CONTEXT = {"purpose": "later"}


def test_keys_are_made_without_plaintext_and_decrypted_on_first_use(kms: Kms) -> None:
    stats = RetryStats()
    keys = generate_data_keys(3, kms.key, context=CONTEXT, client=kms.client, stats=stats)
    assert kms.sent == ["GenerateDataKeyWithoutPlaintext"] * 3
    assert [k.used for k in keys] == [False] * 3
    assert len({k.encrypted.ciphertext for k in keys}) == 3
    assert all(k.encrypted.provider_id == b"aws-kms" and k.encrypted.provider_info == kms.key.encode() for k in keys)
    kms.sent.clear()
    data = message.encrypt(b"payload", keys[1], context=CONTEXT)
    assert kms.sent == ["Decrypt"]  # one key, used once
    assert keys[1].used
    assert read_header(data).encrypted_data_keys == (keys[1].encrypted,)
    # the message is an ordinary KMS-keyring message
    assert message.decrypt(data, KmsDecryptKeyring([kms.key], client=kms.client)) == b"payload"
    assert stats.snapshot()["calls"] == 4


def test_a_key_serves_one_message(kms: Kms) -> None:
    [key] = generate_data_keys(1, kms.key, context=CONTEXT, client=kms.client)
    message.encrypt(b"one", key, context=CONTEXT)
    kms.sent.clear()
    with pytest.raises(EnvelopeError, match="already encrypted a message"):
        message.encrypt(b"two", key, context=CONTEXT)
    assert kms.sent == []


def test_the_context_is_bound_before_any_call(kms: Kms) -> None:
    [key] = generate_data_keys(1, kms.key, context=CONTEXT, client=kms.client)
    kms.sent.clear()
    with pytest.raises(ContextError, match="bound to the encryption context it was made with"):
        message.encrypt(b"x", key, context={"purpose": "other"})
    assert configuration_error(lambda: message.encrypt(b"x", key, context=CONTEXT, suite=COMMITTING_SIGNED)) == (
        f"a deferred data key cannot serve the signed suite {COMMITTING_SIGNED.name}: the message's context will hold "
        "its own signing key, unknown when the data key was made; use an unsigned suite"
    )
    assert kms.sent == []
    assert not key.used
    message.encrypt(b"x", key, context=CONTEXT)  # still usable with the right context


def test_a_stored_key_is_recreated_from_its_edk_and_context(kms: Kms) -> None:
    [made] = generate_data_keys(1, kms.key, context=CONTEXT, client=kms.client)
    stored = (made.encrypted.provider_id, made.encrypted.provider_info, made.encrypted.ciphertext, dict(made.context))
    later = DeferredDataKey(EncryptedDataKey(*stored[:3]), stored[3], client=kms.client)
    data_key = later.on_encrypt(COMMITTING, CONTEXT)
    assert KmsKeyring(kms.key, client=kms.client).on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == (
        data_key.plaintext
    )
    assert later.on_decrypt(COMMITTING, CONTEXT, data_key.encrypted) == data_key.plaintext
    with pytest.raises(KeyNotAllowedError):
        later.on_decrypt(COMMITTING, CONTEXT, (EncryptedDataKey(b"aws-kms", made.encrypted.provider_info, b"x"),))
    with pytest.raises(ContextError):
        later.on_decrypt(COMMITTING, {}, data_key.encrypted)


def test_alias_key_ids_and_limits(kms: Kms) -> None:
    kms.client.create_alias(AliasName="alias/later", TargetKeyId=kms.key)
    [key] = generate_data_keys(1, "alias/later", client=kms.client)
    assert key.key_arn == kms.key
    assert key.context == {}
    for bad in (0, MAX_KEYS + 1):
        assert configuration_error(partial(generate_data_keys, bad, kms.key, client=kms.client)) == (
            f"generate between 1 and 10,000 data keys at a time, not {bad}: ask for more in several calls"
        )
    assert configuration_error(lambda: generate_data_keys(1, "arn:aws:kms:eu-west-1", client=kms.client)).startswith(
        "not a KMS key identifier: 'arn:aws:kms:eu-west-1', not a valid KMS ARN (4 ':'-separated parts instead of 6); "
    )
    rsa_key = EncryptedDataKey(b"aws-kms-rsa", kms.key.encode(), b"x")
    assert configuration_error(lambda: DeferredDataKey(rsa_key, {})) == (
        "a deferred data key is an aws-kms encrypted data key naming its key ARN (arn:<partition>:kms:<region>:"
        f"<account>:key/<key id>); got provider id b'aws-kms-rsa', provider info {kms.key.encode()!r}: pass the "
        ".encrypted of a key from generate_data_keys()"
    )
