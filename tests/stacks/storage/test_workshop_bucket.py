"""WorkshopBucket on a bare stack: private, encrypted, TLS-only, versioned, EventBridge on, emptied on
destroy, and grants scoped to one prefix at a time with their wildcards acknowledged."""

from __future__ import annotations

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from stacks.storage import WorkshopBucket
from stacks.storage.workshop_bucket import PUT, READ, REPLACE

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
