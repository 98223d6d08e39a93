"""The packaging build: buildspec, trigger rule (checked with moto's EventBridge matcher) and IAM."""

from __future__ import annotations

import json
import re

import pytest
from moto.events.models import EventPattern

from .conftest import as_list, policy_statements, render, resources_of_type, statement_by_sid

BUCKET = "workshop-bucket"
ASSET_KEY = re.compile(r"cdk-hnb659fds-assets-.*/[0-9a-f]{64}\.zip")


@pytest.fixture(scope="module")
def project(template):
    (project,) = resources_of_type(template, "AWS::CodeBuild::Project").values()
    return project["Properties"]


@pytest.fixture(scope="module")
def buildspec(project):
    return json.loads(project["Source"]["BuildSpec"])


@pytest.fixture(scope="module")
def rule(template):
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    return rule["Properties"]


def test_project_builds_from_the_packaging_asset_one_build_at_a_time(project):
    assert project["Source"]["Type"] == "S3"
    location = render(project["Source"]["Location"])
    assert location.endswith(".zip") and "cdk-hnb659fds-assets" in location
    assert project["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    assert project["Environment"]["PrivilegedMode"] is False
    assert project["ConcurrentBuildLimit"] == 1
    assert project["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert render(project["Environment"]["EnvironmentVariables"]) == [
        {"Name": "BUCKET", "Type": "PLAINTEXT", "Value": "<StorageBucket5CB7C8EA>"}
    ]


def test_buildspec_installs_recpack_pinned_and_runs_one_pipeline_command(buildspec):
    install = buildspec["phases"]["install"]
    assert install["runtime-versions"] == {"python": "3.12"}
    assert install["commands"] == ["pip install --no-cache-dir -c constraints.txt ."]
    assert buildspec["phases"]["build"]["commands"] == [
        'recpack pipeline --bucket "$BUCKET" --source-key "$SOURCE_KEY" --raw-prefix raw/ '
        "--train-prefix train/ --validation-prefix validation/ --manifest-key manifest.json "
        "--train-ratio 0.75 --resize 256 --quality 95"
    ]


def test_class_subset_is_passed_only_when_set():
    from stacks.config import load_settings
    from stacks.packaging_build import build_command

    from .conftest import cdk_json_context

    settings = load_settings(
        {**cdk_json_context(), "workshop.packaging.classes": '["0752", "Purple Martin"]'}
    )
    assert build_command(settings).endswith("--quality 95 --classes '0752,Purple Martin'")


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
    concrete = json.dumps(rule["EventPattern"]).replace(
        '{"Ref": "StorageBucket5CB7C8EA"}', json.dumps(BUCKET)
    )
    return EventPattern.load(concrete)


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


def test_build_role_reads_raw_and_replaces_only_the_channels(template):
    statements = policy_statements(template, "PackagingBuildBucketAccess")
    bucket = "<StorageBucket5CB7C8EA.Arn>"
    assert statement_by_sid(statements, "ReadRawArchives")["Resource"] == f"{bucket}/raw/*"
    replace = statement_by_sid(statements, "ReplaceChannels")
    assert replace["Resource"] == [f"{bucket}/train/*", f"{bucket}/validation/*"]
    assert sorted(replace["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert statement_by_sid(statements, "WriteManifest")["Resource"] == f"{bucket}/manifest.json"
    listing = statement_by_sid(statements, "ListRawAndChannels")
    assert listing["Resource"] == bucket
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        "raw/",
        "raw/*",
        "train/",
        "train/*",
        "validation/",
        "validation/*",
    ]
    # Nothing may write under raw/: a write there would start the build again.
    for statement in statements:
        if {"s3:PutObject", "s3:DeleteObject"} & set(as_list(statement["Action"])):
            assert not any("/raw/" in resource for resource in as_list(statement["Resource"]))


def test_build_reads_its_source_asset_with_named_actions_only(template):
    statements = policy_statements(template, "PackagingBuildBucketAccess")
    fetch = statement_by_sid(statements, "FetchRecpackSource")
    assert sorted(fetch["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert ASSET_KEY.search(json.dumps(fetch["Resource"]))
    assert sorted(statement_by_sid(statements, "LocateSourceBucket")["Action"]) == [
        "s3:GetBucketAcl",
        "s3:GetBucketLocation",
    ]
    # CDK's Source.s3 grant (s3:GetObject*, s3:GetBucket*, s3:List*) is not in the template.
    default_policy = policy_statements(template, "PackagingBuildProjectRoleDefaultPolicy")
    assert not [s for s in default_policy if any(a.startswith("s3:") for a in as_list(s["Action"]))]
