"""NotificationTopic and CostBudget on a bare stack."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from stacks.notifications import CostBudget, NotificationTopic

from ..conftest import bare_stack, open_findings, render, resources_of_type

EMAILS = ("ana@example.com", "bo@school.edu")


@pytest.fixture(scope="module")
def topic_stack():
    stack = bare_stack()
    topic = NotificationTopic(stack, "Notifications", emails=EMAILS)
    role = iam.Role(stack, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    topic.grant_publish(role, sid="PublishToTopic")
    return topic, Template.from_stack(stack)


def test_the_topic_is_encrypted_with_a_rotated_key_and_refuses_plain_http(topic_stack):
    _, template = topic_stack
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("Notifications"), "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::KMS::Key", {"EnableKeyRotation": True, "PendingWindowInDays": 7}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_each_address_is_subscribed_by_email(topic_stack):
    _, template = topic_stack
    subscriptions = resources_of_type(template.to_json(), "AWS::SNS::Subscription").values()
    assert sorted(
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions
    ) == [("email", email) for email in sorted(EMAILS)]


def test_publishing_needs_the_topic_and_its_key_without_wildcard_actions(topic_stack):
    _, template = topic_stack
    (policy,) = resources_of_type(template.to_json(), "AWS::IAM::Policy").values()
    statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
    assert [(s["Sid"], s["Action"]) for s in statements] == [
        ("PublishToTopic", "sns:Publish"),
        ("PublishToTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"]),
    ]
    assert statements[0]["Resource"].startswith("<NotificationsTopic")
    assert statements[1]["Resource"].startswith("<NotificationsKey")


def test_the_topic_has_no_open_findings(topic_stack):
    assert open_findings(topic_stack[0]) == []


def test_a_topic_needs_an_address():
    with pytest.raises(ValueError, match="at least one email"):
        NotificationTopic(bare_stack(), "Notifications", emails=())


def test_the_budget_alerts_every_address_at_80_and_100_percent_of_actual_cost():
    stack = bare_stack()
    budget = CostBudget(stack, "CostBudget", monthly_usd=40, emails=EMAILS)
    (resource,) = resources_of_type(
        Template.from_stack(stack).to_json(), "AWS::Budgets::Budget"
    ).values()
    properties = resource["Properties"]
    assert properties["Budget"] == {
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": 40, "Unit": "USD"},
    }
    subscribers = [{"SubscriptionType": "EMAIL", "Address": email} for email in EMAILS]
    assert properties["NotificationsWithSubscribers"] == [
        {
            "Notification": {
                "NotificationType": "ACTUAL",
                "ComparisonOperator": "GREATER_THAN",
                "Threshold": percentage,
                "ThresholdType": "PERCENTAGE",
            },
            "Subscribers": subscribers,
        }
        for percentage in (80, 100)
    ]
    assert open_findings(budget) == []


@pytest.mark.parametrize(
    ("amount", "emails"), [(0, EMAILS), (10, ()), (10, tuple(f"a{n}@x.io" for n in range(11)))]
)
def test_a_budget_needs_an_amount_and_one_to_ten_addresses(amount, emails):
    with pytest.raises(ValueError):
        CostBudget(bare_stack(), "CostBudget", monthly_usd=amount, emails=emails)
