"""TrainingStateMachine on a bare stack: Prepare -> CreateTrainingJob -> Report, one failure state,
a CreateTrainingJob request botocore accepts, and a role limited to this stack's jobs."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from botocore.session import get_session
from botocore.validate import validate_parameters

from stacks.training.state_machine import Channels, JobLimits, TrainingStateMachine

from ..conftest import bare_stack, has_statement, open_findings, render, state_machine_definition

IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
CHANNELS = Channels(
    train="s3://workshop-bucket/train/",
    validation="s3://workshop-bucket/validation/",
    output="s3://workshop-bucket/output/",
)
PREPARE_OUTPUT = {
    "trainingJobName": "birds-20261121-120000-ab12",
    "instanceType": "ml.g4dn.xlarge",
    "hyperParameters": {"num_classes": "4", "num_training_samples": "335", "epochs": "15"},
    "manifest": {"key": "manifest.json", "num_training_samples": 335, "num_classes": 4},
    "quotas": [{"instanceType": "ml.g4dn.xlarge", "quota": 1, "inUse": 0}],
}


def stand_in_function(stack: cdk.Stack, name: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return event"),
    )


@pytest.fixture(scope="module")
def built():
    stack = bare_stack()
    execution_role = iam.Role(
        stack, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
    )
    prepare, report = stand_in_function(stack, "Prepare"), stand_in_function(stack, "Report")
    training = TrainingStateMachine(
        stack,
        "Training",
        prepare=prepare,
        report=report,
        execution_role=execution_role,
        image_uri=IMAGE,
        channels=CHANNELS,
        limits=JobLimits(max_runtime_seconds=5400, volume_size_gb=30),
        job_name_prefix="cardinal",
        log_retention_days=7,
    )
    template = Template.from_stack(stack)
    arns = {
        name: render(stack.resolve(f.function_arn))
        for name, f in (("prepare", prepare), ("report", report))
    }
    return training, template, state_machine_definition(template.to_json()), arns


@pytest.fixture(scope="module")
def template(built):
    return built[1]


@pytest.fixture(scope="module")
def definition(built):
    return built[2]


def test_state_machine_runs_prepare_train_report_and_fails_clearly(definition):
    states = definition["States"]
    assert definition["StartAt"] == "Prepare"
    assert [states[name]["Next"] for name in ("Prepare", "CreateTrainingJob", "Report")] == [
        "CreateTrainingJob",
        "Report",
        "Trained",
    ]
    assert states["Trained"]["Type"] == "Succeed"
    assert states["TrainingRunFailed"] == {
        "Type": "Fail",
        "Comment": "A step failed: the error and cause name the step's problem",
        "ErrorPath": "$.failure.Error",
        "CausePath": "$.failure.Cause",
    }
    for name in ("Prepare", "CreateTrainingJob", "Report"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "TrainingRunFailed"}
        ]
    # The job's own limit plus an hour for provisioning and the model upload.
    assert definition["TimeoutSeconds"] == 5400 + 3600


def test_prepare_gets_the_execution_input_and_report_the_job_name(built, definition):
    arns = built[3]
    prepare, report = definition["States"]["Prepare"], definition["States"]["Report"]
    assert prepare["Resource"] == arns["prepare"]
    # The whole input: {"hyperparameters": {...}, "trainingJobName"?}
    assert "Parameters" not in prepare
    assert prepare["ResultPath"] == "$.prepare"
    assert report["Resource"] == arns["report"]
    assert report["Parameters"] == {"trainingJobName.$": "$.prepare.trainingJobName"}
    assert report["ResultPath"] == "$.report"


def test_create_training_job_takes_run_values_from_prepare(definition):
    step = definition["States"]["CreateTrainingJob"]
    assert step["Resource"] == "arn:<AWS::Partition>:states:::sagemaker:createTrainingJob.sync"
    parameters = step["Parameters"]
    assert parameters["TrainingJobName.$"] == "$.prepare.trainingJobName"
    assert parameters["HyperParameters.$"] == "$.prepare.hyperParameters"
    assert parameters["ResourceConfig"] == {
        "InstanceCount": 1,
        "InstanceType.$": "$.prepare.instanceType",
        "VolumeSizeInGB": 30,
    }
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 5400}
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


def test_rendered_parameters_are_a_valid_create_training_job_request(definition):
    rendered = _apply_parameters(
        definition["States"]["CreateTrainingJob"]["Parameters"], {"prepare": PREPARE_OUTPUT}
    )
    concrete = json.loads(
        json.dumps(rendered).replace(
            "<ExecutionRole605A040B.Arn>", "arn:aws:iam::123456789012:role/training"
        )
    )
    assert concrete["TrainingJobName"] == PREPARE_OUTPUT["trainingJobName"]
    assert concrete["HyperParameters"] == PREPARE_OUTPUT["hyperParameters"]
    assert concrete["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
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


def test_the_state_machine_acknowledges_its_own_findings(built):
    training = built[0]
    assert open_findings(training) == []
