"""The workshop bucket: private, encrypted, TLS-only, versioned, EventBridge on, emptied on destroy."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Template

from stacks.config import load_settings
from stacks.storage import WorkshopBucket

from .conftest import cdk_json_context, render, resources_of_type


def only_bucket(template):
    (bucket,) = resources_of_type(template, "AWS::S3::Bucket").values()
    return bucket


def test_bucket_blocks_public_access_and_encrypts(template):
    properties = only_bucket(template)["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }


def test_bucket_is_versioned_expires_old_versions_and_aborts_uploads(template):
    properties = only_bucket(template)["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_bucket_sends_events_to_eventbridge(template):
    Template.from_json(template).has_resource_properties(
        "Custom::S3BucketNotifications",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {}}},
    )


def test_bucket_policy_denies_requests_without_tls(template):
    (policy,) = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
    deny_insecure = [s for s in statements if s["Effect"] == "Deny"]
    assert deny_insecure == [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": ["<StorageBucket5CB7C8EA.Arn>", "<StorageBucket5CB7C8EA.Arn>/*"],
        }
    ]


def test_destroy_deletes_bucket_and_objects_by_default(template):
    bucket = only_bucket(template)
    assert bucket["DeletionPolicy"] == "Delete"
    Template.from_json(template).resource_count_is("Custom::S3AutoDeleteObjects", 1)


def test_retain_bucket_setting_keeps_bucket_and_objects():
    # Only the bucket construct: a whole-app synth is not needed to see the removal policy.
    settings = load_settings({**cdk_json_context(), "workshop.retainBucket": "true"})
    stack = cdk.Stack(cdk.App())
    WorkshopBucket(stack, "Storage", settings=settings)
    retained = Template.from_stack(stack)
    retained.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    retained.resource_count_is("Custom::S3AutoDeleteObjects", 0)
