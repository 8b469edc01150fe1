"""Acknowledging cdk-nag findings on one scope, each rule with the reason a reviewer reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, reasons: Mapping[str, str], *, findings: Sequence[str] = ()) -> None:
    """Acknowledge each rule of ``reasons`` (``"<Pack>::<Rule>"`` -> reason) on ``scope`` and its children.

    A rule that reports per finding (AwsSolutions-IAM5) is acknowledged once per finding id in ``findings``
    (``AwsSolutions-IAM5[Resource::*]``), since cdk-nag matches those ids exactly.
    """
    acks: list[Acknowledgment] = []
    for rule, why in reasons.items():
        if rule.endswith("-IAM5") and findings:
            acks += [Acknowledgment(id=f"{rule}[{finding}]", reason=why) for finding in findings]
        else:
            acks.append(Acknowledgment(id=rule, reason=why))
    Validations.of(scope).acknowledge(*acks)
