"""KMS key identifiers and ARNs (spec ``aws-kms-key-arn.md``): what parses, and the configuration errors that say
what was given, what is allowed and how to fix it."""

from __future__ import annotations

import pytest

from kmsflow.envelope.arns import (
    IDENTIFIER_FORMS,
    KEY_ARN_FORM,
    KmsArn,
    check_identifier,
    is_account_id,
    parse_arn,
    parse_key_arn,
    region_of,
    require_key_arn,
)
from kmsflow.envelope.exceptions import ConfigurationError, EnvelopeError

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS = "arn:aws:kms:eu-west-1:123456789012:alias/orders"
FIX = (
    "Encrypted data keys name their key by ARN, so only a key ARN can be matched without asking KMS: pass the key's "
    "ARN (aws kms describe-key --key-id <key id or alias> prints it as KeyMetadata.Arn)"
)


def test_the_forms_in_messages() -> None:
    assert KEY_ARN_FORM == "arn:<partition>:kms:<region>:<account>:key/<key id>"
    assert IDENTIFIER_FORMS == (
        "a key ARN (arn:<partition>:kms:<region>:<account>:key/<key id>), an alias ARN "
        "(arn:<partition>:kms:<region>:<account>:alias/<alias name>), a key id or an alias name (alias/<name>)"
    )


def test_valid_arns_parse() -> None:
    assert parse_arn(KEY) == KmsArn("aws", "eu-west-1", "123456789012", "key", "1234abcd-12ab-34cd-56ef-1234567890ab")
    assert str(parse_arn(ALIAS)) == ALIAS
    assert parse_key_arn(ALIAS) is None
    # the resource is split at the first "/" and may hold ":" and "/"
    assert parse_arn("arn:aws-cn:kms:cn-north-1:1:alias/a:b/c") == KmsArn("aws-cn", "cn-north-1", "1", "alias", "a:b/c")
    assert (region_of(KEY, "us-east-1"), region_of("alias/orders", "us-east-1")) == ("eu-west-1", "us-east-1")


def test_account_ids() -> None:
    assert is_account_id("123456789012")
    assert not any(is_account_id(a) for a in ("12345678901", "1234567890123", "12345678901a", ""))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "an empty string"),
        ("arn:aws:kms:eu-west-1", "not a valid KMS ARN (4 ':'-separated parts instead of 6)"),
        (
            "arn:aws:s3:::bucket/key",
            "not a valid KMS ARN (it starts arn:<partition>:s3: instead of arn:<partition>:kms:)",
        ),
        ("ARN:aws:kms:eu-west-1:1:key/x", "a key id"),  # not "arn:": KMS decides what it is
        ("arn:aws:kms::123456789012:key/x", "not a valid KMS ARN (no region)"),
        ("arn::kms:::key/x", "not a valid KMS ARN (no partition and no region and no account)"),
        ("arn:aws:kms:eu-west-1:1:grant/x", "not a valid KMS ARN (resource type 'grant' instead of one of key, alias)"),
        ("arn:aws:kms:eu-west-1:123456789012:key/", "not a valid KMS ARN (no id after key/)"),
        ("arn:aws:kms:eu-west-1:123456789012:key", "not a valid KMS ARN (no id after key/)"),
    ],
)
def test_what_is_not_an_arn_is_named(text: str, kind: str) -> None:
    assert parse_arn(text) is None
    with pytest.raises(ConfigurationError) as caught:
        require_key_arn(text, "the test")
    assert str(caught.value) == f"the test needs key ARNs ({KEY_ARN_FORM}); got {text!r}, {kind}. {FIX}"
    if text.startswith("arn:") or not text:
        with pytest.raises(ConfigurationError) as refused:
            check_identifier(text)
        assert str(refused.value) == (
            f"not a KMS key identifier: {text!r}, {kind}; a KMS key is named by {IDENTIFIER_FORMS}: pass one of those"
        )


@pytest.mark.parametrize(
    ("text", "kind"), [("alias/orders", "an alias name"), ("1234abcd", "a key id"), (ALIAS, "an alias ARN")]
)
def test_identifiers_that_are_not_key_arns(text: str, kind: str) -> None:
    check_identifier(text)  # any of them names a key KMS can call
    with pytest.raises(ConfigurationError) as caught:
        require_key_arn(text, "a strict decryption keyring")
    assert str(caught.value) == (
        f"a strict decryption keyring needs key ARNs ({KEY_ARN_FORM}); got {text!r}, {kind}. {FIX}"
    )
    assert isinstance(caught.value, EnvelopeError)
    assert require_key_arn(KEY, "a strict decryption keyring") == parse_arn(KEY)
