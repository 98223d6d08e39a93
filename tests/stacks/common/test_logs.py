"""log_group: the retention the settings name, deleted with the stack."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from stacks.common.logs import log_group
from stacks.config.retention import RETENTION_BY_DAYS

from ..conftest import bare_stack


@pytest.mark.parametrize("days", [1, 30, 3653])
def test_log_group_keeps_the_days_given_and_goes_with_the_stack(days):
    stack = bare_stack()
    log_group(stack, "Logs", retention_days=days)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": days})
    template.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Delete"})


def test_every_allowed_retention_is_one_cloudwatch_accepts():
    # The enum's names say the days; a wrong pair here would keep logs for the wrong time.
    stack = bare_stack()
    for days in RETENTION_BY_DAYS:
        log_group(stack, f"Logs{days}", retention_days=days)
    kept = sorted(
        group["Properties"]["RetentionInDays"]
        for group in Template.from_stack(stack).find_resources("AWS::Logs::LogGroup").values()
    )
    assert kept == sorted(RETENTION_BY_DAYS)
