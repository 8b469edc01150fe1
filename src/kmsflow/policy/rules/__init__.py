"""kmsflow's key-policy rules: one rule per file, each one small pure function over a policy document.

The same functions serve three callers: the key construct's guards (synth fails with the message), the
cdk-nag pack ``Kmsflow`` (``constructs/nag``), and the configuration loader for free statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: check(policy, account) -> one message per violation; ``account`` is the key's account id if known.
Check = Callable[[Mapping[str, Any], str | None], list[str]]


@dataclass(frozen=True)
class Rule:
    suffix: str  # finding id suffix: "Kmsflow-<suffix>"
    name: str
    info: str
    explanation: str
    check: Check


def all_rules() -> tuple[Rule, ...]:
    """Every rule, in id order (imported here, not at module top, to keep each rule file standalone)."""
    from kmsflow.policy.rules import (
        kms_star_non_root,
        policy_size,
        unscoped_create_grant,
        wildcard_principal,
    )

    return (
        wildcard_principal.RULE,
        kms_star_non_root.RULE,
        unscoped_create_grant.RULE,
        policy_size.RULE,
    )


def violations(policy: Mapping[str, Any], account: str | None) -> list[str]:
    """Every message of every rule for ``policy``."""
    return [f"{rule.name}: {msg}" for rule in all_rules() for msg in rule.check(policy, account)]
