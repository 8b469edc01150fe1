"""The key spec table: every combination it allows resolves, every one it forbids is refused by name."""

from __future__ import annotations

import pytest

from kmsflow.keyspec import (
    DELETION_WINDOW_DEFAULT,
    ROTATION_DAYS_DEFAULT,
    SPECS,
    KeyOrigin,
    KeyUsage,
    alias_problem,
    resolve_key_settings,
)

VALID = [(spec, usage) for spec, info in SPECS.items() for usage in info.usages]
INVALID = [(spec, usage) for spec, info in SPECS.items() for usage in KeyUsage if usage not in info.usages]


def resolve(**overrides: object) -> tuple[object, list[tuple[str, str]]]:
    args: dict[str, object] = {
        "spec": "SYMMETRIC_DEFAULT",
        "usage": None,
        "rotation": None,
        "rotation_days": None,
        "deletion_window_days": None,
        "origin": None,
        "multi_region": False,
    }
    args.update(overrides)
    settings, problems = resolve_key_settings(**args)  # type: ignore[arg-type]
    return settings, [(p.field, p.message) for p in problems]


@pytest.mark.parametrize(("spec", "usage"), VALID, ids=[f"{s}-{u}" for s, u in VALID])
def test_every_allowed_combination_resolves(spec: str, usage: str) -> None:
    settings, problems = resolve(spec=spec, usage=usage)
    assert problems == []
    assert settings is not None
    assert settings.usage == usage  # type: ignore[attr-defined]
    # Rotation follows the table: on (365 days) exactly where the spec can rotate.
    assert settings.rotation is SPECS[spec].rotatable  # type: ignore[attr-defined]
    assert settings.rotation_days == (ROTATION_DAYS_DEFAULT if SPECS[spec].rotatable else None)  # type: ignore[attr-defined]
    assert settings.deletion_window_days == DELETION_WINDOW_DEFAULT  # type: ignore[attr-defined]


@pytest.mark.parametrize(("spec", "usage"), INVALID, ids=[f"{s}-{u}" for s, u in INVALID])
def test_every_forbidden_combination_is_refused_naming_both(spec: str, usage: str) -> None:
    settings, problems = resolve(spec=spec, usage=usage)
    assert settings is None
    assert problems == [
        ("usage", f"usage {usage} does not fit key spec {spec}; {spec} allows {' or '.join(SPECS[spec].usages)}")
    ]


NOT_ROTATABLE = [spec for spec, info in SPECS.items() if not info.rotatable]


@pytest.mark.parametrize("spec", NOT_ROTATABLE)
def test_rotation_on_a_key_that_cannot_rotate_is_refused(spec: str) -> None:
    usage = SPECS[spec].usages[0]
    _, problems = resolve(spec=spec, usage=usage, rotation=True)
    assert problems == [
        (
            "rotation",
            "rotation: true is not allowed: automatic rotation exists only for SYMMETRIC_DEFAULT keys, "
            f"not for {spec} keys; remove it",
        )
    ]


@pytest.mark.parametrize("spec", NOT_ROTATABLE)
def test_a_rotation_period_alone_on_a_key_that_cannot_rotate_is_refused(spec: str) -> None:
    """The case aws-cdk's Key misses: a period without `rotation: true` on an asymmetric or HMAC key."""
    _, problems = resolve(spec=spec, usage=SPECS[spec].usages[0], rotation_days=180)
    assert [field for field, _ in problems] == ["rotation_days"]
    assert f"not for {spec} keys" in problems[0][1]


@pytest.mark.parametrize("spec", [s for s, info in SPECS.items() if info.default_usage is None])
def test_a_spec_with_two_usages_needs_one_named(spec: str) -> None:
    _, problems = resolve(spec=spec)
    assert problems == [
        ("usage", f"{spec} keys can be used for {' or '.join(SPECS[spec].usages)}; say which with usage:")
    ]


def test_unknown_spec_lists_the_allowed_ones() -> None:
    _, problems = resolve(spec="AES_128")
    assert problems[0][0] == "spec"
    assert "unknown key spec 'AES_128'; allowed: SYMMETRIC_DEFAULT, RSA_2048" in problems[0][1]


@pytest.mark.parametrize(("days", "ok"), [(89, False), (90, True), (2560, True), (2561, False)])
def test_rotation_period_bounds(days: int, ok: bool) -> None:
    settings, problems = resolve(rotation_days=days)
    assert (settings is not None) is ok
    if not ok:
        assert problems == [
            ("rotation_days", f"rotation_days is {days}; allowed: 90 to 2560 days (KMS's limits; 365 if omitted)")
        ]


@pytest.mark.parametrize(("days", "ok"), [(6, False), (7, True), (30, True), (31, False)])
def test_deletion_window_bounds(days: int, ok: bool) -> None:
    settings, problems = resolve(deletion_window_days=days)
    assert (settings is not None) is ok
    if not ok:
        assert problems[0][0] == "deletion_window_days"
        assert f"deletion_window_days is {days}; allowed: 7 to 30 days" in problems[0][1]


def test_external_origin_cannot_rotate_and_defaults_to_no_rotation() -> None:
    settings, problems = resolve(origin="EXTERNAL")
    assert problems == []
    assert settings is not None
    assert settings.origin is KeyOrigin.EXTERNAL  # type: ignore[attr-defined]
    assert settings.rotation is False  # type: ignore[attr-defined]
    _, problems = resolve(origin="EXTERNAL", rotation=True)
    assert problems[0][0] == "rotation"
    assert "origin EXTERNAL" in problems[0][1]


def test_rotation_false_with_a_period_is_contradictory() -> None:
    _, problems = resolve(rotation=False, rotation_days=180)
    assert problems == [
        (
            "rotation_days",
            "rotation_days: 180 is set but rotation is false; remove rotation_days or set rotation: true",
        )
    ]


@pytest.mark.parametrize(
    ("alias", "fragment"),
    [
        ("alias/aws/s3", "reserves for AWS managed keys"),
        ("data", "must start with 'alias/'"),
        ("alias/", "must start with 'alias/'"),
        ("alias/has space", "contains ' '"),
        ("alias/" + "a" * 251, "at most 256"),
    ],
)
def test_alias_rules(alias: str, fragment: str) -> None:
    problem = alias_problem(alias)
    assert problem is not None
    assert fragment in problem


def test_a_good_alias_passes() -> None:
    assert alias_problem("alias/team-a/data_2") is None
