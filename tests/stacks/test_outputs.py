"""Stack outputs: names, URIs, ARNs, the preflight result and copy-paste commands."""

from __future__ import annotations

import json

from .conftest import render


def outputs(template):
    return {name: render(output["Value"]) for name, output in template["Outputs"].items()}


def test_outputs_name_every_part(template):
    values = outputs(template)
    assert values["BucketName"] == "<StorageBucket5CB7C8EA>"
    assert values["RawImagesUri"] == "s3://<StorageBucket5CB7C8EA>/raw/"
    assert values["TrainChannelUri"] == "s3://<StorageBucket5CB7C8EA>/train/"
    assert values["ValidationChannelUri"] == "s3://<StorageBucket5CB7C8EA>/validation/"
    assert values["OutputUri"] == "s3://<StorageBucket5CB7C8EA>/output/"
    assert values["TrainingStateMachineArn"] == "<TrainingStateMachineEAE34FB3>"
    assert values["PackagingProjectName"] == "<PackagingBuildProject589A4C3B>"
    assert values["PreflightInstanceType"] == "<QuotaPreflightResultC9DB1234.InstanceType>"
    assert values["PreflightSummary"] == "<QuotaPreflightResultC9DB1234.Summary>"
    assert values["DashboardUrl"] == (
        "https://<AWS::Region>.console.aws.amazon.com/cloudwatch/home?region=<AWS::Region>"
        "#dashboards:name=<Dashboard7A714131>"
    )


def test_commands_are_ready_to_paste(template):
    values = outputs(template)
    assert values["UploadRawImagesCommand"] == (
        "aws s3 cp birds.zip s3://<StorageBucket5CB7C8EA>/raw/birds.zip --region <AWS::Region>"
    )
    assert values["StartPackagingCommand"] == (
        "aws codebuild start-build --project-name <PackagingBuildProject589A4C3B> --region <AWS::Region>"
    )
    start = values["StartTrainingCommand"]
    assert start.startswith(
        "aws stepfunctions start-execution --state-machine-arn <TrainingStateMachineEAE34FB3> --region <AWS::Region> --input '"
    )
    execution_input = json.loads(start.split("--input '", 1)[1].rstrip("'"))
    assert execution_input == {"hyperparameters": {"epochs": 25, "checkpoint_frequency": 25}}


def test_overrides_in_the_start_command_pass_the_same_validator():
    from stacks.training.runtime.workshop_runtime.hyperparameters import validate_hyperparameters

    assert validate_hyperparameters({"epochs": 25, "checkpoint_frequency": 25}) == {
        "epochs": "25",
        "checkpoint_frequency": "25",
    }
