"""SNS subscriptions from the configuration's ``{protocol, endpoint}`` pairs (alarms and workflow notices)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_sns as sns

#: Configuration protocol -> SNS protocol. SQS and Lambda endpoints are ARNs; their resource policies (who
#: may send to the queue, invoke the function) belong to the endpoint's owner and are not managed here.
PROTOCOLS = {
    "email": sns.SubscriptionProtocol.EMAIL,
    "https": sns.SubscriptionProtocol.HTTPS,
    "sqs": sns.SubscriptionProtocol.SQS,
    "lambda": sns.SubscriptionProtocol.LAMBDA,
}


def subscribe(topic: sns.Topic, subscriptions: Sequence[tuple[str, str]]) -> list[sns.Subscription]:
    """One ``AWS::SNS::Subscription`` per pair, with stable construct ids (``Subscription<n>``)."""
    return [
        sns.Subscription(topic, f"Subscription{index}", topic=topic, protocol=PROTOCOLS[protocol], endpoint=endpoint)
        for index, (protocol, endpoint) in enumerate(subscriptions)
    ]
