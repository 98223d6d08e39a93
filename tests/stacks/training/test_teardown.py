"""TrainingTeardown on a bare stack: a custom resource bound to the state machine, a handler that
may stop only this stack's jobs and executions, and a bounded wait well inside its timeout."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from stacks.training import teardown as teardown_construct
from stacks.training.runtime.workshop_runtime import teardown
from stacks.training.teardown import TrainingTeardown, TrainingWork

from ..conftest import (
    as_list,
    bare_stack,
    open_findings,
    pass_state_machine,
    render,
    resources_of_type,
)

MACHINE = "<Machine6FC8AE80>"


@pytest.fixture(scope="module")
def built():
    stack = bare_stack()
    machine = pass_state_machine(stack)
    construct = TrainingTeardown(
        stack, "Teardown", work=[TrainingWork(machine, "birds")], log_retention_days=7
    )
    assert render(stack.resolve(machine.state_machine_arn)) == MACHINE
    return construct, Template.from_stack(stack)


def handler_statements(template: Template) -> dict[str, dict]:
    statements = {}
    for logical_id, policy in resources_of_type(template.to_json(), "AWS::IAM::Policy").items():
        if logical_id.startswith("TeardownHandlerRole"):
            for statement in render(policy["Properties"]["PolicyDocument"]["Statement"]):
                if "Sid" in statement:
                    statements[statement["Sid"]] = statement
    return statements


def test_the_custom_resource_names_the_prefix_the_machine_and_the_bound(built):
    (resource,) = resources_of_type(built[1].to_json(), "Custom::TrainingTeardown").values()
    properties = render(resource["Properties"])
    assert properties["JobNamePrefix"] == "birds"
    assert properties["StateMachineArn"] == MACHINE
    assert properties["WaitSeconds"] == "300"


def test_the_wait_fits_well_inside_the_handler_timeout(built):
    (function,) = [
        f["Properties"]
        for f in resources_of_type(built[1].to_json(), "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "workshop_runtime.teardown.handler"
    ]
    assert function["Timeout"] == teardown_construct.HANDLER_TIMEOUT.to_seconds() == 600
    assert teardown_construct.WAIT_SECONDS + 3 * teardown.POLL_SECONDS < function["Timeout"] / 1.5


def test_the_handler_may_stop_only_this_stacks_jobs_and_executions(built):
    statements = handler_statements(built[1])
    assert set(statements) == set(teardown.IAM_STATEMENTS)
    for sid, actions in teardown.IAM_STATEMENTS.items():
        assert tuple(as_list(statements[sid]["Action"])) == actions
    assert statements["StopOwnTrainingJobs"]["Resource"].endswith(":training-job/birds-*")
    assert statements["FindRunningExecutions"]["Resource"] == MACHINE
    assert statements["StopRunningExecutions"]["Resource"].endswith(
        f":execution:{MACHINE[:-1]}.Name>:*"
    )
    assert statements["FindInProgressTrainingJobs"]["Resource"] == "*"


def test_the_teardown_acknowledges_its_own_findings(built):
    assert open_findings(built[0]) == []
