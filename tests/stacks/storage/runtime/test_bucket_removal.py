"""The bucket removal handler (inline code of the workshop template's custom resource) against moto:
it deletes the emptied bucket on stack deletion unless RetainBucket is "true", does nothing on
create or update, and always answers CloudFormation, with the reason when it fails."""

from __future__ import annotations

import json
import types

import boto3
import pytest
from moto import mock_aws

from demo.emulator import FAKE_CREDENTIALS
from stacks.storage.runtime import bucket_removal

BUCKET = "birdsworkshop-storagebucket-abc123"


@pytest.fixture
def s3(monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def answers(monkeypatch):
    """What the handler PUTs to CloudFormation's response URL."""
    sent = []

    class Response:
        def close(self):
            pass

    def urlopen(request, timeout):
        sent.append((request.full_url, request.get_method(), json.loads(request.data)))
        return Response()

    monkeypatch.setattr(bucket_removal.urllib.request, "urlopen", urlopen)
    return sent


def event(request_type, retain, **extra):
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/answer",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/BirdsWorkshop/1",
        "RequestId": "request-1",
        "LogicalResourceId": "StorageRemoval",
        "ResourceType": "Custom::WorkshopBucketRemoval",
        "ResourceProperties": {"ServiceToken": "arn", "BucketName": BUCKET, "RetainBucket": retain},
        **extra,
    }


CONTEXT = types.SimpleNamespace(log_stream_name="2026/11/29/[$LATEST]abc")


def buckets(s3):
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_stack_deletion_removes_the_emptied_bucket_when_not_kept(s3, answers):
    bucket_removal.handler(event("Delete", "false", PhysicalResourceId="remove-x"), CONTEXT)
    assert BUCKET not in buckets(s3)
    ((url, method, body),) = answers
    assert (url, method) == (
        "https://cloudformation-custom-resource-response.example/answer",
        "PUT",
    )
    assert body["Status"] == "SUCCESS"
    assert (body["PhysicalResourceId"], body["LogicalResourceId"], body["RequestId"]) == (
        "remove-x",
        "StorageRemoval",
        "request-1",
    )


@pytest.mark.parametrize(
    "request_type, retain",
    [
        ("Delete", "true"),
        ("Create", "false"),
        ("Update", "false"),
        ("Delete", "False"),
        ("Delete", ""),
    ],
)
def test_anything_else_keeps_the_bucket(s3, answers, request_type, retain):
    bucket_removal.handler(event(request_type, retain), CONTEXT)
    assert BUCKET in buckets(s3)
    ((_, _, body),) = answers
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == f"remove-{BUCKET}"


def test_a_bucket_already_gone_is_fine(s3, answers):
    s3.delete_bucket(Bucket=BUCKET)
    bucket_removal.handler(event("Delete", "false"), CONTEXT)
    assert answers[0][2]["Status"] == "SUCCESS"


def test_a_bucket_still_holding_objects_fails_the_deletion_with_the_reason(s3, answers):
    s3.put_object(Bucket=BUCKET, Key="output/late-job/model.tar.gz", Body=b"x")
    bucket_removal.handler(event("Delete", "false"), CONTEXT)
    assert BUCKET in buckets(s3)
    ((_, _, body),) = answers
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("ClientError: ") and "BucketNotEmpty" in body["Reason"]
    assert CONTEXT.log_stream_name in body["Reason"]


def test_the_handler_uses_only_what_the_lambda_runtime_has():
    source = bucket_removal.__file__
    imported = {
        line.split()[1].split(".")[0]
        for line in open(source).read().splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported == {"json", "urllib", "boto3"}
