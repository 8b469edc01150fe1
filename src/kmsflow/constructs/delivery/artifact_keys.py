"""The pipeline's artifact keys, used by other accounts only through S3.

CDK Pipelines with ``crossAccountKeys`` lets each target account's CDK deploy role (``cdk-<qualifier>-deploy-role-
<account>-<region>``) use the artifact keys, so that it can read the artifacts it deploys: a key-policy statement
naming those roles, with no condition (the review's KR03). The deploy role's own policy, which ``cdk bootstrap``
writes (statement ``PipelineCrossAccountArtifactsKey``), already allows these keys only with
``kms:ViaService = s3.<region>.amazonaws.com``: a cross-account use needs both policies, so the role can use the key
through S3 and nothing else. :func:`scope_to_s3` writes that same condition into the key policy, so that the key
says it itself, whatever a target's bootstrap policy becomes. Nothing that works today stops working.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsii
from aws_cdk import IAnyProducer, IResolveContext, Lazy, Stack
from aws_cdk import aws_kms as kms

#: The only way a target account's deploy role uses an artifact key: S3, in the key's region.
VIA_S3 = "s3.{region}.amazonaws.com"
_ACCOUNT = re.compile(r":iam::(\d{12}):")


def scope_to_s3(key: kms.CfnKey) -> None:
    """Add ``kms:ViaService = s3.<key's region>.amazonaws.com`` to every statement of ``key``'s policy that names a
    principal of another account (resolved when the template is written, after every grant was added)."""
    stack = Stack.of(key)
    key.key_policy = Lazy.uncached_any(_ScopedPolicy(key.key_policy, stack.account, stack.region))


def other_accounts(statement: dict[str, Any], account: str) -> set[str]:
    """The accounts other than ``account`` whose principals ``statement`` names (``arn:...:iam::<id>:...``)."""
    return {found for found in _ACCOUNT.findall(json.dumps(statement.get("Principal", {}))) if found != account}


@jsii.implements(IAnyProducer)
class _ScopedPolicy:
    def __init__(self, original: Any, account: str, region: str) -> None:
        self._original = original
        self._account = account
        self._region = region

    def produce(self, context: IResolveContext) -> Any:
        document = context.resolve(self._original)
        for statement in document.get("Statement", []):
            if statement.get("Effect") == "Allow" and other_accounts(statement, self._account):
                equals = statement.setdefault("Condition", {}).setdefault("StringEquals", {})
                equals["kms:ViaService"] = VIA_S3.format(region=self._region)
        return document
