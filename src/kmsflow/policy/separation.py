"""Separation of duties: the principals who administer a key are not the ones who use it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def overlap_problem(
    administrators: Iterable[str], crypto_roles: Mapping[str, Iterable[str]], reason: str | None
) -> str | None:
    """``None`` if no administrator also holds a cryptographic role (or ``reason`` accepts it).

    Principals are compared as text (ARNs, or the template's rendering of them).
    """
    if reason and reason.strip():
        return None
    admins = set(administrators)
    clashes = [
        f"{principal} is in administrators and {role}"
        for role, principals in crypto_roles.items()
        for principal in dict.fromkeys(principals)
        if principal in admins
    ]
    if not clashes:
        return None
    return (
        "administrators and users must be different principals (separation of duties): "
        + "; ".join(clashes)
        + "; remove the principal from one list, or give policy.separation_reason saying why this key "
        "accepts it"
    )
