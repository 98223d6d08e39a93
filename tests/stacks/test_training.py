"""Training: execution role scoped to prefixes, the state machine, the Lambdas, preflight, dashboard."""

from __future__ import annotations

import json
import re

import pytest
from botocore.session import get_session
from botocore.validate import validate_parameters

from .conftest import (
    as_list,
    policy_statements,
    render,
    resources_of_type,
    state_machine_definition,
    statement_by_sid,
)

BUCKET_ARN = "<StorageBucket5CB7C8EA.Arn>"
PREPARE_OUTPUT = {
    "trainingJobName": "birds-20261121-120000-ab12",
    "instanceType": "ml.g4dn.xlarge",
    "hyperParameters": {"num_classes": "4", "num_training_samples": "335", "epochs": "15"},
    "manifest": {"key": "manifest.json", "num_training_samples": 335, "num_classes": 4},
    "quotas": [{"instanceType": "ml.g4dn.xlarge", "quota": 1, "inUse": 0}],
}


@pytest.fixture(scope="module")
def definition(template):
    return state_machine_definition(template)


def test_state_machine_runs_prepare_train_report_and_fails_clearly(definition):
    states = definition["States"]
    assert definition["StartAt"] == "Prepare"
    assert [
        states["Prepare"]["Next"],
        states["CreateTrainingJob"]["Next"],
        states["Report"]["Next"],
    ] == [
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
    assert definition["TimeoutSeconds"] == 3600 + 3600


def test_prepare_gets_the_execution_input_and_report_the_job_name(definition):
    prepare, report = definition["States"]["Prepare"], definition["States"]["Report"]
    assert prepare["Resource"] == "<TrainingFunctionsPrepareAC83206A.Arn>"
    assert (
        "Parameters" not in prepare
    )  # the whole input: {"hyperparameters": {...}, "trainingJobName"?}
    assert prepare["ResultPath"] == "$.prepare"
    assert report["Resource"] == "<TrainingFunctionsReportFF2727A8.Arn>"
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
        "VolumeSizeInGB": 50,
    }
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert parameters["RoleArn"] == "<TrainingExecutionRole5F79F12B.Arn>"
    assert parameters["AlgorithmSpecification"] == {
        "TrainingImage": "<AlgorithmImageAccountsE4B681F4[<AWS::Region>].account>.dkr.ecr.<AWS::Region>."
        "<AWS::URLSuffix>/image-classification:1",
        "TrainingInputMode": "File",
    }
    channels = {channel["ChannelName"]: channel for channel in parameters["InputDataConfig"]}
    for name, prefix in (("train", "train/"), ("validation", "validation/")):
        assert channels[name]["ContentType"] == "application/x-recordio"
        assert channels[name]["DataSource"]["S3DataSource"] == {
            "S3DataType": "S3Prefix",
            "S3Uri": f"s3://<StorageBucket5CB7C8EA>/{prefix}",
            "S3DataDistributionType": "FullyReplicated",
        }
    assert parameters["OutputDataConfig"] == {
        "S3OutputPath": "s3://<StorageBucket5CB7C8EA>/output/"
    }


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
        json.dumps(rendered)
        .replace("<TrainingExecutionRole5F79F12B.Arn>", "arn:aws:iam::123456789012:role/training")
        .replace("<AlgorithmImageAccountsE4B681F4[<AWS::Region>].account>", "811284229777")
        .replace("<AWS::Region>", "us-east-1")
        .replace("<AWS::URLSuffix>", "amazonaws.com")
        .replace("<StorageBucket5CB7C8EA>", "workshop-bucket")
    )
    assert concrete["TrainingJobName"] == PREPARE_OUTPUT["trainingJobName"]
    assert concrete["HyperParameters"] == PREPARE_OUTPUT["hyperParameters"]
    assert concrete["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert concrete["AlgorithmSpecification"]["TrainingImage"] == (
        "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    )
    shape = (
        get_session()
        .get_service_model("sagemaker")
        .operation_model("CreateTrainingJob")
        .input_shape
    )
    validate_parameters(concrete, shape)


def test_image_mapping_lists_every_documented_region(template):
    (mapping,) = template["Mappings"].values()
    assert mapping["us-east-1"] == {"account": "811284229777"}
    assert mapping["eu-central-1"] == {"account": "813361260812"}
    assert len(mapping) == 16


def test_state_machine_logs_everything_and_traces(template):
    (state_machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    properties = state_machine["Properties"]
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True


def test_state_machine_may_run_only_its_own_jobs_and_pass_only_the_execution_role(template):
    statements = policy_statements(template, "TrainingStateMachineRoleDefaultPolicy")
    jobs = statement_by_sid(statements, "RunOwnTrainingJobs")
    assert sorted(jobs["Action"]) == [
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:ListTags",
        "sagemaker:StopTrainingJob",
    ]
    assert (
        jobs["Resource"]
        == "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/birds*"
    )
    assert statement_by_sid(statements, "PassExecutionRoleToSageMaker") == {
        "Sid": "PassExecutionRoleToSageMaker",
        "Action": "iam:PassRole",
        "Effect": "Allow",
        "Resource": "<TrainingExecutionRole5F79F12B.Arn>",
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    rule = statement_by_sid(statements, "ManageSyncCompletionRule")
    assert rule["Resource"].endswith(":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule")


def test_execution_role_reads_only_the_channels_and_writes_only_output(template):
    (role,) = [
        r
        for lid, r in resources_of_type(template, "AWS::IAM::Role").items()
        if lid.startswith("TrainingExecutionRole")
    ]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = policy_statements(template, "TrainingExecutionRolePolicy")
    assert statement_by_sid(statements, "ReadChannels") == {
        "Sid": "ReadChannels",
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": [f"{BUCKET_ARN}/train/*", f"{BUCKET_ARN}/validation/*"],
    }
    assert (
        statement_by_sid(statements, "WriteModelArtifacts")["Resource"] == f"{BUCKET_ARN}/output/*"
    )
    s3_objects = [
        resource
        for statement in statements
        if any(action.startswith("s3:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
        if resource != BUCKET_ARN
    ]
    assert sorted(s3_objects) == [
        f"{BUCKET_ARN}/output/*",
        f"{BUCKET_ARN}/train/*",
        f"{BUCKET_ARN}/validation/*",
    ]
    listing = statement_by_sid(statements, "ListChannels")
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        "train/",
        "train/*",
        "validation/",
        "validation/*",
    ]
    metrics = statement_by_sid(statements, "PublishTrainingMetrics")
    assert metrics["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}
    }
    logs = statement_by_sid(statements, "WriteTrainingLogs")
    assert logs["Resource"].endswith(":log-group:/aws/sagemaker/TrainingJobs:log-stream:*")


def test_no_statement_of_ours_uses_wildcard_actions_or_managed_policies(template):
    for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{logical_id}: {action}"
    for logical_id, role in resources_of_type(template, "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            assert "FullAccess" not in json.dumps(arn), logical_id
            # Only CDK's own helper functions (auto-delete, bucket notifications) carry a managed policy.
            assert logical_id.startswith(
                ("CustomS3AutoDeleteObjects", "BucketNotificationsHandler")
            ), logical_id


def functions_by_handler(template):
    return {
        function["Properties"]["Handler"]: function["Properties"]
        for function in resources_of_type(template, "AWS::Lambda::Function").values()
        if function["Properties"]["Handler"].startswith("workshop_runtime.")
    }


def test_three_handlers_share_one_python_312_asset(template):
    functions = functions_by_handler(template)
    assert set(functions) == {
        "workshop_runtime.prepare.handler",
        "workshop_runtime.report.handler",
        "workshop_runtime.preflight.handler",
    }
    assert {f["Runtime"] for f in functions.values()} == {"python3.12"}
    assert len({json.dumps(f["Code"]) for f in functions.values()}) == 1


def test_prepare_environment_carries_the_settings(template):
    variables = functions_by_handler(template)["workshop_runtime.prepare.handler"]["Environment"][
        "Variables"
    ]
    assert render(variables["BUCKET"]) == "<StorageBucket5CB7C8EA>"
    assert variables["MANIFEST_KEY"] == "manifest.json"
    assert variables["JOB_NAME_PREFIX"] == "birds"
    assert json.loads(variables["INSTANCE_TYPES"]) == [
        "ml.g4dn.xlarge",
        "ml.g5.xlarge",
        "ml.g4dn.2xlarge",
        "ml.p3.2xlarge",
        "ml.p2.xlarge",
    ]
    defaults = json.loads(variables["DEFAULT_HYPERPARAMETERS"])
    assert (
        defaults["num_layers"] == "152" and defaults["optimizer"] == "sgd" and len(defaults) == 12
    )


def test_report_environment_and_scope(template):
    variables = functions_by_handler(template)["workshop_runtime.report.handler"]["Environment"][
        "Variables"
    ]
    assert variables["OUTPUT_PREFIX"] == "output/"
    statements = policy_statements(template, "TrainingFunctionsReportRoleDefaultPolicy")
    assert statement_by_sid(statements, "WriteReports")["Resource"] == f"{BUCKET_ARN}/output/*"
    assert statement_by_sid(statements, "ReadTrainingLogs")["Resource"].endswith(
        ":log-group:/aws/sagemaker/TrainingJobs:log-stream:birds*"
    )


def test_preflight_custom_resource_passes_the_preference_list(template):
    (preflight,) = resources_of_type(template, "Custom::GpuQuotaPreflight").values()
    properties = preflight["Properties"]
    assert properties["InstanceTypes"][0] == "ml.g4dn.xlarge"
    assert (properties["RequestQuotaIncrease"], properties["RequireGpuQuota"]) == ("false", "false")
    # A new value per synth: CloudFormation runs the preflight again on every deploy.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", properties["SynthesizedAt"])
    # Without requestQuotaIncrease the function cannot file a request.
    statements = policy_statements(template, "TrainingFunctionsPreflightRoleDefaultPolicy")
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert "servicequotas:RequestServiceQuotaIncrease" not in actions


def test_dashboard_searches_accuracy_across_jobs_and_shows_runs(template):
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    titles = [widget["properties"].get("title") for widget in body["widgets"]]
    assert titles[1:] == [
        "Validation accuracy by training job",
        "Training accuracy by training job",
        "Packaging builds",
        "Training runs (state machine executions)",
    ]
    expressions = [
        widget["properties"]["metrics"][0][0]["expression"] for widget in body["widgets"][1:3]
    ]
    assert expressions == [
        "SEARCH('{/aws/sagemaker/TrainingJobs,Host} MetricName=\"validation:accuracy\"', 'Maximum', 60)",
        "SEARCH('{/aws/sagemaker/TrainingJobs,Host} MetricName=\"train:accuracy\"', 'Maximum', 60)",
    ]
    build_metrics = [metric[:4] for metric in body["widgets"][3]["properties"]["metrics"]]
    assert build_metrics == [
        ["AWS/CodeBuild", "SucceededBuilds", "ProjectName", "<PackagingBuildProject589A4C3B>"],
        ["AWS/CodeBuild", "FailedBuilds", "ProjectName", "<PackagingBuildProject589A4C3B>"],
        [
            "AWS/Events",
            "FailedInvocations",
            "RuleName",
            "<PackagingBuildRawArchiveUploadedFD560D91>",
        ],
    ]
    run_metrics = {metric[1] for metric in body["widgets"][4]["properties"]["metrics"]}
    assert run_metrics == {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    }


def test_environment_specific_stacks_use_the_literal_image(multi_account_app):
    _, assembly = multi_account_app
    for stack in assembly.stacks:
        template = stack.template
        assert "Mappings" not in template
        definition = state_machine_definition(template)
        image = definition["States"]["CreateTrainingJob"]["Parameters"]["AlgorithmSpecification"][
            "TrainingImage"
        ]
        expected = {"eu-west-1": "685385470294", "us-west-2": "433757028032"}[
            stack.environment.region
        ]
        assert re.fullmatch(
            rf"{expected}\.dkr\.ecr\.{stack.environment.region}\.<AWS::URLSuffix>/image-classification:1",
            image,
        )


def role_actions(template, policy_logical_prefix):
    return {
        action
        for statement in policy_statements(template, policy_logical_prefix)
        for action in as_list(statement["Action"])
    }


def test_each_function_may_call_what_its_handler_declares(template):
    from stacks.training.runtime.workshop_runtime import preflight, prepare, report

    assert set(prepare.IAM_ACTIONS) <= role_actions(
        template, "TrainingFunctionsPrepareRoleDefaultPolicy"
    )
    assert set(report.IAM_ACTIONS) <= role_actions(
        template, "TrainingFunctionsReportRoleDefaultPolicy"
    )
    # Filing (and finding open) increase requests is granted only with requestQuotaIncrease.
    request_actions = {
        "servicequotas:RequestServiceQuotaIncrease",
        "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
    }
    assert set(preflight.IAM_ACTIONS) - request_actions <= role_actions(
        template, "TrainingFunctionsPreflightRoleDefaultPolicy"
    )
