"""WorkshopBucket on a bare stack: private, encrypted, TLS-only, versioned, EventBridge on, emptied on
destroy, and grants scoped to one prefix at a time with their wildcards acknowledged."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from stacks.storage import WorkshopBucket
from stacks.storage.workshop_bucket import (
    AUTO_DELETE_TAG,
    PUT,
    READ,
    REMOVAL_HANDLER,
    REPLACE,
    RetainChosenAtDeploy,
)

from ..conftest import acknowledgments, bare_stack, has_statement, open_findings


def bucket_in_stack(retain: bool = False):
    stack = bare_stack()
    storage = WorkshopBucket(
        stack,
        "Storage",
        retain=retain,
        noncurrent_version_expiration_days=12,
        abort_incomplete_multipart_upload_days=3,
    )
    return stack, storage


@pytest.fixture(scope="module")
def template():
    stack, _ = bucket_in_stack()
    return Template.from_stack(stack)


def test_bucket_blocks_public_access_encrypts_and_enforces_ownership(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


def test_bucket_is_versioned_and_expires_what_the_properties_say(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like(
                        {
                            "Status": "Enabled",
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 12},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
                            "ExpiredObjectDeleteMarker": True,
                        }
                    )
                ]
            },
        },
    )


def test_bucket_sends_events_to_eventbridge(template):
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {}}},
    )


def test_bucket_policy_denies_requests_without_tls(template):
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Principal": {"AWS": "*"},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_destroy_deletes_the_bucket_and_its_objects_by_default(template):
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 1)


def test_retain_keeps_the_bucket_and_its_objects():
    stack, _ = bucket_in_stack(retain=True)
    retained = Template.from_stack(stack)
    retained.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    retained.resource_count_is("Custom::S3AutoDeleteObjects", 0)


@pytest.fixture(scope="module")
def granted():
    """A role and a policy given every kind of grant, as the stack gives them to its components."""
    stack, storage = bucket_in_stack()
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    policy = iam.Policy(stack, "Writer")
    role.attach_inline_policy(policy)
    storage.grant_list(policy, ["in/", "out/"], sid="List")
    storage.grant_locate(policy, sid="Locate")
    storage.grant_objects(
        policy, REPLACE, ["out/"], sid="Replace", reason="replaces the files under {prefix} " * 4
    )
    storage.grant_objects(
        role, READ, ["in/"], sid="Read", reason="reads what lands in {prefix} " * 4
    )
    storage.grant_object(role, READ + PUT, "manifest.json", sid="Manifest")
    return stack, Template.from_stack(stack)


BUCKET_ARN = {"Fn::GetAtt": [Match.string_like_regexp("StorageBucket"), "Arn"]}


def objects(pattern: str) -> dict:
    return {"Fn::Join": ["", [BUCKET_ARN, f"/{pattern}"]]}


def test_listing_is_granted_only_under_the_named_prefixes(granted):
    _, template = granted
    has_statement(
        template,
        "Writer",
        {
            "Sid": "List",
            "Action": "s3:ListBucket",
            "Resource": BUCKET_ARN,
            "Condition": {"StringLike": {"s3:prefix": ["in/", "in/*", "out/", "out/*"]}},
        },
    )
    has_statement(
        template,
        "Writer",
        {"Sid": "Locate", "Action": "s3:GetBucketLocation", "Resource": BUCKET_ARN},
    )


def test_object_grants_cover_one_prefix_or_one_key(granted):
    _, template = granted
    has_statement(
        template,
        "Writer",
        {"Sid": "Replace", "Action": list(REPLACE), "Resource": objects("out/*")},
    )
    has_statement(
        template,
        "ReaderDefault",
        {"Sid": "Read", "Action": "s3:GetObject", "Resource": objects("in/*")},
    )
    has_statement(
        template,
        "ReaderDefault",
        {
            "Sid": "Manifest",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": objects("manifest.json"),
        },
    )


def test_each_prefix_wildcard_is_acknowledged_on_the_policy_that_holds_it(granted):
    stack, _ = granted
    assert open_findings(stack) == []
    found = {(path, rule): reason for path, rule, reason in acknowledgments(stack)}
    bucket_arn = "<StorageBucket5CB7C8EA.Arn>"
    assert found[("Test/Writer", f"AwsSolutions-IAM5[Resource::{bucket_arn}/out/*]")].startswith(
        "replaces the files under out/"
    )
    assert found[
        ("Test/Reader/DefaultPolicy", f"AwsSolutions-IAM5[Resource::{bucket_arn}/in/*]")
    ].startswith("reads what lands in in/")
    assert ("Test/Storage/Bucket", "AwsSolutions-S1") in found


@pytest.fixture(scope="module")
def chosen_at_deploy():
    """Retention decided by a template parameter (the workshop template)."""
    stack = bare_stack()
    retain = cdk.CfnParameter(stack, "RetainBucket", allowed_values=["true", "false"])
    kept = cdk.CfnCondition(
        stack, "KeepBucket", expression=cdk.Fn.condition_equals(retain.value_as_string, "true")
    )
    WorkshopBucket(
        stack,
        "Storage",
        retain=RetainChosenAtDeploy(kept, 7),
        noncurrent_version_expiration_days=12,
        abort_incomplete_multipart_upload_days=3,
    )
    return stack, Template.from_stack(stack)


def test_chosen_at_deploy_cloudformation_never_deletes_the_bucket_itself(chosen_at_deploy):
    _, template = chosen_at_deploy
    template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    assert "Transform" not in template.to_json()  # no AWS::LanguageExtensions


def test_chosen_at_deploy_cdk_empties_the_bucket_only_when_not_kept(chosen_at_deploy):
    _, template = chosen_at_deploy
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "Tags": [
                {
                    "Key": AUTO_DELETE_TAG,
                    "Value": {"Fn::If": ["KeepBucket", "false", "true"]},
                }
            ]
        },
    )
    template.resource_count_is("Custom::S3AutoDeleteObjects", 1)


def test_chosen_at_deploy_the_emptied_bucket_is_removed_after_cdk_empties_it(chosen_at_deploy):
    _, template = chosen_at_deploy
    (removal_id,) = template.find_resources("Custom::WorkshopBucketRemoval")
    removal = template.find_resources("Custom::WorkshopBucketRemoval")[removal_id]
    assert removal["Properties"]["RetainBucket"] == {"Fn::If": ["KeepBucket", "true", "false"]}
    (bucket_id,) = template.find_resources("AWS::S3::Bucket")
    assert removal["Properties"]["BucketName"] == {"Ref": bucket_id}
    # Deletion runs in reverse dependency order: auto-delete, then the bucket policy, then this.
    (auto_delete,) = template.find_resources("Custom::S3AutoDeleteObjects").values()
    (policy_id,) = template.find_resources("AWS::S3::BucketPolicy")
    assert removal_id in auto_delete["DependsOn"] and policy_id in auto_delete["DependsOn"]
    (policy,) = template.find_resources("AWS::S3::BucketPolicy").values()
    assert removal_id in policy["DependsOn"]


def test_chosen_at_deploy_the_removal_may_only_delete_this_bucket(chosen_at_deploy):
    stack, template = chosen_at_deploy
    removal_role = next(
        k for k in template.find_resources("AWS::IAM::Role") if k.startswith("StorageRemovalRole")
    )
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": removal_role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    deletes = [s for s in statements if s.get("Sid") == "DeleteEmptiedBucket"]
    (bucket_id,) = template.find_resources("AWS::S3::Bucket")
    assert deletes == [
        {
            "Sid": "DeleteEmptiedBucket",
            "Effect": "Allow",
            "Action": "s3:DeleteBucket",
            "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]},
        }
    ]
    assert {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    } == {
        "s3:DeleteBucket",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert open_findings(stack) == []


def test_chosen_at_deploy_the_handler_is_inline_and_fits(chosen_at_deploy):
    _, template = chosen_at_deploy
    (function,) = [
        f
        for k, f in template.find_resources("AWS::Lambda::Function").items()
        if k.startswith("StorageRemovalFunction")
    ]
    code = function["Properties"]["Code"]["ZipFile"]
    assert code == REMOVAL_HANDLER.read_text()
    assert len(code) <= 4096  # CloudFormation's inline (ZipFile) limit
    assert function["Properties"]["Handler"] == "index.handler"
