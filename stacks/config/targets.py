"""Where the stacks go: one target per `accounts` entry, or the CLI's current account and region.

The app names its stacks with `stack_id`, and `classroom` (deploy, status, destroy across
accounts) finds them by it, so the name is made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.config.settings import WorkshopSettings


@dataclass(frozen=True)
class Target:
    """One stack: its construct id in the app (what `cdk deploy ID` selects), its CloudFormation
    name, and where it goes. account/region None: the CLI's current ones (no `accounts`)."""

    stack_id: str
    stack_name: str
    account: str | None = None
    region: str | None = None
    profile: str | None = None

    @property
    def where(self) -> str:
        """`111122223333/eu-west-1`, or `current account` when the CLI decides."""
        if self.account is None:
            return "current account"
        return f"{self.account}/{self.region}"


def stack_id(stack_name: str, account: str, region: str) -> str:
    return f"{stack_name}-{account}-{region}"


def targets(settings: WorkshopSettings) -> list[Target]:
    """The app's stacks, in the order of `accounts`."""
    if not settings.accounts:
        return [Target(settings.stack_name, settings.stack_name)]
    return [
        Target(
            stack_id(settings.stack_name, entry.account, entry.region),
            settings.stack_name,
            entry.account,
            entry.region,
            entry.profile,
        )
        for entry in settings.accounts
    ]
