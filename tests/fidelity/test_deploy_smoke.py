"""The default stack deployed into the emulator's CloudFormation, then the packaging flow run
against the deployed resources, with their names taken from the stack outputs."""

from __future__ import annotations

import json

import pytest

from . import flows
from .deploy import EMULATOR_SKIPS, deploy


@pytest.fixture(scope="module")
def deployed(synthesized, emulator, checked, tmp_path_factory):
    """`checked` first: it resets the emulator per template, this deployment comes after."""
    emulator.reset()
    assembly, template = synthesized["default"][0]
    template = template.copy()
    workshop = flows.Workshop(template, assembly, emulator, tmp_path_factory.mktemp("deployed"))

    def answers(logical_id, resource):
        # The preflight runs for real (quotas from the stub); CDK's own handlers just succeed.
        framework = template.referenced_logical_id(resource["Properties"]["ServiceToken"])
        variables = (
            template.resources[framework]["Properties"].get("Environment", {}).get("Variables", {})
        )
        if "USER_ON_EVENT_FUNCTION_ARN" not in variables:
            return {}
        user = template.referenced_logical_id(variables["USER_ON_EVENT_FUNCTION_ARN"])
        event = flows.custom_resource_event(workshop, logical_id, "Create")
        return flows.invoke(workshop, user, event, "deploy smoke")

    stack, replaced = deploy(
        lambda service: emulator.client(service, template.region),
        emulator.endpoint,
        template,
        assembly,
        answers,
    )
    resources = emulator.client("cloudformation", template.region).list_stack_resources(
        StackName=stack["StackId"]
    )["StackResourceSummaries"]
    return template, workshop, stack, replaced, {r["LogicalResourceId"]: r for r in resources}


def test_the_stack_is_created(deployed):
    _, _, stack, _, _ = deployed
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")


def test_every_resource_is_created_or_a_type_the_emulator_skips(deployed):
    template, _, _, _, resources = deployed
    not_created = {}
    for logical_id, resource in template.resources.items():
        if not template.included(logical_id):
            continue
        listed = resources.get(logical_id, {})
        if listed.get("ResourceStatus") != "CREATE_COMPLETE":
            not_created.setdefault(resource["Type"], []).append(logical_id)
    present = {r["Type"] for r in template.resources.values()} & set(EMULATOR_SKIPS)
    assert set(not_created) == present, (
        f"not created: {not_created}; listed as skipped: {sorted(present)}"
    )


def test_only_references_to_skipped_resources_were_replaced(deployed):
    template, _, _, replaced, _ = deployed
    for reference in replaced:
        target = template.referenced_logical_id(json.loads(reference))
        assert template.resources[target]["Type"] in EMULATOR_SKIPS, reference


def test_the_deployed_functions_and_state_machine_are_the_synthesized_ones(deployed, emulator):
    template, _, stack, _, resources = deployed
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    lambdas = emulator.client("lambda", template.region)
    for logical_id, function in template.of_type("AWS::Lambda::Function").items():
        deployed_function = lambdas.get_function(
            FunctionName=resources[logical_id]["PhysicalResourceId"]
        )
        assert deployed_function["Configuration"]["Handler"] == function["Properties"]["Handler"]
    machine = emulator.client("stepfunctions", template.region).describe_state_machine(
        stateMachineArn=outputs["TrainingStateMachineArn"]
    )
    (definition,) = template.state_machine_definitions().values()
    assert set(json.loads(machine["definition"])["States"]) == set(definition["States"])
    assert outputs["PreflightInstanceType"] == "ml.g5.xlarge", outputs


def test_the_packaging_build_runs_against_the_deployed_bucket(deployed, emulator, tmp_path):
    template, workshop, stack, _, _ = deployed
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    bucket = outputs["BucketName"]
    (bucket_id,) = template.of_type("AWS::S3::Bucket")
    template.names[bucket_id] = bucket  # the build's BUCKET variable resolves to the deployed name
    raw_bucket, raw_prefix = outputs["RawImagesUri"].removeprefix("s3://").split("/", 1)
    assert raw_bucket == bucket
    s3 = emulator.client("s3", template.region)
    archive = flows.image_archive(tmp_path / "smoke.zip")
    s3.upload_file(str(archive), bucket, f"{raw_prefix}smoke.zip")
    completed = flows.run_build_command(
        workshop, flows.target_overrides(template, f"{raw_prefix}smoke.zip"), "deployed stack"
    )
    assert completed.returncode == 0, completed.stderr
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="manifest.json")["Body"].read())
    assert manifest["num_classes"] == 3 and manifest["source"]["key"] == f"{raw_prefix}smoke.zip"
    train_bucket, train_prefix = outputs["TrainChannelUri"].removeprefix("s3://").split("/", 1)
    assert manifest["train"]["key"].startswith(train_prefix) and train_bucket == bucket
