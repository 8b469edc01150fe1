"""``KmsflowChecks``: a cdk-nag 3.x pack that runs kmsflow's key-policy rules on every KMS key resource.

cdk-nag checks KMS keys for rotation, not what their policies say. The rules themselves are the pure
functions of ``kmsflow.policy.rules`` (one per file); this module only adapts each one to cdk-nag's
``IApplyRule`` interface. Findings are ``Kmsflow-KMS<n>``; acknowledge one with
``Validations.of(scope).acknowledge(Acknowledgment(id="Kmsflow::Kmsflow-KMS1", reason=...))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import jsii
from aws_cdk import CfnResource, Stack, Token
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from kmsflow.policy.rules import Rule, all_rules

PACK_NAME = "Kmsflow"

#: CloudFormation types whose ``KeyPolicy`` the rules read.
KEY_RESOURCE_TYPES = ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")


def key_policy_of(node: CfnResource) -> Mapping[str, Any] | None:
    """The resolved key policy of a key resource, or None if ``node`` has none to check."""
    if node.cfn_resource_type not in KEY_RESOURCE_TYPES:
        return None
    raw = getattr(node, "key_policy", None)
    if raw is None:
        return None
    resolved = Stack.of(node).resolve(raw)
    return resolved if isinstance(resolved, Mapping) else None


@jsii.implements(IApplyRule)
class _Finding:
    """One rule that failed on one resource, handed to cdk-nag to report (and to match acknowledgments).

    The rules run in Python in :meth:`KmsflowChecks._check_resource`, on the policy resolved once per
    resource; only the failures cross the jsii boundary. cdk-nag reports nothing for compliant results,
    so skipping them changes no output and saves its six property callbacks per rule and resource.
    """

    def __init__(self, node: CfnResource, rule: Rule) -> None:
        self._node = node
        self._rule = rule

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.suffix

    @property
    def ignore_suppression_condition(self) -> None:
        return None

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        return NagRuleCompliance.NON_COMPLIANT


class KmsflowChecks(NagPack):
    """kmsflow's key-policy rules as a cdk-nag pack: add it with ``Validations.of(app).add_plugins``."""

    def __init__(self, scope: IConstruct | None = None, *, verbose: bool | None = None) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME

    @property
    def name(self) -> str:
        return PACK_NAME

    def _check_resource(self, node: CfnResource) -> None:
        policy = key_policy_of(node)
        if policy is None:
            return
        account = Stack.of(node).account
        known = None if Token.is_unresolved(account) else account
        for rule in all_rules():
            if rule.check(policy, known):
                # jsii reads the members as properties; mypy's protocol check wants settable attributes.
                self._apply_rule(cast(IApplyRule, _Finding(node, rule)))
