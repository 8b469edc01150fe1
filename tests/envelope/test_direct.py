"""Direct mode on moto KMS: 4,096 bytes pass, 4,097 are refused before any call with an error that says what to
do; the context and the key are checked by KMS."""

from __future__ import annotations

from functools import partial

import pytest

from kmsflow.envelope.arns import IDENTIFIER_FORMS
from kmsflow.envelope.direct import DIRECT_LIMIT, direct_decrypt, direct_encrypt
from kmsflow.envelope.exceptions import AuthenticationError, ContextError, DirectModeError, EnvelopeError, KmsError
from kmsflow.envelope.retry import RetryStats
from kmsflow.lambdas.aws_clients import session_for
from tests.envelope.conftest import Kms
from tests.envelope.refusals import configuration_error

CONTEXT = {"purpose": "direct"}


def test_limit_is_4096() -> None:
    assert DIRECT_LIMIT == 4096


def test_4096_bytes_round_trip(kms: Kms) -> None:
    data = bytes(range(256)) * 16
    assert len(data) == 4096
    stats = RetryStats()
    blob = direct_encrypt(data, kms.key, context=CONTEXT, client=kms.client, stats=stats)
    assert data not in blob
    assert direct_decrypt(blob, kms.key, context=CONTEXT, client=kms.client, stats=stats) == data
    assert kms.sent == ["Encrypt", "Decrypt"]
    assert stats.calls == 2


def test_4097_bytes_are_refused_before_any_call(kms: Kms) -> None:
    stats = RetryStats()
    with pytest.raises(DirectModeError) as caught:
        direct_encrypt(b"\x00" * 4097, kms.key, client=kms.client, stats=stats)
    assert str(caught.value) == (
        "direct mode takes at most 4,096 bytes (KMS Encrypt's limit); this payload has 4,097 bytes: "
        "use the envelope (encrypt without --direct) for larger data"
    )
    assert isinstance(caught.value, EnvelopeError)
    assert kms.sent == []
    assert stats.calls == 0


def test_empty_payload_is_refused(kms: Kms) -> None:
    with pytest.raises(DirectModeError, match="empty payload"):
        direct_encrypt(b"", kms.key, client=kms.client)
    assert kms.sent == []


def test_context_must_match(kms: Kms) -> None:
    blob = direct_encrypt(b"secret", kms.key, context=CONTEXT, client=kms.client)
    with pytest.raises(AuthenticationError, match="encryption context differs"):
        direct_decrypt(blob, kms.key, context={"purpose": "other"}, client=kms.client)
    with pytest.raises(AuthenticationError):
        direct_decrypt(blob, kms.key, client=kms.client)


def test_tampered_blob_is_refused(kms: Kms) -> None:
    blob = bytearray(direct_encrypt(b"secret", kms.key, client=kms.client))
    blob[-1] ^= 1
    with pytest.raises(AuthenticationError, match="it was changed"):
        direct_decrypt(bytes(blob), kms.key, client=kms.client)


def test_only_the_named_key_may_decrypt(kms: Kms) -> None:
    blob = direct_encrypt(b"secret", kms.key, client=kms.client)
    kms.sent.clear()
    # moto answers AccessDeniedException where KMS answers IncorrectKeyException: neither is retried
    with pytest.raises(KmsError, match=f"KMS Decrypt on {kms.other_key} failed: AccessDeniedException") as caught:
        direct_decrypt(blob, kms.other_key, client=kms.client)
    assert not isinstance(caught.value, AuthenticationError)
    assert kms.sent == ["Decrypt"]  # not retried


def test_alias_and_region_from_the_arn(kms: Kms) -> None:
    kms.client.create_alias(AliasName="alias/direct", TargetKeyId=kms.key)
    blob = direct_encrypt(b"secret", "alias/direct", client=kms.client)
    assert direct_decrypt(blob, kms.key, client=kms.client) == b"secret"
    # a key ARN of another region gets a client of that region, whatever client was passed
    far_client = session_for(region="us-east-1").client("kms", region_name="us-east-1")
    far = far_client.create_key()["KeyMetadata"]["Arn"]
    far_blob = direct_encrypt(b"far", far, client=kms.client)
    assert far_client.decrypt(CiphertextBlob=far_blob)["Plaintext"] == b"far"
    assert direct_decrypt(far_blob, far) == b"far"


def test_bad_context_and_key_id(kms: Kms) -> None:
    with pytest.raises(ContextError) as caught:  # as the envelope's encrypt refuses it
        direct_encrypt(b"x", kms.key, context={"a": 1}, client=kms.client)  # type: ignore[dict-item]
    assert str(caught.value) == (
        "an encryption context maps strings to strings; got str -> int for key 'a': pass str keys and values"
    )
    bad = "arn:aws:kms:eu-west-1:123456789012:key/"
    for call in (direct_encrypt, direct_decrypt):
        assert configuration_error(partial(call, b"x", bad, client=kms.client)) == (
            f"not a KMS key identifier: {bad!r}, not a valid KMS ARN (no id after key/); a KMS key is named by "
            f"{IDENTIFIER_FORMS}: pass one of those"
        )
    assert kms.sent == []
