"""The notification topic: KMS-encrypted, TLS-only, with an email subscription per address."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.common.iam import PolicyTarget, add_statements

# What a publisher needs on a topic encrypted with a customer managed key.
PUBLISH_ACTIONS = ("sns:Publish",)
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class NotificationTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, emails: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        if not emails:
            raise ValueError("a notification topic needs at least one email address")
        # A key of our own: the AWS managed aws/sns key cannot be granted to our roles by ARN.
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the workshop's notification topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Bird workshop",
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, target: PolicyTarget, *, sid: str) -> None:
        """Publish to the topic, and use its key for that (no wildcard actions, unlike CDK's)."""
        add_statements(
            target,
            iam.PolicyStatement(
                sid=sid, actions=list(PUBLISH_ACTIONS), resources=[self.topic.topic_arn]
            ),
            iam.PolicyStatement(
                sid=f"{sid}Key", actions=list(KEY_ACTIONS), resources=[self.key.key_arn]
            ),
        )
