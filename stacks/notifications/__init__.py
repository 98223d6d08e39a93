"""Telling people: the email topic for build and training results, and the account's cost budget."""

from .budget import CostBudget
from .topic import NotificationTopic

__all__ = ["CostBudget", "NotificationTopic"]
