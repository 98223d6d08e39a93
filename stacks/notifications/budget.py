"""An AWS Budgets cost budget for the account, alerting by email at 80 % and 100 % of actual cost."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_budgets as budgets
from constructs import Construct

ALERT_PERCENTAGES = (80, 100)
# AWS Budgets takes at most 10 email subscribers per notification.
MAX_EMAILS = 10


class CostBudget(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, monthly_usd: float, emails: Sequence[str]
    ) -> None:
        super().__init__(scope, construct_id)
        if monthly_usd <= 0 or not 1 <= len(emails) <= MAX_EMAILS:
            raise ValueError("a budget needs a positive amount and 1 to 10 email addresses")
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=email)
            for email in emails
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL",
                        comparison_operator="GREATER_THAN",
                        threshold=percentage,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for percentage in ALERT_PERCENTAGES
            ],
        )
