"""PackagingBuild on a bare stack: buildspec, trigger rule (checked with moto's EventBridge matcher),
the build's own permissions and its cdk-nag acknowledgments. Its bucket permissions are granted by
the stack (tests/stacks/test_app.py)."""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from stacks.packaging_build import Layout, PackagingBuild, PipelineOptions, build_command

from ..conftest import bare_stack, has_statement, open_findings, render, resources_of_type

BUCKET = "workshop-bucket"
ASSET_KEY = re.compile(r"cdk-hnb659fds-assets-.*/[0-9a-f]{64}\.zip")
LAYOUT = Layout(
    raw_prefix="raw/",
    train_prefix="train/",
    validation_prefix="validation/",
    manifest_key="manifest.json",
)
OPTIONS = PipelineOptions(train_ratio=0.75, resize=256, quality=95)


@pytest.fixture(scope="module")
def built():
    stack = bare_stack()
    build = PackagingBuild(
        stack,
        "PackagingBuild",
        bucket_name=BUCKET,
        layout=LAYOUT,
        options=OPTIONS,
        timeout=cdk.Duration.minutes(45),
        log_retention_days=14,
    )
    return stack, build, Template.from_stack(stack)


@pytest.fixture(scope="module")
def template(built):
    return built[2]


@pytest.fixture(scope="module")
def project(template):
    (project,) = resources_of_type(template.to_json(), "AWS::CodeBuild::Project").values()
    return project["Properties"]


@pytest.fixture(scope="module")
def rule(template):
    (rule,) = resources_of_type(template.to_json(), "AWS::Events::Rule").values()
    return rule["Properties"]


def test_project_builds_from_the_packaging_asset_one_build_at_a_time(template, project):
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Source": Match.object_like({"Type": "S3"}),
            "Environment": Match.object_like(
                {
                    "Image": "aws/codebuild/standard:7.0",
                    "PrivilegedMode": False,
                    "EnvironmentVariables": [
                        {"Name": "BUCKET", "Type": "PLAINTEXT", "Value": BUCKET}
                    ],
                }
            ),
            "ConcurrentBuildLimit": 1,
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "TimeoutInMinutes": 45,
        },
    )
    location = render(project["Source"]["Location"])
    assert location.endswith(".zip") and "cdk-hnb659fds-assets" in location


def test_build_logs_keep_the_retention_given(template):
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 14})
    template.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Delete"})


def test_buildspec_installs_recpack_pinned_and_runs_one_pipeline_command(project):
    buildspec = json.loads(project["Source"]["BuildSpec"])
    install = buildspec["phases"]["install"]
    assert install["runtime-versions"] == {"python": "3.12"}
    assert install["commands"] == ["pip install --no-cache-dir -c constraints.txt ."]
    assert buildspec["phases"]["build"]["commands"] == [
        'recpack pipeline --bucket "$BUCKET" --train-prefix train/ --validation-prefix validation/ '
        '--manifest-key manifest.json --source-key "$SOURCE_KEY" --raw-prefix raw/ '
        "--train-ratio 0.75 --resize 256 --quality 95"
    ]


def test_class_subset_and_odd_prefixes_are_quoted_for_the_shell():
    layout = Layout(
        raw_prefix="raw files/",
        train_prefix="train/",
        validation_prefix="validation/",
        manifest_key="manifest.json",
    )
    options = PipelineOptions(
        train_ratio=0.8, resize=300, quality=90, classes=("0752", "Purple Martin")
    )
    command = build_command(layout, options)
    assert "--raw-prefix 'raw files/'" in command
    assert command.endswith(
        "--train-ratio 0.8 --resize 300 --quality 90 --classes 0752 --classes 'Purple Martin'"
    )


def test_a_value_recpack_refuses_fails_the_synth():
    # The buildspec is rendered through recpack's own option types: its rules are not copied here.
    with pytest.raises(ValueError, match="--quality"):
        build_command(LAYOUT, PipelineOptions(train_ratio=0.75, resize=256, quality=0))


def s3_event(key: str, bucket: str = BUCKET, detail_type: str = "Object Created") -> dict:
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": detail_type,
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
    }


@pytest.fixture(scope="module")
def pattern(rule):
    return EventPattern.load(json.dumps(rule["EventPattern"]))


@pytest.mark.parametrize(
    "key",
    ["raw/birds.zip", "raw/birds.tar", "raw/birds.tar.gz", "raw/birds.tgz", "raw/2026/nabirds.zip"],
)
def test_rule_starts_the_build_for_archives_under_raw(pattern, key):
    assert pattern.matches_event(s3_event(key))


@pytest.mark.parametrize(
    "key",
    [
        # The build's own outputs: a match here would loop.
        "train/nabirds_sample_train.rec",
        "validation/nabirds_sample_val.rec",
        "manifest.json",
        "output/job/report.json",
        # Not an archive recpack can read, or outside raw/.
        "raw/readme.txt",
        "raw/images/0752/a.jpg",
        "birds.zip",
        "train/birds.zip",
    ],
)
def test_rule_ignores_build_outputs_and_other_keys(pattern, key):
    assert not pattern.matches_event(s3_event(key))


def test_rule_ignores_other_buckets_and_deletions(pattern):
    assert not pattern.matches_event(s3_event("raw/birds.zip", bucket="someone-else"))
    assert not pattern.matches_event(s3_event("raw/birds.zip", detail_type="Object Deleted"))


def test_rule_passes_the_uploaded_key_to_the_build(rule):
    (target,) = rule["Targets"]
    assert render(target["Arn"]) == "<PackagingBuildProject589A4C3B.Arn>"
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail-object-key": "$.detail.object.key"}
    rendered = transformer["InputTemplate"].replace(
        "<detail-object-key>", json.dumps("raw/birds.zip")
    )
    assert json.loads(rendered) == {
        "environmentVariablesOverride": [
            {"name": "SOURCE_KEY", "type": "PLAINTEXT", "value": "raw/birds.zip"}
        ]
    }
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400


def test_build_reads_its_source_asset_with_named_actions_only(template):
    source_bucket = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    has_statement(
        template,
        "PackagingBuildBucketAccess",
        {
            "Sid": "FetchRecpackSource",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", source_bucket, Match.any_value()],
                ]
            },
        },
    )
    has_statement(
        template,
        "PackagingBuildBucketAccess",
        {
            "Sid": "LocateSourceBucket",
            "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation"],
            "Resource": {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", source_bucket]]
            },
        },
    )
    # CDK's Source.s3 grant (s3:GetObject*, s3:GetBucket*, s3:List*) is not in the template.
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not [a for a in actions if a.startswith("s3:") and "*" in a], statement


def test_source_location_names_the_asset_object(project):
    assert ASSET_KEY.search(json.dumps(render(project["Source"]["Location"])))


def test_the_build_acknowledges_its_own_findings(built):
    stack, build, _ = built
    assert open_findings(build) == []
    assert open_findings(stack) == []
