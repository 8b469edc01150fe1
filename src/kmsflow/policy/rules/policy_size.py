"""KMS4: a key policy is at most 32 KB (KMS rejects larger ones at deploy, long after review)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsflow.policy.document import size
from kmsflow.policy.rules import Rule

#: KMS's key policy size quota, in characters of the JSON document.
MAX_POLICY_BYTES = 32_768


def check(policy: Mapping[str, Any], account: str | None) -> list[str]:
    measured = size(policy)
    if measured <= MAX_POLICY_BYTES:
        return []
    return [
        f"the key policy is {measured} bytes; KMS allows at most {MAX_POLICY_BYTES}; merge statements, use "
        "IAM roles in fewer statements, or move principals to IAM policies (policy mode default)"
    ]


RULE = Rule(
    suffix="KMS4",
    name="KeyPolicySize",
    info="The key policy is larger than the 32 KB KMS accepts.",
    explanation="KMS rejects key policies over 32,768 bytes; the deploy would fail after review.",
    check=check,
)
