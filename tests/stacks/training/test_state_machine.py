"""TrainingStateMachine on a bare stack: the states and their transitions, the Choose loop, the
failure paths naming their step, a CreateTrainingJob request botocore accepts for every attempt
kind, and a role limited to this stack's jobs. tests/stacks/training/test_state_machine_runs.py
executes the synthesized definition."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from botocore.session import get_session
from botocore.validate import validate_parameters

from stacks.training.state_machine import (
    Channels,
    JobLimits,
    RunLimits,
    TrainingStateMachine,
    execution_timeout,
)

from ..conftest import bare_stack, has_statement, open_findings, render, state_machine_definition

IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
CHANNELS = Channels(
    train="s3://workshop-bucket/train/",
    validation="s3://workshop-bucket/validation/",
    output="s3://workshop-bucket/output/",
)
JOB = "birds-20261121-120000-ab12"
PREPARE_OUTPUT = {
    "runId": JOB,
    "hyperParameters": {"num_classes": "4", "num_training_samples": "335", "epochs": "15"},
    "manifest": {"key": "manifest.json", "num_training_samples": 335, "num_classes": 4},
}


def choose_output(spot: bool, **job):
    """What Choose returns when it starts an attempt (stacks/.../choose.py `_start`)."""
    stopping = {"MaxRuntimeInSeconds": 5400}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = 5400 + 1800
    return {
        "action": "start",
        "job": {
            "trainingJobName": JOB,
            "instanceType": "ml.g4dn.xlarge",
            "spot": spot,
            "stoppingCondition": stopping,
            "checkpointUri": f"s3://workshop-bucket/output/{JOB}/checkpoints/",
            **job,
        },
    }


def stand_in_function(stack: cdk.Stack, name: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return event"),
    )


def build(*, notify: bool = True, spot: bool = False, instance_count: int = 1):
    stack = bare_stack()
    execution_role = iam.Role(
        stack, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
    )
    functions = {
        name: stand_in_function(stack, name.capitalize())
        for name in ("prepare", "choose", "report", "notify")
    }
    training = TrainingStateMachine(
        stack,
        "Training",
        prepare=functions["prepare"],
        choose=functions["choose"],
        report=functions["report"],
        notify=functions["notify"] if notify else None,
        execution_role=execution_role,
        image_uri=IMAGE,
        channels=CHANNELS,
        limits=JobLimits(
            max_runtime_seconds=5400,
            volume_size_gb=30,
            instance_count=instance_count,
            spot=spot,
        ),
        run_limits=RunLimits(wait_for_quota_minutes=45, max_attempts=4),
        job_name_prefix="cardinal",
        log_retention_days=7,
    )
    template = Template.from_stack(stack)
    arns = {name: render(stack.resolve(f.function_arn)) for name, f in functions.items()}
    return training, template, state_machine_definition(template.to_json()), arns


@pytest.fixture(scope="module")
def built():
    return build()


@pytest.fixture(scope="module")
def template(built):
    return built[1]


@pytest.fixture(scope="module")
def definition(built):
    return built[2]


def catches(state):
    return [(c["ErrorEquals"], c["ResultPath"], c["Next"]) for c in state["Catch"]]


def test_prepare_then_choose_then_decide(definition):
    states = definition["States"]
    assert definition["StartAt"] == "Prepare"
    assert states["Prepare"]["Next"] == "Choose"
    assert states["Choose"]["Next"] == "Decide"
    assert states["Decide"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.run.action", "StringEquals": "start", "Next": "CreateTrainingJob"},
            {"Variable": "$.run.action", "StringEquals": "wait", "Next": "WaitForQuota"},
        ],
        "Default": "GaveUp",
    }
    wait = states["WaitForQuota"]
    assert (wait["Type"], wait["SecondsPath"], wait["Next"]) == (
        "Wait",
        "$.run.waitSeconds",
        "Choose",
    )
    assert states["CreateTrainingJob"]["Next"] == "Report"
    assert states["Report"]["Next"] == "NotifyTrained"
    assert states["NotifyTrained"]["Next"] == "Trained"
    assert states["Trained"]["Type"] == "Succeed"


def test_a_failed_create_goes_back_to_choose_unless_it_is_not_a_task_failure(definition):
    assert catches(definition["States"]["CreateTrainingJob"]) == [
        (["SageMaker.ResourceLimitExceededException"], "$.attemptError", "Choose"),
        (["States.TaskFailed"], "$.attemptError", "Choose"),
        (["States.ALL"], "$.failure", "CreateTrainingJobFailed"),
    ]


def test_every_failure_names_its_step_and_ends_failed(definition):
    states = definition["States"]
    for step in ("Prepare", "Choose", "Report"):
        assert catches(states[step]) == [(["States.ALL"], "$.failure", f"{step}Failed")]
    for step in ("Prepare", "Choose", "CreateTrainingJob", "Report"):
        assert states[f"{step}Failed"] == {
            "Type": "Pass",
            "Parameters": {
                "Error.$": "$.failure.Error",
                "Cause.$": "$.failure.Cause",
                "step": step,
            },
            "ResultPath": "$.failure",
            "Next": "NotifyFailed",
        }
    assert states["GaveUp"]["Parameters"] == {
        "Error.$": "$.run.failure.Error",
        "Cause.$": "$.run.failure.Cause",
        "step.$": "$.run.failure.step",
    }
    assert states["GaveUp"]["Next"] == "NotifyFailed"
    assert states["NotifyFailed"]["Next"] == "TrainingRunFailed"
    # An email that cannot be sent changes neither outcome.
    assert catches(states["NotifyFailed"]) == [
        (["States.ALL"], "$.notificationError", "TrainingRunFailed")
    ]
    assert catches(states["NotifyTrained"]) == [(["States.ALL"], "$.notificationError", "Trained")]
    assert states["TrainingRunFailed"] == {
        "Type": "Fail",
        "Comment": "<step>.<error> and the step's message",
        "ErrorPath": "States.Format('{}.{}', $.failure.step, $.failure.Error)",
        "CausePath": "$.failure.Cause",
    }


def test_without_a_notify_function_failures_end_at_once():
    states = build(notify=False)[2]["States"]
    assert "NotifyFailed" not in states and "NotifyTrained" not in states
    assert states["Report"]["Next"] == "Trained"
    assert states["GaveUp"]["Next"] == "TrainingRunFailed"
    assert states["PrepareFailed"]["Next"] == "TrainingRunFailed"


def test_what_each_lambda_step_is_given(built, definition):
    arns, states = built[3], definition["States"]
    for name, function in (("Prepare", "prepare"), ("Choose", "choose")):
        # The whole state: the execution input, and for Choose what Prepare and the last
        # attempt left.
        assert states[name]["Resource"] == arns[function]
        assert "Parameters" not in states[name]
    assert states["Prepare"]["ResultPath"] == "$.prepare"
    assert states["Choose"]["ResultPath"] == "$.run"
    assert states["Report"]["Parameters"] == {
        "trainingJobName.$": "$.run.job.trainingJobName",
        "attempts.$": "$.run.attempts",
    }
    assert states["Report"]["ResultPath"] == "$.report"
    for name, outcome in (("NotifyTrained", "succeeded"), ("NotifyFailed", "failed")):
        assert states[name]["Resource"] == arns["notify"]
        assert states[name]["Parameters"] == {
            "outcome": outcome,
            "state.$": "$",
            "execution.$": "$$.Execution.Id",
        }


def test_create_training_job_takes_attempt_values_from_choose(definition):
    step = definition["States"]["CreateTrainingJob"]
    assert step["Resource"] == "arn:<AWS::Partition>:states:::sagemaker:createTrainingJob.sync"
    parameters = step["Parameters"]
    assert parameters["TrainingJobName.$"] == "$.run.job.trainingJobName"
    assert parameters["HyperParameters.$"] == "$.prepare.hyperParameters"
    assert parameters["ResourceConfig"] == {
        "InstanceCount": 1,
        "InstanceType.$": "$.run.job.instanceType",
        "VolumeSizeInGB": 30,
    }
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 5400}
    assert "EnableManagedSpotTraining.$" not in parameters
    assert parameters["RoleArn"] == "<ExecutionRole605A040B.Arn>"
    assert parameters["AlgorithmSpecification"] == {
        "TrainingImage": IMAGE,
        "TrainingInputMode": "File",
    }
    channels = {channel["ChannelName"]: channel for channel in parameters["InputDataConfig"]}
    for name, uri in (("train", CHANNELS.train), ("validation", CHANNELS.validation)):
        assert channels[name]["ContentType"] == "application/x-recordio"
        assert channels[name]["DataSource"]["S3DataSource"] == {
            "S3DataType": "S3Prefix",
            "S3Uri": uri,
            "S3DataDistributionType": "FullyReplicated",
        }
    assert parameters["OutputDataConfig"] == {"S3OutputPath": CHANNELS.output}


def test_with_spot_each_attempt_decides_spot_stopping_and_checkpoints():
    parameters = build(spot=True, instance_count=2)[2]["States"]["CreateTrainingJob"]["Parameters"]
    assert parameters["EnableManagedSpotTraining.$"] == "$.run.job.spot"
    assert parameters["StoppingCondition.$"] == "$.run.job.stoppingCondition"
    assert "StoppingCondition" not in parameters
    assert parameters["CheckpointConfig"] == {"S3Uri.$": "$.run.job.checkpointUri"}
    assert parameters["ResourceConfig"]["InstanceCount"] == 2


def test_the_execution_timeout_covers_the_wait_and_every_attempt(definition):
    # 45 minutes in line, then 4 attempts of 5400 s plus an hour each.
    assert definition["TimeoutSeconds"] == 45 * 60 + 4 * (5400 + 3600)
    # One attempt that outlives its job's limit times out (caught by States.ALL only).
    assert definition["States"]["CreateTrainingJob"]["TimeoutSeconds"] == 5400 + 3600
    spot = execution_timeout(JobLimits(5400, 30, spot=True), RunLimits(45, 4))
    assert spot.to_seconds() == 45 * 60 + 4 * (5400 + 1800 + 3600)
    assert (
        build(spot=True)[2]["States"]["CreateTrainingJob"]["TimeoutSeconds"] == 5400 + 1800 + 3600
    )


def _path(document: dict, path: str):
    value = document
    for name in path.removeprefix("$.").split("."):
        value = value[name]
    return value


def _apply_parameters(parameters, state_input):
    """What Step Functions does with a Parameters block: `key.$` takes the value at the path."""
    if isinstance(parameters, list):
        return [_apply_parameters(item, state_input) for item in parameters]
    if not isinstance(parameters, dict):
        return parameters
    return {
        (key[:-2] if key.endswith(".$") else key): (
            _path(state_input, value)
            if key.endswith(".$")
            else _apply_parameters(value, state_input)
        )
        for key, value in parameters.items()
    }


@pytest.mark.parametrize(
    ("spot_setting", "spot_attempt"),
    [(False, False), (True, True), (True, False)],
    ids=["on-demand", "spot", "spot setting, on-demand fallback"],
)
def test_rendered_parameters_are_a_valid_create_training_job_request(spot_setting, spot_attempt):
    definition = build(spot=spot_setting)[2]
    state = {"prepare": PREPARE_OUTPUT, "run": choose_output(spot_attempt)}
    rendered = _apply_parameters(definition["States"]["CreateTrainingJob"]["Parameters"], state)
    concrete = json.loads(
        json.dumps(rendered).replace(
            "<ExecutionRole605A040B.Arn>", "arn:aws:iam::123456789012:role/training"
        )
    )
    assert concrete["TrainingJobName"] == JOB
    assert concrete["HyperParameters"] == PREPARE_OUTPUT["hyperParameters"]
    assert concrete["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    if spot_setting:
        assert concrete["EnableManagedSpotTraining"] is spot_attempt
        assert ("MaxWaitTimeInSeconds" in concrete["StoppingCondition"]) is spot_attempt
    shape = (
        get_session()
        .get_service_model("sagemaker")
        .operation_model("CreateTrainingJob")
        .input_shape
    )
    validate_parameters(concrete, shape)


def test_state_machine_logs_everything_and_traces(template):
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like(
                {"Level": "ALL", "IncludeExecutionData": True}
            ),
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})


def test_state_machine_may_run_only_its_own_jobs_and_pass_only_the_execution_role(template):
    policy = "TrainingStateMachineRoleDefaultPolicy"
    has_statement(
        template,
        policy,
        {
            "Sid": "RunOwnTrainingJobs",
            "Action": [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:ListTags",
            ],
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":sagemaker:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":training-job/cardinal*",
                    ],
                ]
            },
        },
    )
    has_statement(
        template,
        policy,
        {
            "Sid": "PassExecutionRoleToSageMaker",
            "Action": "iam:PassRole",
            "Resource": {"Fn::GetAtt": ["ExecutionRole605A040B", "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    )
    has_statement(
        template,
        policy,
        {
            "Sid": "ManageSyncCompletionRule",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": {
                "Fn::Join": [
                    "",
                    Match.array_with([":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"]),
                ]
            },
        },
    )


@pytest.mark.parametrize("notify", [True, False], ids=["with notify", "without"])
def test_the_state_machine_acknowledges_its_own_findings(notify):
    assert open_findings(build(notify=notify)[0]) == []
