import boto3
import pytest

from stacks.training.runtime.workshop_runtime import (
    build_ended,
    choose,
    notify,
    preflight,
    prepare,
    report,
    teardown,
)

SERVICES = {
    "servicequotas": "service-quotas",
    "sagemaker": "sagemaker",
    "logs": "logs",
    "s3": "s3",
    "sns": "sns",
    "states": "stepfunctions",
}
MODULES = [prepare, choose, report, notify, preflight, build_ended, teardown]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_declared_iam_actions_are_real_api_operations(module):
    for action in module.IAM_ACTIONS:
        prefix, operation = action.split(":")
        model = boto3.client(SERVICES[prefix], region_name="us-east-1").meta.service_model
        assert operation in model.operation_names, action


@pytest.mark.parametrize(
    "module", [choose, build_ended, teardown], ids=lambda m: m.__name__.rsplit(".", 1)[-1]
)
def test_statement_declarations_are_the_action_list(module):
    # One declaration: the statements' actions are IAM_ACTIONS, in order, nothing else.
    assert tuple(a for actions in module.IAM_STATEMENTS.values() for a in actions) == (
        module.IAM_ACTIONS
    )
