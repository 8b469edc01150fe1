"""KMS actions as the rules group them: cryptographic use, by key usage (from the review's one action table,
:mod:`kmsflow.review.actions`), matched against the action (or action pattern) of an access fact."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from functools import lru_cache

from kmsflow.review.actions import DATA_KEY_ACTIONS, KEY_ACTIONS, USE_ACTIONS, USE_BY_USAGE

PUT_KEY_POLICY = "kms:PutKeyPolicy"

#: Actions that use the key's material (DescribeKey, GetPublicKey and CreateGrant do not), in table order.
CRYPTO_ACTIONS = tuple(action for action in KEY_ACTIONS if action in USE_ACTIONS)

#: Key usage -> the cryptographic actions KMS accepts for a key of that usage (an encryption key's data keys
#: included: a symmetric one makes them).
USAGE_ACTIONS: dict[str, tuple[str, ...]] = {
    usage: (*actions, *DATA_KEY_ACTIONS) if usage == "ENCRYPT_DECRYPT" else actions
    for usage, actions in USE_BY_USAGE.items()
}


@lru_cache(maxsize=4096)  # a review asks about the same few dozen actions for every fact of every key
def covers(fact_action: str, action: str) -> bool:
    """Whether a fact's action (``kms:Decrypt``, or a pattern such as ``kms:*``) allows ``action``
    (IAM action names are case-insensitive)."""
    return fnmatch.fnmatchcase(action.lower(), fact_action.lower())


def covers_any(fact_action: str, actions: Iterable[str]) -> bool:
    return any(covers(fact_action, action) for action in actions)


@lru_cache(maxsize=1024)
def is_crypto(fact_action: str) -> bool:
    """Whether a fact's action uses the key cryptographically."""
    return covers_any(fact_action, CRYPTO_ACTIONS)


def usage_actions(usage: str) -> tuple[str, ...]:
    """The cryptographic actions that fit a key usage (every one when the usage is unknown)."""
    return USAGE_ACTIONS.get(usage, CRYPTO_ACTIONS)
