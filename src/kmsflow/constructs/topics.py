"""The SNS topics kmsflow's alarms and rules notify: encrypted, SSL-only, and publishable only by the services
and resources of this account that need to.

``enforce_ssl`` gives a topic a policy, and a topic policy replaces SNS's default one (which let the owner
account publish): without a statement for ``cloudwatch.amazonaws.com`` no alarm action could publish. The
statements follow the Amazon SNS Developer Guide ("Amazon SNS access policy examples": publishing from
CloudWatch alarms and EventBridge rules, with ``aws:SourceArn``/``aws:SourceAccount`` against the confused
deputy problem).
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from kmsflow.constructs.subscriptions import subscribe

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTS = "events.amazonaws.com"


def alarm_topic(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    display_name: str,
    subscriptions: Sequence[tuple[str, str]] = (),
) -> sns.Topic:
    """An encrypted, SSL-only topic that CloudWatch alarms of this stack's account and region may publish to
    (``aws:SourceArn`` = any alarm ARN of the account and region, ``aws:SourceAccount`` = the account)."""
    stack = Stack.of(scope)
    topic = sns.Topic(scope, id, display_name=display_name, master_key=key, enforce_ssl=True)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsOfThisAccount",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "ArnLike": {
                    "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                },
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
    )
    subscribe(topic, subscriptions)
    return topic


@jsii.implements(events.IRuleTarget)
class RuleToTopic:
    """An EventBridge rule target that lets only *that* rule publish to ``topic`` (``aws:SourceArn`` = the
    rule's ARN). aws-cdk's ``targets.SnsTopic`` lets ``events.amazonaws.com`` publish with no condition, so a
    rule of any account could."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, rule: events.IRule, id: str | None = None) -> events.RuleTargetConfig:
        self._topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"EventBridgeRule{Stack.of(rule).get_logical_id(rule.node.default_child)}",  # type: ignore[arg-type]
                principals=[iam.ServicePrincipal(EVENTS)],
                actions=["sns:Publish"],
                resources=[self._topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
            )
        )
        return events.RuleTargetConfig(arn=self._topic.topic_arn)
