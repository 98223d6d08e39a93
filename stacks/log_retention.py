"""CloudWatch Logs retention from the `logRetentionDays` setting (jsii enums carry names, not days)."""

from aws_cdk import aws_logs as logs

from stacks.config.retention import RETENTION_BY_DAYS


def retention(days: int) -> logs.RetentionDays:
    return RETENTION_BY_DAYS[days]
