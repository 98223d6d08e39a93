"""The log groups of the stack: retention from the `logRetentionDays` setting, deleted with the stack."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config.retention import RETENTION_BY_DAYS


def log_group(scope: Construct, construct_id: str, *, retention_days: int) -> logs.LogGroup:
    """A log group keeping `retention_days` of events (one of RETENTION_BY_DAYS)."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=RETENTION_BY_DAYS[retention_days],
        # Workshop logs have no value once the stack is gone; kept groups would pile up per account.
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
