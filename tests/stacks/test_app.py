"""The app: offline synth with no lookups, one stack per account, the outputs, and the grants the
stack makes where its components meet (bucket and build, bucket and training)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from .conftest import (
    DEFAULT_STACK,
    EVERY_FEATURE,
    MULTI_ACCOUNTS,
    REPO,
    as_list,
    cdk_json_context,
    has_statement,
    offline_environment,
    policy_statements,
    render,
    resources_of_type,
    state_machine_definition,
)

BUCKET_ARN = "<StorageBucket5CB7C8EA.Arn>"


def test_offline_synth_needs_no_lookups_and_is_environment_agnostic(cli_assembly):
    manifest = cli_assembly.manifest
    assert "missing" not in manifest  # no context lookups to resolve against an account
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert list(stacks) == [DEFAULT_STACK]
    assert stacks[DEFAULT_STACK]["environment"] == "aws://unknown-account/unknown-region"
    assert not (REPO / "cdk.context.json").exists()


def test_accounts_give_one_stack_per_environment(multi_account_app):
    _, assembly = multi_account_app
    environments = sorted(
        (s.environment.account, s.environment.region, s.stack_name) for s in assembly.stacks
    )
    assert environments == [
        (entry["account"], entry["region"], DEFAULT_STACK) for entry in MULTI_ACCOUNTS
    ]


def test_environment_specific_stacks_use_the_literal_image(multi_account_app):
    _, assembly = multi_account_app
    expected = {"eu-west-1": "685385470294", "us-west-2": "433757028032"}
    for stack in assembly.stacks:
        assert "Mappings" not in stack.template
        image = state_machine_definition(stack.template)["States"]["CreateTrainingJob"][
            "Parameters"
        ]["AlgorithmSpecification"]["TrainingImage"]
        region = stack.environment.region
        assert image == (
            f"{expected[region]}.dkr.ecr.{region}.<AWS::URLSuffix>/image-classification:1"
        )


def test_cdk_json_runs_the_app_and_pins_recommended_flags():
    cdk_json = json.loads((REPO / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    context = cdk_json["context"]
    # A few of the flags `cdk init` writes; all of them are in cdk.json.
    assert context["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert context["@aws-cdk/aws-s3:publicAccessBlockedByDefault"] is True
    assert context["@aws-cdk/core:enablePartitionLiterals"] is True
    flags = [key for key in context if key.startswith("@aws-cdk")]
    assert len(flags) > 60


def test_the_app_runs_from_a_fresh_shell_without_the_virtualenv(tmp_path):
    """cdk.json's `python3 app.py` in a shell where .venv is not activated (the README's
    `AWS_PROFILE=... npx cdk deploy STACK`): app.py hands over to .venv's Python."""
    environment = offline_environment()
    environment["PATH"] = os.pathsep.join(
        part for part in environment["PATH"].split(os.pathsep) if not part.startswith(str(REPO))
    )
    environment["CDK_OUTDIR"] = str(tmp_path)
    python3 = shutil.which("python3", path=environment["PATH"])
    result = subprocess.run(
        [python3, "app.py"], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "BirdsWorkshop.template.json").exists()


# --- what the settings reach ----------------------------------------------------------------------


def test_the_settings_reach_the_components(template):
    t = Template.from_json(template)
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like(
                        {
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        }
                    )
                ]
            }
        },
    )
    t.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    t.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    t.has_resource_properties("AWS::CodeBuild::Project", {"TimeoutInMinutes": 60})
    parameters = state_machine_definition(template)["States"]["CreateTrainingJob"]["Parameters"]
    assert parameters["ResourceConfig"]["VolumeSizeInGB"] == 50
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert parameters["OutputDataConfig"] == {
        "S3OutputPath": "s3://<StorageBucket5CB7C8EA>/output/"
    }
    variables = function_environment(template, "prepare")
    assert render(variables["BUCKET"]) == "<StorageBucket5CB7C8EA>"
    assert json.loads(variables["DEFAULT_HYPERPARAMETERS"])["num_layers"] == "152"
    assert (variables["WAIT_FOR_QUOTA_MINUTES"], variables["MAX_ATTEMPTS"]) == ("60", "6")
    choose = function_environment(template, "choose")
    assert json.loads(choose["INSTANCE_TYPES"])[0] == "ml.g4dn.xlarge"
    assert (choose["SPOT"], choose["SPOT_FALLBACK_TO_ON_DEMAND"]) == ("false", "true")
    assert (choose["INSTANCE_COUNT"], choose["MAX_RUNTIME_SECONDS"]) == ("1", "3600")
    assert render(choose["QUEUE_BUCKET"]) == "<StorageBucket5CB7C8EA>"
    assert choose["QUEUE_PREFIX"] == "queue/"
    (preflight,) = resources_of_type(template, "Custom::GpuQuotaPreflight").values()
    assert preflight["Properties"]["InstanceTypes"][0] == "ml.g4dn.xlarge"


def function_environment(template, handler_module):
    (function,) = [
        f["Properties"]
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == f"workshop_runtime.{handler_module}.handler"
    ]
    return function["Environment"]["Variables"]


# --- grants where components meet -----------------------------------------------------------------


def test_build_role_reads_raw_and_replaces_only_the_channels(template):
    statements = {s["Sid"]: s for s in policy_statements(template, "PackagingBuildBucketAccess")}
    assert statements["ReadRawArchives"]["Resource"] == f"{BUCKET_ARN}/raw/*"
    replace = statements["ReplaceChannels"]
    assert replace["Resource"] == [f"{BUCKET_ARN}/train/*", f"{BUCKET_ARN}/validation/*"]
    assert sorted(replace["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert statements["WriteManifest"]["Resource"] == f"{BUCKET_ARN}/manifest.json"
    listing = statements["ListRawAndChannels"]
    assert listing["Resource"] == BUCKET_ARN
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        "raw/",
        "raw/*",
        "train/",
        "train/*",
        "validation/",
        "validation/*",
    ]
    # Nothing may write under raw/: a write there would start the build again.
    for statement in statements.values():
        if {"s3:PutObject", "s3:DeleteObject"} & set(as_list(statement["Action"])):
            assert not any("/raw/" in resource for resource in as_list(statement["Resource"]))


def test_execution_role_reads_only_the_channels_and_writes_only_output(template):
    statements = {s["Sid"]: s for s in policy_statements(template, "TrainingExecutionRolePolicy")}
    assert statements["ReadChannels"] == {
        "Sid": "ReadChannels",
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": [f"{BUCKET_ARN}/train/*", f"{BUCKET_ARN}/validation/*"],
    }
    assert statements["WriteModelArtifacts"]["Resource"] == f"{BUCKET_ARN}/output/*"
    s3_objects = sorted(
        resource
        for statement in statements.values()
        if any(action.startswith("s3:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
        if resource != BUCKET_ARN
    )
    assert s3_objects == [
        f"{BUCKET_ARN}/output/*",
        f"{BUCKET_ARN}/train/*",
        f"{BUCKET_ARN}/validation/*",
    ]
    assert statements["ListChannels"]["Condition"]["StringLike"]["s3:prefix"] == [
        "train/",
        "train/*",
        "validation/",
        "validation/*",
    ]


def test_prepare_reads_the_manifest_and_report_writes_only_under_output(template):
    t = Template.from_json(template)
    bucket = {"Fn::GetAtt": ["StorageBucket5CB7C8EA", "Arn"]}
    has_statement(
        t,
        "TrainingFunctionsPrepareRoleDefaultPolicy",
        {
            "Sid": "ReadManifest",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Join": ["", [bucket, "/manifest.json"]]},
        },
    )
    has_statement(
        t,
        "TrainingFunctionsReportRoleDefaultPolicy",
        {
            "Sid": "WriteReports",
            "Action": "s3:PutObject",
            "Resource": {"Fn::Join": ["", [bucket, "/output/*"]]},
        },
    )


def test_other_settings_move_the_grants_and_keep_the_bucket():
    from stacks.app import create_app

    overrides = {
        "workshop.prefixes.raw": "incoming/",
        "workshop.manifestKey": "data/manifest.json",
        "workshop.retainBucket": "true",
    }
    app = create_app({**cdk_json_context(), **overrides})
    (stack,) = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    template = Template.from_stack(stack)
    statements = {
        s["Sid"]: s for s in policy_statements(template.to_json(), "PackagingBuildBucketAccess")
    }
    assert statements["ReadRawArchives"]["Resource"] == f"{BUCKET_ARN}/incoming/*"
    assert statements["WriteManifest"]["Resource"] == f"{BUCKET_ARN}/data/manifest.json"
    template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


# --- outputs ----------------------------------------------------------------------------------------


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


# --- the training-day features ---------------------------------------------------------------------


def stack_template(overrides):
    from stacks.app import create_app

    app = create_app({**cdk_json_context(), **overrides})
    (stack,) = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def every_feature():
    return stack_template(EVERY_FEATURE)


def test_choose_keeps_its_queue_tickets_under_the_queue_prefix_only(template):
    statements = {
        s["Sid"]: s
        for s in policy_statements(template, "TrainingFunctionsChooseRoleDefaultPolicy")
        if "Sid" in s
    }
    assert statements["KeepQueueTickets"]["Resource"] == f"{BUCKET_ARN}/queue/*"
    assert sorted(as_list(statements["KeepQueueTickets"]["Action"])) == [
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert statements["ListQueueTickets"]["Condition"]["StringLike"]["s3:prefix"] == [
        "queue/",
        "queue/*",
    ]


def test_without_the_features_there_is_no_topic_budget_or_build_ended_rule(template):
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert not types & {"AWS::SNS::Topic", "AWS::KMS::Key", "AWS::Budgets::Budget"}
    assert "NotificationTopicArn" not in template["Outputs"]
    handlers = {
        f["Properties"]["Handler"]
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
    }
    assert "workshop_runtime.notify.handler" not in handlers
    assert "workshop_runtime.build_ended.handler" not in handlers
    # The teardown is always there.
    assert "workshop_runtime.teardown.handler" in handlers


def test_every_feature_reaches_its_components(every_feature):
    _, t = every_feature
    template = t.to_json()
    t.resource_count_is("AWS::SNS::Subscription", 2)
    t.resource_count_is("AWS::Budgets::Budget", 1)
    choose = function_environment(template, "choose")
    assert (choose["SPOT"], choose["INSTANCE_COUNT"]) == ("true", "2")
    assert render(function_environment(template, "notify")["TOPIC_ARN"]).startswith(
        "<NotificationsTopic"
    )
    ended = render(function_environment(template, "build_ended"))
    assert ended["STATE_MACHINE_ARN"] == "<TrainingStateMachineEAE34FB3>"
    assert ended["TOPIC_ARN"].startswith("<NotificationsTopic")
    parameters = state_machine_definition(template)["States"]["CreateTrainingJob"]["Parameters"]
    assert parameters["ResourceConfig"]["InstanceCount"] == 2
    assert parameters["EnableManagedSpotTraining.$"] == "$.run.job.spot"
    outputs = {name: render(output["Value"]) for name, output in template["Outputs"].items()}
    assert outputs["NotificationTopicArn"].startswith("<NotificationsTopic")
    assert outputs["NotificationTopicName"].startswith("<NotificationsTopic")


def test_with_spot_the_execution_role_reads_only_checkpoints_besides_the_channels(every_feature):
    _, t = every_feature
    statements = {
        s["Sid"]: s for s in policy_statements(t.to_json(), "TrainingExecutionRolePolicy")
    }
    assert statements["ReadCheckpoints"]["Resource"] == f"{BUCKET_ARN}/output/*/checkpoints/*"
    assert statements["ReadCheckpoints"]["Action"] == "s3:GetObject"
    assert statements["ListCheckpoints"]["Condition"]["StringLike"]["s3:prefix"] == [
        "output/*/checkpoints/",
        "output/*/checkpoints/*",
    ]
    reads = sorted(
        resource
        for statement in statements.values()
        if "s3:GetObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    )
    assert reads == [
        f"{BUCKET_ARN}/output/*/checkpoints/*",
        f"{BUCKET_ARN}/train/*",
        f"{BUCKET_ARN}/validation/*",
    ]


def test_only_the_notifying_functions_may_publish(every_feature):
    _, t = every_feature
    template = t.to_json()
    publishers = set()
    for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sns:Publish" in as_list(statement["Action"]):
                publishers.add(logical_id)
    assert {p.split("Role")[0] for p in publishers} == {
        "TrainingFunctionsNotify",
        "BuildEndedHandler",
    }
    # The manifest is all the build-ended function reads in the bucket.
    statements = policy_statements(template, "BuildEndedHandlerRoleDefaultPolicy")
    s3 = [s for s in statements if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert [(s["Action"], s["Resource"]) for s in s3] == [
        ("s3:GetObject", f"{BUCKET_ARN}/manifest.json")
    ]


def test_the_bucket_is_emptied_only_after_the_teardown_stopped_the_jobs(template):
    (teardown_id,) = resources_of_type(template, "Custom::TrainingTeardown")
    (auto_delete_id,) = resources_of_type(template, "Custom::S3AutoDeleteObjects")
    # CloudFormation deletes a resource before the ones it depends on.
    assert auto_delete_id in as_list(template["Resources"][teardown_id].get("DependsOn", []))
    properties = render(template["Resources"][teardown_id]["Properties"])
    assert properties["StateMachineArn"] == "<TrainingStateMachineEAE34FB3>"
    assert properties["JobNamePrefix"] == "birds"


def test_a_retained_bucket_has_nothing_to_order(every_feature):
    stack, t = stack_template({"workshop.retainBucket": "true"})
    t.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    t.resource_count_is("Custom::TrainingTeardown", 1)
