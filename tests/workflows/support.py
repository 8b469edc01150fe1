"""What the end-to-end tests of the workflows stack share: its name, its machines, and values for its imports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.support.sfn_harness import imported_names

STACK = "kmsflow-workflows-workloads-primary"
#: Name prefixes of the stack's two state machines (``WorkflowHarness.run`` takes either).
COPY_MACHINE = "kmsflow-snapshot-copy-"
SHARE_MACHINE = "kmsflow-snapshot-share-"


def unused_imports(template: Mapping[str, Any], *, account: str = "123456789012") -> dict[str, str]:
    """A well-formed key ARN for every value the template imports from other stacks (the share machine's sharing
    keys): tests of the copy machine deploy the share functions too, but never run them."""
    return {
        name: f"arn:aws:kms:eu-west-1:{account}:key/00000000-0000-4000-8000-{index:012d}"
        for index, name in enumerate(sorted(set(imported_names(template))))
    }
