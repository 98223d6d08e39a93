import boto3
import pytest

from stacks.training.runtime.workshop_runtime import preflight, prepare, report

SERVICES = {"servicequotas": "service-quotas", "sagemaker": "sagemaker", "logs": "logs", "s3": "s3"}


@pytest.mark.parametrize(
    "module", [prepare, report, preflight], ids=lambda module: module.__name__.rsplit(".", 1)[-1]
)
def test_declared_iam_actions_are_real_api_operations(module):
    for action in module.IAM_ACTIONS:
        prefix, operation = action.split(":")
        model = boto3.client(SERVICES[prefix], region_name="us-east-1").meta.service_model
        assert operation in model.operation_names, action
