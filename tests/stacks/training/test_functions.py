"""TrainingFunctions on a bare stack: three handlers from one Python 3.12 asset, the environment
each reads, and roles that allow what each handler declares it calls (and no more)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from stacks.training.functions import TrainingFunctions
from stacks.training.runtime.workshop_runtime import preflight, prepare, report

from ..conftest import as_list, bare_stack, open_findings, resources_of_type

HYPERPARAMETERS = {"epochs": "15", "optimizer": "sgd"}
# Filing (and finding open) increase requests is granted only with request_quota_increase.
REQUEST_ACTIONS = {
    "servicequotas:RequestServiceQuotaIncrease",
    "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
}


def functions_in_stack(request_quota_increase: bool = False):
    stack = bare_stack()
    functions = TrainingFunctions(
        stack,
        "TrainingFunctions",
        bucket_name="workshop-bucket",
        manifest_key="data/manifest.json",
        output_prefix="models/",
        default_hyperparameters=HYPERPARAMETERS,
        instance_types=("ml.g5.xlarge", "ml.g4dn.xlarge"),
        job_name_prefix="cardinal",
        request_quota_increase=request_quota_increase,
        log_retention_days=14,
    )
    return stack, functions, Template.from_stack(stack)


@pytest.fixture(scope="module")
def built():
    return functions_in_stack()


@pytest.fixture(scope="module")
def by_handler(built):
    template = built[2].to_json()
    return {
        function["Properties"]["Handler"]: function["Properties"]
        for function in resources_of_type(template, "AWS::Lambda::Function").values()
    }


def role_actions(template: Template, role_prefix: str) -> set[str]:
    actions = set()
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        if logical_id.startswith(role_prefix):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions |= set(as_list(statement["Action"]))
    return actions


def test_three_handlers_share_one_python_312_asset(by_handler):
    assert set(by_handler) == {
        "workshop_runtime.prepare.handler",
        "workshop_runtime.report.handler",
        "workshop_runtime.preflight.handler",
    }
    assert {f["Runtime"] for f in by_handler.values()} == {"python3.12"}
    assert {f["Architectures"][0] for f in by_handler.values()} == {"arm64"}
    assert len({json.dumps(f["Code"]) for f in by_handler.values()}) == 1


def test_prepare_environment_carries_the_properties(by_handler):
    variables = by_handler["workshop_runtime.prepare.handler"]["Environment"]["Variables"]
    assert variables == {
        "BUCKET": "workshop-bucket",
        "MANIFEST_KEY": "data/manifest.json",
        "DEFAULT_HYPERPARAMETERS": json.dumps(HYPERPARAMETERS, sort_keys=True),
        "INSTANCE_TYPES": '["ml.g5.xlarge", "ml.g4dn.xlarge"]',
        "JOB_NAME_PREFIX": "cardinal",
    }


def test_report_environment(by_handler):
    variables = by_handler["workshop_runtime.report.handler"]["Environment"]["Variables"]
    assert variables == {"BUCKET": "workshop-bucket", "OUTPUT_PREFIX": "models/"}
    assert "Environment" not in by_handler["workshop_runtime.preflight.handler"]


def test_each_function_logs_to_its_own_group(built):
    template = built[2]
    template.resource_count_is("AWS::Logs::LogGroup", 3)
    template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 14})


@pytest.mark.parametrize(
    ("module", "role"),
    [(prepare, "Prepare"), (report, "Report"), (preflight, "Preflight")],
    ids=["prepare", "report", "preflight"],
)
def test_each_function_may_call_what_its_handler_declares(built, module, role):
    declared = set(module.IAM_ACTIONS) - REQUEST_ACTIONS
    allowed = role_actions(built[2], f"TrainingFunctions{role}Role")
    assert declared <= allowed
    # Beyond the declared calls, only writing its own logs.
    assert allowed - declared <= {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_report_reads_only_this_stacks_jobs_and_their_logs(built):
    template = built[2].to_json()
    (policy,) = [
        p
        for logical_id, p in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith("TrainingFunctionsReportRole")
    ]
    resources = json.dumps(policy["Properties"]["PolicyDocument"])
    assert ":log-group:/aws/sagemaker/TrainingJobs:log-stream:cardinal*" in resources
    assert ":training-job/cardinal*" in resources
    assert ":training-job/*" not in resources


def test_quota_requests_only_when_asked(built):
    assert not REQUEST_ACTIONS & role_actions(built[2], "TrainingFunctionsPreflightRole")
    stack, functions, template = functions_in_stack(request_quota_increase=True)
    assert set(preflight.IAM_ACTIONS) <= role_actions(template, "TrainingFunctionsPreflightRole")
    assert open_findings(functions) == []


def test_the_functions_acknowledge_their_own_findings(built):
    assert open_findings(built[1]) == []
