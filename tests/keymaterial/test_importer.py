"""import_key_material against the faithful fake KMS: what KMS ends up holding, and every refusal."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kmsflow.errors import KeyMaterialError
from kmsflow.keymaterial import importer
from kmsflow.keymaterial.importer import ImportResult, import_key_material
from kmsflow.lambdas.aws_clients import client

from .fake_kms import FakeKms

#: Printable, so that a leak of the raw bytes into a str would be visible as text too.
SECRET = b"correct horse battery staple!!32"


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms(region="eu-west-1")


def _pkcs8(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# ----- success --------------------------------------------------------------------------------------------


def test_imports_material_that_does_not_expire(kms: FakeKms) -> None:
    key = kms.add_key()
    material = os.urandom(32)

    result = import_key_material(kms, key_id=key.key_id, material=material)

    assert result == ImportResult(
        key_id=key.key_id,
        key_arn=key.arn,
        key_spec="SYMMETRIC_DEFAULT",
        wrapping_algorithm="RSAES_OAEP_SHA_256",
        expiration_model="KEY_MATERIAL_DOES_NOT_EXPIRE",
        valid_to=None,
    )
    assert kms.material_of(key.key_id) == material
    metadata = kms.describe_key(KeyId=key.key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled"
    assert metadata["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in metadata
    assert kms.operations()[:3] == ["DescribeKey", "GetParametersForImport", "ImportKeyMaterial"]
    _, gpi = kms.calls[1]
    assert gpi == {"KeyId": key.arn, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_4096"}


def test_imports_material_that_expires(kms: FakeKms) -> None:
    key = kms.add_key()
    material = os.urandom(32)
    valid_to = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    result = import_key_material(kms, key_id=key.key_id, material=material, valid_to=valid_to)

    assert result.expiration_model == "KEY_MATERIAL_EXPIRES"
    assert result.valid_to == valid_to
    assert kms.material_of(key.key_id) == material
    assert key.expiration_model == "KEY_MATERIAL_EXPIRES"
    assert key.valid_to == valid_to
    _, sent = kms.calls[-1]
    assert sent["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert sent["ValidTo"] == valid_to


def test_expiry_in_another_time_zone_is_accepted(kms: FakeKms) -> None:
    key = kms.add_key()
    tokyo = datetime.now(timezone(timedelta(hours=9))) + timedelta(days=2)

    assert import_key_material(kms, key_id=key.key_id, material=os.urandom(32), valid_to=tokyo).valid_to == tokyo


@pytest.mark.parametrize(
    ("key_spec", "make_material", "algorithm", "wrapping_key_spec"),
    [
        ("SYMMETRIC_DEFAULT", lambda: os.urandom(32), "RSAES_OAEP_SHA_1", "RSA_2048"),
        ("SYMMETRIC_DEFAULT", lambda: os.urandom(32), "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072"),
        ("HMAC_224", lambda: os.urandom(28), "RSAES_OAEP_SHA_256", "RSA_2048"),
        ("HMAC_256", lambda: os.urandom(128), "RSAES_OAEP_SHA_256", "RSA_2048"),
        ("HMAC_512", lambda: os.urandom(64), "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096"),
        (
            "RSA_2048",
            lambda: _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "RSA_AES_KEY_WRAP_SHA_256",
            "RSA_4096",
        ),
        (
            "ECC_NIST_P256",
            lambda: _pkcs8(ec.generate_private_key(ec.SECP256R1())),
            "RSAES_OAEP_SHA_256",
            "RSA_2048",
        ),
        (
            "ECC_NIST_P521",
            lambda: _pkcs8(ec.generate_private_key(ec.SECP521R1())),
            "RSA_AES_KEY_WRAP_SHA_1",
            "RSA_2048",
        ),
    ],
)
def test_imports_each_kind_of_material(
    kms: FakeKms, key_spec: str, make_material: Callable[[], bytes], algorithm: str, wrapping_key_spec: str
) -> None:
    key = kms.add_key(key_spec=key_spec)
    material = make_material()

    result = import_key_material(
        kms,
        key_id=key.key_id,
        material=material,
        wrapping_algorithm=algorithm,
        wrapping_key_spec=wrapping_key_spec,
    )

    assert kms.material_of(key.key_id) == material
    assert (result.key_spec, result.wrapping_algorithm) == (key_spec, algorithm)


def test_alias_is_resolved_and_the_arn_is_sent_to_the_import_calls(kms: FakeKms) -> None:
    key = kms.add_key(alias="alias/imported")
    material = os.urandom(32)

    result = import_key_material(kms, key_id="alias/imported", material=material)

    assert result.key_arn == key.arn
    assert kms.material_of(key.key_id) == material
    assert [args["KeyId"] for _, args in kms.calls[1:]] == [key.arn, key.arn]


def test_reimporting_the_same_material_is_accepted(kms: FakeKms) -> None:
    key = kms.add_key(key_state="Disabled")
    material = os.urandom(32)
    import_key_material(kms, key_id=key.key_id, material=material)

    import_key_material(kms, key_id=key.key_id, material=material, wrapping_algorithm="RSA_AES_KEY_WRAP_SHA_256")

    assert key.import_count == 2
    assert kms.material_of(key.key_id) == material


def test_result_is_frozen(kms: FakeKms) -> None:
    key = kms.add_key()
    result = import_key_material(kms, key_id=key.key_id, material=os.urandom(32))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.key_arn = "other"  # type: ignore[misc]


# ----- refusals before anything is imported ---------------------------------------------------------------


@pytest.mark.parametrize("origin", ["AWS_KMS", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"])
def test_key_without_origin_external_is_refused(kms: FakeKms, origin: str) -> None:
    key = kms.add_key(origin=origin)

    with pytest.raises(KeyMaterialError) as caught:
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32))

    message = str(caught.value)
    assert key.key_id in message
    assert f"origin {origin}" in message
    assert "create the key with origin: external" in message.lower()
    assert kms.operations() == ["DescribeKey"]


@pytest.mark.parametrize("state", ["PendingDeletion", "Unavailable", "Creating"])
def test_key_in_a_state_that_cannot_import_is_refused(kms: FakeKms, state: str) -> None:
    key = kms.add_key(key_state=state)

    with pytest.raises(KeyMaterialError) as caught:
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32))

    message = str(caught.value)
    assert key.key_id in message
    assert f"state {state}" in message
    assert "PendingImport, Enabled, Disabled" in message
    assert kms.operations() == ["DescribeKey"]


def test_missing_key_reports_the_aws_error_and_the_fix(kms: FakeKms) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        import_key_material(kms, key_id="1234abcd-12ab-34cd-56ef-1234567890ab", material=os.urandom(32))

    message = str(caught.value)
    assert "DescribeKey failed for key 1234abcd-12ab-34cd-56ef-1234567890ab" in message
    assert "NotFoundException" in message
    assert "does not exist" in message
    assert "--region" in message
    assert isinstance(caught.value.__cause__, Exception)


@pytest.mark.parametrize(
    ("key_spec", "length"), [("SYMMETRIC_DEFAULT", 16), ("SYMMETRIC_DEFAULT", 33), ("HMAC_384", 47)]
)
def test_wrong_material_length_is_refused_before_asking_for_import_parameters(
    kms: FakeKms, key_spec: str, length: int
) -> None:
    key = kms.add_key(key_spec=key_spec)

    with pytest.raises(KeyMaterialError, match=f"received {length} bytes"):
        import_key_material(kms, key_id=key.key_id, material=os.urandom(length))

    assert kms.operations() == ["DescribeKey"]


@pytest.mark.parametrize(
    ("valid_to", "expected"),
    [
        (datetime(2020, 1, 1, tzinfo=UTC), "not in the future"),
        (datetime.now(UTC) - timedelta(seconds=1), "not in the future"),
        (datetime.now(UTC) + timedelta(days=366), "more than 365 days"),
        (datetime.now() + timedelta(days=1), "no time zone"),  # naive on purpose
    ],
)
def test_invalid_expiry_is_refused_without_calling_kms(kms: FakeKms, valid_to: datetime, expected: str) -> None:
    key = kms.add_key()

    with pytest.raises(KeyMaterialError, match=expected):
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32), valid_to=valid_to)

    assert kms.calls == []


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("wrapping_algorithm", "RSAES_PKCS1_V1_5"),
        ("wrapping_key_spec", "RSA_1024"),
        ("wrapping_key_spec", "SM2"),
    ],
)
def test_unsupported_wrapping_choices_are_refused_without_calling_kms(kms: FakeKms, argument: str, value: str) -> None:
    key = kms.add_key()
    kwargs: dict[str, Any] = {argument: value}

    with pytest.raises(KeyMaterialError, match=repr(value)):
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32), **kwargs)

    assert kms.calls == []


# ----- refusals by KMS ------------------------------------------------------------------------------------


def test_reimporting_different_material_is_refused_as_kms_does(kms: FakeKms) -> None:
    key = kms.add_key()
    original = os.urandom(32)
    import_key_material(kms, key_id=key.key_id, material=original)

    with pytest.raises(KeyMaterialError) as caught:
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32))

    message = str(caught.value)
    assert "ImportKeyMaterial failed" in message
    assert "IncorrectKeyMaterialException" in message
    assert "same material" in message
    assert kms.material_of(key.key_id) == original


def test_expired_import_token_is_reported_with_what_to_do() -> None:
    kms = FakeKms(import_token_lifetime=timedelta(0))
    key = kms.add_key()

    with pytest.raises(KeyMaterialError) as caught:
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32))

    message = str(caught.value)
    assert "ExpiredImportTokenException" in message
    assert "24 hours" in message
    assert kms.material_of(key.key_id) is None
    assert key.key_state == "PendingImport"


def test_material_kms_cannot_unwrap_is_reported(kms: FakeKms, monkeypatch: pytest.MonkeyPatch) -> None:
    key = kms.add_key()
    monkeypatch.setattr(importer, "wrap_key_material", lambda der, material, algorithm: os.urandom(512))

    with pytest.raises(KeyMaterialError, match="InvalidCiphertextException"):
        import_key_material(kms, key_id=key.key_id, material=os.urandom(32))

    assert kms.material_of(key.key_id) is None


def test_errors_before_kms_answers_are_translated() -> None:
    class NoCredentials:
        def describe_key(self, **_: Any) -> dict[str, Any]:
            raise NoCredentialsError()

    with pytest.raises(KeyMaterialError, match="credentials"):
        import_key_material(NoCredentials(), key_id="k", material=os.urandom(32))


# ----- the plaintext never leaks --------------------------------------------------------------------------


def _all_messages(err: BaseException) -> str:
    """Every message in the exception chain, since a traceback would show them all."""
    parts = []
    current: BaseException | None = err
    while current is not None:
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _leak_forms(material: bytes) -> list[str]:
    return [
        material.hex(),
        material.hex().upper(),
        material.decode("latin-1"),
        repr(material),
        base64.b64encode(material).decode(),
    ]


def _different_material_reimport(kms: FakeKms) -> None:
    key = kms.add_key()
    import_key_material(kms, key_id=key.key_id, material=os.urandom(32))
    import_key_material(kms, key_id=key.key_id, material=SECRET)


def _scenarios() -> dict[str, Callable[[FakeKms], object]]:
    return {
        "wrong length": lambda kms: import_key_material(
            kms, key_id=kms.add_key(key_spec="HMAC_512").key_id, material=SECRET
        ),
        "not EXTERNAL": lambda kms: import_key_material(
            kms, key_id=kms.add_key(origin="AWS_KMS").key_id, material=SECRET
        ),
        "missing key": lambda kms: import_key_material(kms, key_id="nope", material=SECRET),
        "too large for OAEP": lambda kms: import_key_material(
            kms,
            key_id=kms.add_key(key_spec="ECC_NIST_P256").key_id,
            material=SECRET * 8,
            wrapping_key_spec="RSA_2048",
        ),
        "RSA key with OAEP": lambda kms: import_key_material(
            kms, key_id=kms.add_key(key_spec="RSA_2048").key_id, material=SECRET * 40
        ),
        "past expiry": lambda kms: import_key_material(
            kms, key_id=kms.add_key().key_id, material=SECRET, valid_to=datetime(2020, 1, 1, tzinfo=UTC)
        ),
        "bad algorithm": lambda kms: import_key_material(
            kms, key_id=kms.add_key().key_id, material=SECRET, wrapping_algorithm="RSAES_PKCS1_V1_5"
        ),
        "different material": _different_material_reimport,
    }


@pytest.mark.parametrize("scenario", list(_scenarios()))
def test_plaintext_never_appears_in_an_error_message(scenario: str) -> None:
    kms = FakeKms()

    with pytest.raises(KeyMaterialError) as caught:
        _scenarios()[scenario](kms)

    messages = _all_messages(caught.value)
    for material in (SECRET, SECRET * 8, SECRET * 40):
        for form in _leak_forms(material):
            assert form not in messages


def test_plaintext_is_never_sent_to_kms(kms: FakeKms) -> None:
    key = kms.add_key()
    import_key_material(kms, key_id=key.key_id, material=SECRET)

    for _, arguments in kms.calls:
        for value in arguments.values():
            if isinstance(value, bytes):
                assert SECRET not in value
            else:
                assert all(form not in str(value) for form in _leak_forms(SECRET))
    assert kms.material_of(key.key_id) == SECRET


# ----- the fake and the requests against botocore's own KMS model ----------------------------------------


def test_requests_and_fake_responses_match_botocores_kms_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber validates the request parameters and the (fake's) responses against the real API model."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # dummies: nothing is signed or sent
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    real = client("kms", region="us-east-1")
    fake = FakeKms(region="us-east-1")
    key = fake.add_key()
    valid_to = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    parameters = _without_metadata(
        fake.get_parameters_for_import(
            KeyId=key.arn, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_3072"
        )
    )

    with Stubber(real) as stub:
        stub.add_response("describe_key", _without_metadata(fake.describe_key(KeyId=key.key_id)), {"KeyId": key.key_id})
        stub.add_response(
            "get_parameters_for_import",
            parameters,
            {
                "KeyId": key.arn,
                "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256",
                "WrappingKeySpec": "RSA_3072",
            },
        )
        stub.add_response(
            "import_key_material",
            {"KeyId": key.arn, "KeyMaterialId": "0" * 64},
            {
                "KeyId": key.arn,
                "ImportToken": parameters["ImportToken"],
                "EncryptedKeyMaterial": ANY,
                "ExpirationModel": "KEY_MATERIAL_EXPIRES",
                "ValidTo": valid_to,
            },
        )
        result = import_key_material(
            real,
            key_id=key.key_id,
            material=os.urandom(32),
            wrapping_algorithm="RSA_AES_KEY_WRAP_SHA_256",
            wrapping_key_spec="RSA_3072",
            valid_to=valid_to,
        )
        stub.assert_no_pending_responses()
    assert result.key_arn == key.arn


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in response.items() if name != "ResponseMetadata"}
