"""What a KMS key can be: the one table of key specs, usages and rotation rules, and its checks.

Pure Python (no ``aws_cdk``): the configuration loader, the constructs and the review read the same table,
so a combination is refused with the same words wherever it is declared. Facts from the AWS KMS Developer
Guide, "Key spec reference" and "Rotate AWS KMS keys" (automatic rotation exists only for symmetric
encryption keys with AWS_KMS origin; custom periods are 90-2560 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class KeyUsage(StrEnum):
    ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
    SIGN_VERIFY = "SIGN_VERIFY"
    GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
    KEY_AGREEMENT = "KEY_AGREEMENT"


class KeyOrigin(StrEnum):
    AWS_KMS = "AWS_KMS"
    EXTERNAL = "EXTERNAL"


@dataclass(frozen=True)
class SpecInfo:
    """One row of the table: what a key spec allows."""

    family: str  # "symmetric", "rsa", "ecc", "hmac", "ml-dsa"
    usages: tuple[KeyUsage, ...]
    rotatable: bool

    @property
    def default_usage(self) -> KeyUsage | None:
        """The usage to assume when the configuration names none: only when there is no choice."""
        return self.usages[0] if len(self.usages) == 1 else None

    @property
    def asymmetric(self) -> bool:
        return self.family in ("rsa", "ecc", "ml-dsa")


_EU = KeyUsage.ENCRYPT_DECRYPT
_SV = KeyUsage.SIGN_VERIFY
_MAC = KeyUsage.GENERATE_VERIFY_MAC
_KA = KeyUsage.KEY_AGREEMENT

#: key spec -> what it allows. The single source of truth for spec/usage/rotation checks.
SPECS: dict[str, SpecInfo] = {
    "SYMMETRIC_DEFAULT": SpecInfo("symmetric", (_EU,), rotatable=True),
    "RSA_2048": SpecInfo("rsa", (_EU, _SV), rotatable=False),
    "RSA_3072": SpecInfo("rsa", (_EU, _SV), rotatable=False),
    "RSA_4096": SpecInfo("rsa", (_EU, _SV), rotatable=False),
    "ECC_NIST_P256": SpecInfo("ecc", (_SV, _KA), rotatable=False),
    "ECC_NIST_P384": SpecInfo("ecc", (_SV, _KA), rotatable=False),
    "ECC_NIST_P521": SpecInfo("ecc", (_SV, _KA), rotatable=False),
    "ECC_SECG_P256K1": SpecInfo("ecc", (_SV,), rotatable=False),
    "ECC_NIST_EDWARDS25519": SpecInfo("ecc", (_SV,), rotatable=False),
    "ML_DSA_44": SpecInfo("ml-dsa", (_SV,), rotatable=False),
    "ML_DSA_65": SpecInfo("ml-dsa", (_SV,), rotatable=False),
    "ML_DSA_87": SpecInfo("ml-dsa", (_SV,), rotatable=False),
    "HMAC_224": SpecInfo("hmac", (_MAC,), rotatable=False),
    "HMAC_256": SpecInfo("hmac", (_MAC,), rotatable=False),
    "HMAC_384": SpecInfo("hmac", (_MAC,), rotatable=False),
    "HMAC_512": SpecInfo("hmac", (_MAC,), rotatable=False),
}

ROTATION_DAYS_MIN = 90
ROTATION_DAYS_MAX = 2560
ROTATION_DAYS_DEFAULT = 365
DELETION_WINDOW_MIN = 7
DELETION_WINDOW_MAX = 30
DELETION_WINDOW_DEFAULT = 30


@dataclass(frozen=True)
class KeySettings:
    """A key's spec-dependent settings after defaults are applied (what the construct will synthesize)."""

    spec: str
    usage: KeyUsage
    rotation: bool
    rotation_days: int | None
    deletion_window_days: int
    origin: KeyOrigin
    multi_region: bool

    @property
    def info(self) -> SpecInfo:
        return SPECS[self.spec]


@dataclass(frozen=True)
class SettingProblem:
    """A broken rule: the field it concerns (relative to the key) and the full sentence."""

    field: str
    message: str


def _allowed_specs() -> str:
    return ", ".join(SPECS)


def resolve_key_settings(
    *,
    spec: str,
    usage: str | None,
    rotation: bool | None,
    rotation_days: int | None,
    deletion_window_days: int | None,
    origin: str | None,
    multi_region: bool,
) -> tuple[KeySettings | None, list[SettingProblem]]:
    """Apply defaults and check every rule of the table; return the settings or every problem found.

    ``None`` means "not said": rotation defaults to on where the spec allows it, the period to
    ``ROTATION_DAYS_DEFAULT`` days, the deletion window to ``DELETION_WINDOW_DEFAULT`` days.
    """
    problems: list[SettingProblem] = []
    info = SPECS.get(spec)
    if info is None:
        return None, [SettingProblem("spec", f"unknown key spec {spec!r}; allowed: {_allowed_specs()}")]

    resolved_usage = _resolve_usage(spec, info, usage, problems)
    resolved_origin = _resolve_origin(origin, problems)
    can_rotate = info.rotatable and resolved_origin is KeyOrigin.AWS_KMS
    why_not = (
        f"automatic rotation exists only for SYMMETRIC_DEFAULT keys, not for {spec} keys"
        if not info.rotatable
        else "automatic rotation exists only for keys with AWS_KMS origin; this key has origin EXTERNAL "
        "(rotate imported material on demand instead)"
    )
    if rotation and not can_rotate:
        problems.append(SettingProblem("rotation", f"rotation: true is not allowed: {why_not}; remove it"))
    if rotation_days is not None and not can_rotate:
        problems.append(
            SettingProblem("rotation_days", f"rotation_days: {rotation_days} is not allowed: {why_not}; remove it")
        )
    if rotation is False and rotation_days is not None and can_rotate:
        problems.append(
            SettingProblem(
                "rotation_days",
                f"rotation_days: {rotation_days} is set but rotation is false; "
                "remove rotation_days or set rotation: true",
            )
        )
    if rotation_days is not None and not ROTATION_DAYS_MIN <= rotation_days <= ROTATION_DAYS_MAX:
        problems.append(
            SettingProblem(
                "rotation_days",
                f"rotation_days is {rotation_days}; allowed: {ROTATION_DAYS_MIN} to {ROTATION_DAYS_MAX} days "
                f"(KMS's limits; {ROTATION_DAYS_DEFAULT} if omitted)",
            )
        )
    window = DELETION_WINDOW_DEFAULT if deletion_window_days is None else deletion_window_days
    if not DELETION_WINDOW_MIN <= window <= DELETION_WINDOW_MAX:
        problems.append(
            SettingProblem(
                "deletion_window_days",
                f"deletion_window_days is {window}; allowed: {DELETION_WINDOW_MIN} to {DELETION_WINDOW_MAX} "
                f"days (KMS's limits; {DELETION_WINDOW_DEFAULT} if omitted, the safest)",
            )
        )
    if problems or resolved_usage is None or resolved_origin is None:
        return None, problems
    rotate = can_rotate if rotation is None else rotation
    days = (rotation_days or ROTATION_DAYS_DEFAULT) if rotate else None
    return (
        KeySettings(
            spec=spec,
            usage=resolved_usage,
            rotation=rotate,
            rotation_days=days,
            deletion_window_days=window,
            origin=resolved_origin,
            multi_region=multi_region,
        ),
        [],
    )


def _resolve_usage(spec: str, info: SpecInfo, usage: str | None, problems: list[SettingProblem]) -> KeyUsage | None:
    allowed = " or ".join(info.usages)
    if usage is None:
        if info.default_usage is None:
            problems.append(SettingProblem("usage", f"{spec} keys can be used for {allowed}; say which with usage:"))
        return info.default_usage
    if usage not in KeyUsage.__members__:
        problems.append(SettingProblem("usage", f"unknown key usage {usage!r}; allowed: {', '.join(KeyUsage)}"))
        return None
    resolved = KeyUsage(usage)
    if resolved not in info.usages:
        problems.append(SettingProblem("usage", f"usage {usage} does not fit key spec {spec}; {spec} allows {allowed}"))
        return None
    return resolved


def _resolve_origin(origin: str | None, problems: list[SettingProblem]) -> KeyOrigin | None:
    if origin is None:
        return KeyOrigin.AWS_KMS
    if origin not in KeyOrigin.__members__:
        problems.append(
            SettingProblem(
                "origin",
                f"origin {origin!r} is not supported; allowed: {', '.join(KeyOrigin)} "
                "(custom key stores are not managed by kmsflow)",
            )
        )
        return None
    return KeyOrigin(origin)


ALIAS_PREFIX = "alias/"
AWS_MANAGED_ALIAS_PREFIX = "alias/aws/"
ALIAS_MAX_LENGTH = 256
_ALIAS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


def alias_problem(alias: str) -> str | None:
    """``None`` if ``alias`` is a name KMS accepts for a customer managed key, else why not."""
    if not alias.startswith(ALIAS_PREFIX) or alias == ALIAS_PREFIX:
        return f"alias {alias!r} must start with {ALIAS_PREFIX!r} followed by a name, e.g. 'alias/app/data'"
    if alias.startswith(AWS_MANAGED_ALIAS_PREFIX):
        return (
            f"alias {alias!r} is under {AWS_MANAGED_ALIAS_PREFIX!r}, which AWS reserves for AWS managed keys "
            "(aws/s3, aws/rds, ...); those keys cannot be created or managed here; choose another name, "
            "e.g. 'alias/<team>/<purpose>'"
        )
    if len(alias) > ALIAS_MAX_LENGTH:
        return f"alias {alias!r} is {len(alias)} characters; KMS allows at most {ALIAS_MAX_LENGTH}"
    bad = sorted(set(alias) - _ALIAS_CHARS)
    if bad:
        return f"alias {alias!r} contains {''.join(bad)!r}; allowed: letters, digits, '/', '_' and '-'"
    return None
