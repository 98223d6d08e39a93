"""`make workshop-template`'s output deployed as Workshop Studio would: its files uploaded to an
event asset bucket under a prefix (in the emulator), the stack created from there with the
parameters contentspec.yaml passes, then the packaging build run against the deployed bucket
(its buildspec, on the source zip fetched from the asset bucket, in a fresh virtualenv).

What the emulator does not do is done here, as in tests/fidelity/test_deploy_smoke.py: its
CloudFormation skips the CodeBuild project (references to it are replaced in its copy of the
template), custom resources are answered by the test (the quota preflight by running its handler
with the template's properties), and nothing reads the asset bucket from another account.
"""

from __future__ import annotations

import ast
import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from demo import flow
from demo.emulator import Emulator
from demo.fake_quotas import FakeServiceQuotas
from demo.template import Template as DemoTemplate
from stacks.config.context import cdk_json_context, with_overrides
from stacks.training.runtime.workshop_runtime import preflight
from stacks.workshop_template.bundle import bootstrap_traces, write_bundle
from tests.fidelity.cfn import Template
from tests.fidelity.deploy import EMULATOR_SKIPS, create_stack
from tests.fidelity.flows import image_archive

REGION = flow.REGION
ACCOUNT = flow.ACCOUNT  # moto's
ASSETS_BUCKET = "ws-event-assets-us-east-1-5f2c"
# What Workshop Studio passes as {{.AssetsBucketPrefix}}: the event's copy of the assets/ folder.
ASSETS_PREFIX = "7d1c9e2a-3b4f-4c5d-8e6f-0a1b2c3d4e5f/assets/"
TEMPLATE_PREFIX = "7d1c9e2a-3b4f-4c5d-8e6f-0a1b2c3d4e5f/"
# Settings that differ from cdk.json, so the defaults the template carries are the ones chosen.
OVERRIDES = [
    'workshop.training.instanceTypes=["ml.g5.xlarge", "ml.g4dn.xlarge"]',
    "workshop.stackName=BirdsClass",
    'workshop.notificationEmails=["instructor@example.com"]',
]
MAGIC = {"{{.AssetsBucketName}}": ASSETS_BUCKET, "{{.AssetsBucketPrefix}}": ASSETS_PREFIX}


def client(emulator: Emulator, service: str):
    return flow.Clients(emulator.endpoint).client(service)  # in flow.REGION


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "workshop"
    write_bundle(with_overrides(cdk_json_context(), OVERRIDES), out)
    return out


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    flow.set_fake_credentials()
    with Emulator(log_path=tmp_path_factory.mktemp("emulator") / "moto.log") as running:
        yield running


def workshop_studio_parameters(bundle: Path) -> tuple[str, dict[str, str]]:
    """The template location and parameters as contentspec.yaml tells Workshop Studio."""
    spec = yaml.safe_load((bundle / "contentspec.yaml").read_text())
    (entry,) = spec["infrastructure"]["cloudformationTemplates"]
    parameters = {
        p["templateParameter"]: MAGIC.get(p["defaultValue"], p["defaultValue"])
        for p in entry["parameters"]
    }
    return entry["templateLocation"], parameters


@pytest.fixture(scope="module")
def deployed(bundle, emulator, tmp_path_factory):
    s3 = client(emulator, "s3")
    s3.create_bucket(Bucket=ASSETS_BUCKET)
    for path in sorted((bundle / "assets").iterdir()):
        s3.upload_file(str(path), ASSETS_BUCKET, f"{ASSETS_PREFIX}{path.name}")
    location, parameters = workshop_studio_parameters(bundle)
    template_key = f"{TEMPLATE_PREFIX}{location}"
    s3.upload_file(str(bundle / location), ASSETS_BUCKET, template_key)

    template = Template.load(
        bundle / location, account=ACCOUNT, region=REGION, stack_name="BirdsClass"
    )
    for name, value in parameters.items():  # the test's resolver reads what was passed
        template.body["Parameters"][name]["Default"] = value

    def answers(logical_id, resource):
        if resource["Type"] != "Custom::GpuQuotaPreflight":
            return {}  # CDK's auto-delete and the bucket removal act only on stack deletion
        properties = flow_strings(template.resolve(resource["Properties"]))
        event = {"RequestType": "Create", "ResourceProperties": properties}
        return preflight.on_event(
            event,
            servicequotas=FakeServiceQuotas(),
            sagemaker=client(emulator, "sagemaker"),
            region=REGION,
        )

    stack, replaced = create_stack(
        lambda service: client(emulator, service),
        emulator.endpoint,
        template,
        f"https://s3.{REGION}.amazonaws.com/{ASSETS_BUCKET}/{template_key}",
        answers,
        parameters=parameters,
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return template, stack, replaced, outputs, parameters


def flow_strings(value):
    """CloudFormation hands a custom resource every scalar as a string."""
    if isinstance(value, dict):
        return {k: flow_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [flow_strings(v) for v in value]
    return value if isinstance(value, str) else json.dumps(value)


def test_the_stack_is_created_from_the_asset_bucket(deployed):
    _, stack, _, _, parameters = deployed
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    # The emulator shows a CommaDelimitedList as a Python list; AWS shows the text passed.
    passed["InstanceTypes"] = ",".join(ast.literal_eval(passed["InstanceTypes"]))
    assert passed == parameters


def test_workshop_studio_passes_the_asset_location_and_the_chosen_defaults(deployed):
    *_, parameters = deployed
    assert parameters == {
        "AssetsBucketName": ASSETS_BUCKET,
        "AssetsBucketPrefix": ASSETS_PREFIX,
        "InstanceTypes": "ml.g5.xlarge,ml.g4dn.xlarge",
        "NotificationEmail": "instructor@example.com",
        "RetainBucket": "false",
    }


def test_the_notification_email_parameter_reaches_the_subscription(deployed, emulator):
    """The emulator creates the topic but not subscriptions (EMULATOR_SKIPS): the one the template
    makes is checked as CloudFormation would resolve it with the parameters passed."""
    template, _, _, outputs, _ = deployed
    topics = [t["TopicArn"] for t in client(emulator, "sns").list_topics()["Topics"]]
    assert outputs["NotificationTopicArn"] in topics
    (subscription,) = template.of_type("AWS::SNS::Subscription")
    assert template.included(subscription)
    properties = template.resolve(template.resources[subscription]["Properties"])
    assert (properties["Protocol"], properties["Endpoint"]) == ("email", "instructor@example.com")
    template.body["Parameters"]["NotificationEmail"]["Default"] = ""  # what "none" passes
    try:
        assert not template.included(subscription)
    finally:
        template.body["Parameters"]["NotificationEmail"]["Default"] = "instructor@example.com"


def test_no_cdk_bootstrap_resource_or_reference(deployed, emulator, bundle):
    template, stack, _, _, _ = deployed
    cloudformation = client(emulator, "cloudformation")
    resources = cloudformation.list_stack_resources(StackName=stack["StackId"])[
        "StackResourceSummaries"
    ]
    assert not [r for r in resources if "SSM" in r["ResourceType"] or "CDK" in r["ResourceType"]]
    location, _ = workshop_studio_parameters(bundle)
    assert bootstrap_traces((bundle / location).read_text()) == []
    deployed_body = cloudformation.get_template(StackName=stack["StackId"])["TemplateBody"]
    assert bootstrap_traces(json.dumps(deployed_body)) == []
    assert "Rules" not in template.body
    # Nothing of CDK's bootstrap exists in the account: had the template read one, it would fail.
    buckets = [b["Name"] for b in client(emulator, "s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("cdk-")]
    assert client(emulator, "ssm").describe_parameters()["Parameters"] == []


def test_every_resource_is_created_or_a_type_the_emulator_skips(deployed, emulator):
    template, stack, replaced, _, _ = deployed
    summaries = client(emulator, "cloudformation").list_stack_resources(StackName=stack["StackId"])[
        "StackResourceSummaries"
    ]
    created = {
        r["LogicalResourceId"] for r in summaries if r["ResourceStatus"] == "CREATE_COMPLETE"
    }
    missing = {k: v["Type"] for k, v in template.resources.items() if k not in created}
    assert set(missing.values()) <= set(EMULATOR_SKIPS), missing
    for reference in replaced:
        target = template.referenced_logical_id(json.loads(reference))
        assert template.resources[target]["Type"] in EMULATOR_SKIPS, reference


def test_the_functions_run_the_code_uploaded_under_the_prefix(deployed, emulator):
    template, stack, _, _, _ = deployed
    lambdas = client(emulator, "lambda")
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in client(emulator, "cloudformation").list_stack_resources(
            StackName=stack["StackId"]
        )["StackResourceSummaries"]
    }
    s3 = client(emulator, "s3")
    checked = 0
    for logical_id, function in template.of_type("AWS::Lambda::Function").items():
        code = template.resolve(function["Properties"]["Code"])
        if "S3Key" not in code:
            continue  # inline code
        assert code["S3Bucket"] == ASSETS_BUCKET and code["S3Key"].startswith(ASSETS_PREFIX)
        uploaded = s3.get_object(Bucket=ASSETS_BUCKET, Key=code["S3Key"])["Body"].read()
        deployed_code = lambdas.get_function(FunctionName=resources[logical_id])["Configuration"]
        assert deployed_code["CodeSize"] == len(uploaded)
        checked += 1
    assert checked >= 4  # three training functions, the provider framework, CDK's auto-delete


def test_the_instance_types_parameter_reaches_choose_and_the_preflight(deployed, emulator):
    template, stack, _, outputs, _ = deployed
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in client(emulator, "cloudformation").list_stack_resources(
            StackName=stack["StackId"]
        )["StackResourceSummaries"]
    }
    (choose,) = [
        k
        for k in template.of_type("AWS::Lambda::Function")
        if k.startswith("TrainingFunctionsChoose")
    ]
    environment = client(emulator, "lambda").get_function_configuration(
        FunctionName=resources[choose]
    )["Environment"]["Variables"]
    assert json.loads(environment["INSTANCE_TYPES"]) == ["ml.g5.xlarge", "ml.g4dn.xlarge"]
    # The fake quotas give ml.g5.xlarge 1: the first type of the parameter, not of cdk.json.
    assert outputs["PreflightInstanceType"] == "ml.g5.xlarge"
    assert outputs["PreflightSummary"].splitlines()[0].startswith("ml.g5.xlarge: quota 1")


def test_the_packaging_build_runs_against_the_deployed_bucket(deployed, emulator, bundle, tmp_path):
    """Names from the stack outputs; the build's source from the asset bucket at the project's
    Source.Location, installed and run as the buildspec says."""
    template, _, _, outputs, parameters = deployed
    bucket = outputs["BucketName"]
    raw_bucket, raw_prefix = outputs["RawImagesUri"].removeprefix("s3://").split("/", 1)
    assert raw_bucket == bucket
    s3 = client(emulator, "s3")
    archive = image_archive(tmp_path / "birds.zip")
    key = f"{raw_prefix}birds.zip"
    s3.upload_file(str(archive), bucket, key)

    (project_id,) = template.of_type("AWS::CodeBuild::Project")
    location = template.resolve(template.resources[project_id]["Properties"]["Source"]["Location"])
    source_bucket, source_key = location.split("/", 1)
    assert source_bucket == ASSETS_BUCKET and source_key.startswith(ASSETS_PREFIX)
    source = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"].read()
    synth_dir = tmp_path / "from-asset-bucket"
    with zipfile.ZipFile(io.BytesIO(source)) as zipped:
        zipped.extractall(synth_dir / f"asset.{Path(source_key).stem}")

    (bucket_id,) = template.of_type("AWS::S3::Bucket")
    state = flow.DemoState(tmp_path / "build")
    state.work.mkdir()
    state.synth_dir = synth_dir
    state.template = DemoTemplate(
        bundle / workshop_studio_parameters(bundle)[0],
        {bucket_id: bucket, **parameters},
        region=REGION,
        account=ACCOUNT,
    )
    state.build_log = flow.run_packaging_build(
        state, flow.s3_object_created_event(bucket, key), emulator.environment(), say=lambda _: None
    )
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="manifest.json")["Body"].read())
    assert manifest["source"] == {"bucket": bucket, "key": key}
    assert manifest["num_classes"] == 3
    for channel, output in (("train", "TrainChannelUri"), ("validation", "ValidationChannelUri")):
        channel_bucket, prefix = outputs[output].removeprefix("s3://").split("/", 1)
        assert channel_bucket == bucket and manifest[channel]["key"].startswith(prefix)
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
        assert [o["Key"] for o in listed] == [manifest[channel]["key"]]
