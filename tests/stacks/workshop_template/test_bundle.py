"""`make workshop-template`'s folder: a template with no CDK bootstrap whose every asset is read
from the AssetsBucketName/AssetsBucketPrefix parameters and lies in assets/ under that key, the
per-account parameters reaching the components, a contentspec Workshop Studio can use, and the
folder written whole, or not at all, and only over its own earlier output."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_s3_assets as s3_assets

from stacks.packaging_build.packaging_build import PACKAGING_DIR
from stacks.training.lambdas import RUNTIME_DIR
from stacks.workshop_template.bundle import MARKER, BundleError, write_bundle
from stacks.workshop_template.synthesizer import AssetParameterSynthesizer

from ..conftest import REPO, cdk_json_context, render, resources_of_type

ASSET_KEY = re.compile(r"^<AssetsBucketPrefix>([0-9a-f]{64}\.zip)$")


def s3_locations(template):
    """(bucket, key) of every S3 location the template reads code from, rendered."""
    found = []
    for function in resources_of_type(template, "AWS::Lambda::Function").values():
        code = render(function["Properties"]["Code"])
        if "S3Key" in code:
            found.append((code["S3Bucket"], code["S3Key"]))
    for project in resources_of_type(template, "AWS::CodeBuild::Project").values():
        bucket, key = render(project["Properties"]["Source"]["Location"]).split("/", 1)
        found.append((bucket, key))
    return found


def test_no_bootstrap_version_rule_parameter_bucket_or_role(workshop_bundle):
    text = workshop_bundle.template_path.read_text()
    template = workshop_bundle.template
    assert "Rules" not in template
    assert set(template["Parameters"]) == {
        "AssetsBucketName",
        "AssetsBucketPrefix",
        "InstanceTypes",
        "NotificationEmail",
        "RetainBucket",
    }
    for trace in ("BootstrapVersion", "cdk-bootstrap", "hnb659fds", "cdk-assets", "CDKMetadata"):
        assert trace not in text
    assert "Transform" not in template  # service-managed StackSets refuse transforms


def test_every_asset_comes_from_the_asset_parameters_and_is_in_the_folder(workshop_bundle):
    locations = s3_locations(workshop_bundle.template)
    assert len(locations) >= 5  # three training functions, two CDK handlers, the build source
    keys = set()
    for bucket, key in locations:
        assert bucket == "<AssetsBucketName>"
        found = ASSET_KEY.match(key)
        assert found, key
        keys.add(found[1])
    assert keys == {path.name for path in (workshop_bundle.folder / "assets").iterdir()}


def zip_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zipped:
        return set(zipped.namelist())


def tree(folder: Path, skip=("__pycache__", ".egg-info", ".pytest_cache")) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.endswith(skip) for part in p.relative_to(folder).parts)
        and not p.name.endswith(".pyc")
    }


def test_the_zips_hold_the_recpack_source_and_the_lambda_runtime(workshop_bundle):
    template = workshop_bundle.template
    assets = workshop_bundle.folder / "assets"
    (project,) = resources_of_type(template, "AWS::CodeBuild::Project").values()
    source_key = render(project["Properties"]["Source"]["Location"]).rsplit(">", 1)[1]
    assert zip_names(assets / source_key) == tree(PACKAGING_DIR) - {
        p for p in tree(PACKAGING_DIR) if p.startswith(("build/", "dist/"))
    }
    choose = next(
        f
        for k, f in resources_of_type(template, "AWS::Lambda::Function").items()
        if k.startswith("TrainingFunctionsChoose")
    )
    runtime_key = render(choose["Properties"]["Code"]["S3Key"]).rsplit(">", 1)[1]
    assert zip_names(assets / runtime_key) == tree(RUNTIME_DIR)
    assert "workshop_runtime/prepare.py" in zip_names(assets / runtime_key)


def test_zips_are_the_same_bytes_for_the_same_files(workshop_bundle, tmp_path):
    from stacks.workshop_template.bundle import _write_asset
    from stacks.workshop_template.synthesizer import FileAsset

    asset = FileAsset("a.zip", str(RUNTIME_DIR.name), zipped=True)
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir()
    second.mkdir()
    _write_asset(asset, RUNTIME_DIR.parent, first)
    os.utime(RUNTIME_DIR / "workshop_runtime" / "prepare.py")  # a newer mtime changes nothing
    _write_asset(asset, RUNTIME_DIR.parent, second)
    assert (first / "a.zip").read_bytes() == (second / "a.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO((first / "a.zip").read_bytes())) as zipped:
        modes = {info.external_attr >> 16 for info in zipped.infolist()}
    assert modes <= {0o100644, 0o100755}


def test_per_account_parameters_reach_the_components(workshop_bundle):
    template = workshop_bundle.template
    functions = resources_of_type(template, "AWS::Lambda::Function")
    choose = next(f for k, f in functions.items() if k.startswith("TrainingFunctionsChoose"))
    # A JSON list CloudFormation joins from the CommaDelimitedList parameter.
    assert choose["Properties"]["Environment"]["Variables"]["INSTANCE_TYPES"] == {
        "Fn::Join": ["", ['["', {"Fn::Join": ['","', {"Ref": "InstanceTypes"}]}, '"]']]
    }
    (preflight,) = resources_of_type(template, "Custom::GpuQuotaPreflight").values()
    assert preflight["Properties"]["InstanceTypes"] == {"Ref": "InstanceTypes"}
    assert template["Conditions"]["KeepBucket"] == {"Fn::Equals": [{"Ref": "RetainBucket"}, "true"]}
    (bucket,) = resources_of_type(template, "AWS::S3::Bucket").values()
    assert bucket["DeletionPolicy"] == "Retain"
    (removal,) = resources_of_type(template, "Custom::WorkshopBucketRemoval").values()
    assert removal["Properties"]["RetainBucket"] == {"Fn::If": ["KeepBucket", "true", "false"]}


def test_the_notification_email_makes_the_subscription_and_the_budget_only_when_given(tmp_path):
    """The topic and its publishers always exist; what needs an address exists only with one."""
    overrides = {
        "workshop.notificationEmails": '["instructor@example.com"]',
        "workshop.budgetMonthlyUsd": "50",
    }
    template = json.loads(
        write_bundle({**cdk_json_context(), **overrides}, tmp_path / "w").read_text()
    )
    assert template["Parameters"]["NotificationEmail"]["Default"] == "instructor@example.com"
    assert template["Conditions"]["NotificationEmailGiven"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "NotificationEmail"}, ""]}]
    }
    (subscription,) = resources_of_type(template, "AWS::SNS::Subscription").values()
    (budget,) = resources_of_type(template, "AWS::Budgets::Budget").values()
    for resource in (subscription, budget):
        assert resource["Condition"] == "NotificationEmailGiven"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "NotificationEmail"}
    alerts = budget["Properties"]["NotificationsWithSubscribers"]
    assert {json.dumps(a["Subscribers"]) for a in alerts} == {
        json.dumps([{"Address": {"Ref": "NotificationEmail"}, "SubscriptionType": "EMAIL"}])
    }
    unconditional = {"AWS::SNS::Topic", "AWS::KMS::Key", "AWS::Lambda::Function"}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in unconditional:
            assert "Condition" not in resource, logical_id


def test_the_template_refuses_two_notification_emails_in_one_line(tmp_path):
    completed = run_command(
        "--out",
        str(tmp_path / "w"),
        "-c",
        'workshop.notificationEmails=["a@example.com", "b@example.com"]',
    )
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr
    assert completed.stderr.startswith(
        "workshop-template: error: notificationEmails: the template takes one value per account"
    )
    assert not (tmp_path / "w").exists()


def test_every_setting_that_is_not_a_parameter_is_baked_in(workshop_bundle):
    text = workshop_bundle.template_path.read_text()
    assert "recpack pipeline" in text and "--train-ratio 0.75" in text
    assert '"JOB_NAME_PREFIX": "birds"' in text


def test_the_console_groups_the_parameters(workshop_bundle):
    groups = workshop_bundle.template["Metadata"]["AWS::CloudFormation::Interface"][
        "ParameterGroups"
    ]
    assert [g["Parameters"] for g in groups] == [
        ["AssetsBucketName", "AssetsBucketPrefix"],
        ["InstanceTypes", "NotificationEmail", "RetainBucket"],
    ]


def test_the_asset_parameters_take_what_workshop_studio_passes(workshop_bundle):
    parameters = workshop_bundle.template["Parameters"]
    bucket = re.compile(parameters["AssetsBucketName"]["AllowedPattern"])
    prefix = re.compile(parameters["AssetsBucketPrefix"]["AllowedPattern"])
    assert bucket.fullmatch("ws-assets-prod-iad-r-pdx-f3b3f9f1a7d6a3d0")
    assert not bucket.fullmatch("Not_A_Bucket")
    for accepted in ("", "abc123def456/", "7d1c9e2a/assets/"):
        assert prefix.fullmatch(accepted)
    for refused in ("assets", "/assets/", "a/b"):
        assert not prefix.fullmatch(refused)


def test_contentspec_lists_the_template_the_magic_values_and_the_outputs(workshop_bundle):
    spec = yaml.safe_load((workshop_bundle.folder / "contentspec.yaml").read_text())
    (entry,) = spec["infrastructure"]["cloudformationTemplates"]
    assert (workshop_bundle.folder / entry["templateLocation"]) == workshop_bundle.template_path
    parameters = {p["templateParameter"]: p for p in entry["parameters"]}
    assert parameters["AssetsBucketName"] == {
        "templateParameter": "AssetsBucketName",
        "defaultValue": "{{.AssetsBucketName}}",
    }
    assert parameters["AssetsBucketPrefix"]["defaultValue"] == "{{.AssetsBucketPrefix}}"
    template = workshop_bundle.template
    for name in ("InstanceTypes", "RetainBucket"):
        assert parameters[name]["defaultValue"] == template["Parameters"][name]["Default"]
        assert parameters[name]["userOverridable"] is True
    assert entry["participantVisibleStackOutputs"] == list(template["Outputs"])


def test_an_existing_folder_not_written_by_it_is_left_alone(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    with pytest.raises(BundleError, match="was not written by this command"):
        write_bundle(cdk_json_context(), out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_its_own_folder_is_replaced_whole(workshop_bundle, tmp_path):
    out = tmp_path / "workshop"
    out.mkdir()
    (out / MARKER).write_text("earlier run")
    (out / "assets").mkdir()
    (out / "assets" / "stale.zip").write_bytes(b"old")
    write_bundle(cdk_json_context(), out)
    assert sorted(p.name for p in (out / "assets").iterdir()) == sorted(
        p.name for p in (workshop_bundle.folder / "assets").iterdir()
    )
    assert [p.name for p in tmp_path.iterdir()] == ["workshop"]  # no staging left behind
    assert oct(out.stat().st_mode & 0o777) == "0o755"


def run_command(*arguments, cwd=REPO):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "stacks.workshop_template", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_invalid_setting_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "workshop"
    completed = run_command("--out", str(out), "-c", "workshop.packaging.quality=101")
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "workshop-template: invalid setting workshop.packaging.quality: 101 must be between 1 and 100"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-c", "novalue"], "-c novalue: expected KEY=VALUE"),
    ],
)
def test_usage_mistakes(tmp_path, arguments, message):
    completed = run_command("--out", str(tmp_path / "w"), *arguments)
    assert message in completed.stderr
    assert completed.returncode == (2 if "unrecognized" in message else 1)
    assert "Traceback" not in completed.stderr


def test_the_synthesizer_refuses_container_images_and_built_assets():
    stack = cdk.Stack(cdk.App(), "Test", synthesizer=AssetParameterSynthesizer())
    with pytest.raises(Exception, match="no container image assets"):
        stack.synthesizer.add_docker_image_asset(source_hash="abc", directory_name="x")
    with pytest.raises(Exception, match="file assets only"):
        stack.synthesizer.add_file_asset(source_hash="abc", executable=["make", "zip"])


def test_the_synthesizer_names_a_file_asset_by_its_hash_and_extension(tmp_path):
    (tmp_path / "notes.json").write_text("{}")
    stack = cdk.Stack(cdk.App(), "Test", synthesizer=AssetParameterSynthesizer())
    asset = s3_assets.Asset(stack, "One", path=str(tmp_path / "notes.json"))
    assert json.dumps(stack.resolve(asset.s3_object_key)).endswith('.json"]]}')
    (recorded,) = stack.synthesizer.assets.values()
    assert recorded.key.endswith(".json") and not recorded.zipped
