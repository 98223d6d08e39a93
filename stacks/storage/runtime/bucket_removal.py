"""Deletes the emptied workshop bucket when its stack is deleted, unless RetainBucket is "true".

A custom resource of the workshop template, deployed as inline code (standard library and boto3
only). The template keeps the bucket out of CloudFormation's own deletion (DeletionPolicy Retain,
because a plain template cannot choose DeletionPolicy by parameter); CDK's auto-delete handler
empties the bucket just before this runs, and only while the bucket is not kept.
"""

import json
import urllib.request

import boto3


def handler(event, context):
    status, reason = "SUCCESS", ""
    try:
        remove_unless_retained(event, boto3.client("s3"))
    except Exception as error:  # CloudFormation must hear back, or the stack waits an hour
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    answer(event, context, status, reason)


def remove_unless_retained(event, s3):
    """Delete the bucket on stack deletion when RetainBucket is exactly "false"."""
    properties = event.get("ResourceProperties", {})
    if event.get("RequestType") != "Delete" or properties.get("RetainBucket") != "false":
        return
    try:
        s3.delete_bucket(Bucket=properties["BucketName"])
    except s3.exceptions.NoSuchBucket:
        pass  # already gone: deleting the stack again must not fail


def answer(event, context, status, reason):
    body = {
        "Status": status,
        "Reason": f"{reason} (log stream {getattr(context, 'log_stream_name', '?')})",
        "PhysicalResourceId": event.get("PhysicalResourceId")
        or "remove-" + event.get("ResourceProperties", {}).get("BucketName", "bucket"),
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    request = urllib.request.Request(
        event["ResponseURL"],
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": ""},
    )
    urllib.request.urlopen(request, timeout=30).close()
