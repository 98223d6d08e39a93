"""TrainingFunctions on a bare stack: the handlers from one Python 3.12 asset, the environment each
reads, and roles that allow what each handler declares it calls (and no more)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from stacks.training.functions import RunPolicy, RunStorage, TrainingFunctions
from stacks.training.runtime.workshop_runtime import choose, notify, preflight, prepare, report

from ..conftest import as_list, bare_stack, open_findings, resources_of_type

HYPERPARAMETERS = {"epochs": "15", "optimizer": "sgd"}
# Filing (and finding open) increase requests is granted only with request_quota_increase.
REQUEST_ACTIONS = {
    "servicequotas:RequestServiceQuotaIncrease",
    "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
}
POLICY = RunPolicy(
    instance_types=("ml.g5.xlarge", "ml.g4dn.xlarge"),
    spot=True,
    spot_fallback_to_on_demand=False,
    instance_count=2,
    max_runtime_seconds=5400,
    wait_for_quota_minutes=45,
    max_attempts=4,
)
TOPIC = "arn:aws:sns:us-east-1:123456789012:workshop"


def functions_in_stack(request_quota_increase: bool = False, topic_arn: str | None = TOPIC):
    stack = bare_stack()
    functions = TrainingFunctions(
        stack,
        "TrainingFunctions",
        storage=RunStorage(
            bucket_name="workshop-bucket",
            manifest_key="data/manifest.json",
            output_prefix="models/",
            queue_prefix="waiting/",
        ),
        policy=POLICY,
        default_hyperparameters=HYPERPARAMETERS,
        job_name_prefix="cardinal",
        request_quota_increase=request_quota_increase,
        topic_arn=topic_arn,
        log_retention_days=14,
    )
    return stack, functions, Template.from_stack(stack)


@pytest.fixture(scope="module")
def built():
    return functions_in_stack()


def by_handler(template: Template) -> dict:
    return {
        function["Properties"]["Handler"]: function["Properties"]
        for function in resources_of_type(template.to_json(), "AWS::Lambda::Function").values()
    }


def role_actions(template: Template, role_prefix: str) -> set[str]:
    actions = set()
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        if logical_id.startswith(role_prefix):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions |= set(as_list(statement["Action"]))
    return actions


def test_the_handlers_share_one_python_312_asset(built):
    functions = by_handler(built[2])
    assert set(functions) == {
        "workshop_runtime.prepare.handler",
        "workshop_runtime.choose.handler",
        "workshop_runtime.report.handler",
        "workshop_runtime.notify.handler",
        "workshop_runtime.preflight.handler",
    }
    assert {f["Runtime"] for f in functions.values()} == {"python3.12"}
    assert {f["Architectures"][0] for f in functions.values()} == {"arm64"}
    assert len({json.dumps(f["Code"]) for f in functions.values()}) == 1


def test_no_topic_no_notify_function():
    _, functions, template = functions_in_stack(topic_arn=None)
    assert functions.notify is None
    assert "workshop_runtime.notify.handler" not in by_handler(template)


def test_prepare_environment_carries_the_run_limits(built):
    variables = by_handler(built[2])["workshop_runtime.prepare.handler"]["Environment"]["Variables"]
    assert variables == {
        "BUCKET": "workshop-bucket",
        "MANIFEST_KEY": "data/manifest.json",
        "DEFAULT_HYPERPARAMETERS": json.dumps(HYPERPARAMETERS, sort_keys=True),
        "JOB_NAME_PREFIX": "cardinal",
        "WAIT_FOR_QUOTA_MINUTES": "45",
        "MAX_ATTEMPTS": "4",
    }


def test_choose_environment_carries_the_run_policy(built):
    variables = by_handler(built[2])["workshop_runtime.choose.handler"]["Environment"]["Variables"]
    assert variables == {
        "INSTANCE_TYPES": '["ml.g5.xlarge", "ml.g4dn.xlarge"]',
        "SPOT": "true",
        "SPOT_FALLBACK_TO_ON_DEMAND": "false",
        "INSTANCE_COUNT": "2",
        "MAX_RUNTIME_SECONDS": "5400",
        "OUTPUT_URI": "s3://workshop-bucket/models/",
        "QUEUE_BUCKET": "workshop-bucket",
        "QUEUE_PREFIX": "waiting/",
        "POLL_SECONDS": "90",
    }


def test_report_and_notify_environment(built):
    functions = by_handler(built[2])
    assert functions["workshop_runtime.report.handler"]["Environment"]["Variables"] == {
        "BUCKET": "workshop-bucket",
        "OUTPUT_PREFIX": "models/",
    }
    assert functions["workshop_runtime.notify.handler"]["Environment"]["Variables"] == {
        "TOPIC_ARN": TOPIC
    }
    assert "Environment" not in functions["workshop_runtime.preflight.handler"]


def test_each_function_logs_to_its_own_group(built):
    template = built[2]
    template.resource_count_is("AWS::Logs::LogGroup", 5)
    template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 14})


# Bucket and topic access is granted by the stack where the components meet (tests/stacks/test_app.py).
@pytest.mark.parametrize(
    ("module", "role"),
    [
        (prepare, "Prepare"),
        (choose, "Choose"),
        (report, "Report"),
        (notify, "Notify"),
        (preflight, "Preflight"),
    ],
    ids=["prepare", "choose", "report", "notify", "preflight"],
)
def test_each_function_may_call_what_its_handler_declares(built, module, role):
    declared = set(module.IAM_ACTIONS) - REQUEST_ACTIONS
    if module is notify:
        declared = set()  # sns:Publish comes with the topic, granted by the stack
    allowed = role_actions(built[2], f"TrainingFunctions{role}Role")
    assert declared <= allowed
    # Beyond the declared calls, only writing its own logs.
    assert allowed - declared <= {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_choose_statements_are_the_handlers_declaration(built):
    statements = [
        statement
        for logical_id, policy in resources_of_type(built[2].to_json(), "AWS::IAM::Policy").items()
        if logical_id.startswith("TrainingFunctionsChooseRole")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "Sid" in statement
    ]
    assert {s["Sid"]: tuple(as_list(s["Action"])) for s in statements} == {
        sid: tuple(actions) for sid, actions in choose.IAM_STATEMENTS.items()
    }


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
