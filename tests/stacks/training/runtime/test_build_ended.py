"""When a packaging build ends: the message (manifest counts or the failing line) and, with
startAfterPackaging, exactly one training run per successful build (moto: S3, Logs, SNS, Step
Functions)."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from stacks.training.runtime.workshop_runtime import build_ended as build_ended_module
from stacks.training.runtime.workshop_runtime.build_ended import (
    InvalidEventError,
    execution_name,
    on_build_ended,
)

BUCKET = "workshop-bucket"
# CloudWatch Logs refuses events older than 14 days.
NOW_MS = int(time.time() * 1000)
BUILD = "arn:aws:codebuild:us-east-1:123456789012:build/PackagingProject:7c1f2a3b-1111-2222-3333-444455556666"
MANIFEST = {
    "schema": 1,
    "num_training_samples": 270,
    "num_validation_samples": 90,
    "num_classes": 4,
    "labels": [
        {"label": 0, "class_id": "0752", "name": "Purple Martin", "train": 68, "val": 22},
        {"label": 1, "class_id": "0772", "name": "Northern Cardinal", "train": 67, "val": 23},
    ],
    "source": {"bucket": BUCKET, "key": "raw/birds.zip"},
    "created": "2026-11-21T12:00:00Z",
}


def event(status, phases=None):
    return {
        "detail-type": "CodeBuild Build State Change",
        "source": "aws.codebuild",
        "detail": {
            "build-status": status,
            "project-name": "PackagingProject",
            "build-id": BUILD,
            "additional-information": {
                "logs": {"group-name": "/workshop/build", "stream-name": "7c1f2a3b"},
                "phases": phases or [],
            },
        },
    }


@pytest.fixture
def world(aws):
    s3, logs, sns, sqs = (boto3.client(n) for n in ("s3", "logs", "sns", "sqs"))
    stepfunctions = boto3.client("stepfunctions")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="manifest.json", Body=json.dumps(MANIFEST).encode())
    topic = sns.create_topic(Name="workshop")["TopicArn"]
    queue = sqs.create_queue(QueueName="mailbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    machine = stepfunctions.create_state_machine(
        name="training",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    clients = {"s3": s3, "logs": logs, "sns": sns, "stepfunctions": stepfunctions}

    def mails():
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    environment = {"BUCKET": BUCKET, "MANIFEST_KEY": "manifest.json", "TOPIC_ARN": topic}
    return clients, environment, machine, mails


def test_a_successful_build_is_summed_up_from_the_manifest(world):
    clients, environment, _, mails = world
    result = on_build_ended(event("SUCCEEDED"), environment, **clients)
    assert result["trainingExecution"] is None
    (mail,) = mails()
    assert mail["Subject"] == (
        "Packaging build succeeded: 270 training / 90 validation records, 4 classes"
    )
    assert "  0  0752  Purple Martin: 68 / 22" in mail["Message"]
    assert "num_training_samples 270, num_validation_samples 90, num_classes 4" in mail["Message"]


def test_a_successful_build_starts_one_run_even_when_the_event_comes_twice(world):
    clients, environment, machine, mails = world
    environment = {**environment, "STATE_MACHINE_ARN": machine}
    first = on_build_ended(event("SUCCEEDED"), environment, **clients)
    again = on_build_ended(event("SUCCEEDED"), environment, **clients)
    name = "after-build-7c1f2a3b-1111-2222-3333-444455556666"
    assert first["trainingExecution"].endswith(f":execution:training:{name}")
    assert again["trainingExecution"] == first["trainingExecution"]
    executions = clients["stepfunctions"].list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [name]
    assert f"Training run started: {first['trainingExecution']}" in mails()[0]["Message"]


def test_a_failed_build_quotes_its_failing_line_and_starts_nothing(world):
    clients, environment, machine, mails = world
    logs = clients["logs"]
    logs.create_log_group(logGroupName="/workshop/build")
    logs.create_log_stream(logGroupName="/workshop/build", logStreamName="7c1f2a3b")
    lines = [
        "[Container] 2026/11/21 12:00:01 Running command recpack pipeline --bucket b",
        "recpack: error: images/0752: no images found",
        "[Container] 2026/11/21 12:00:09 Command did not exit successfully recpack pipeline exit status 1",
        "[Container] 2026/11/21 12:00:09 Phase complete: BUILD State: FAILED",
    ]
    logs.put_log_events(
        logGroupName="/workshop/build",
        logStreamName="7c1f2a3b",
        logEvents=[{"timestamp": NOW_MS + i, "message": line} for i, line in enumerate(lines)],
    )
    phases = [
        {"phase-type": "INSTALL", "phase-status": "SUCCEEDED"},
        {
            "phase-type": "BUILD",
            "phase-status": "FAILED",
            "phase-context": ["COMMAND_EXECUTION_ERROR: exit status 1"],
        },
    ]
    environment = {**environment, "STATE_MACHINE_ARN": machine}
    result = on_build_ended(event("FAILED", phases), environment, **clients)
    assert result["trainingExecution"] is None
    (mail,) = mails()
    assert mail["Subject"] == "Packaging build FAILED: recpack: error: images/0752: no images found"
    assert "in phase BUILD (FAILED: COMMAND_EXECUTION_ERROR: exit status 1)" in mail["Message"]
    assert "No training run was started." in mail["Message"]
    assert clients["stepfunctions"].list_executions(stateMachineArn=machine)["executions"] == []


def test_without_recpack_error_the_last_line_of_the_build_is_quoted(world):
    clients, environment, _, mails = world
    logs = clients["logs"]
    logs.create_log_group(logGroupName="/workshop/build")
    logs.create_log_stream(logGroupName="/workshop/build", logStreamName="7c1f2a3b")
    logs.put_log_events(
        logGroupName="/workshop/build",
        logStreamName="7c1f2a3b",
        logEvents=[
            {
                "timestamp": NOW_MS,
                "message": "ERROR: Could not find a version that satisfies pillow==13.0.0",
            },
            {
                "timestamp": NOW_MS + 1,
                "message": "[Container] Phase complete: INSTALL State: FAILED",
            },
        ],
    )
    on_build_ended(event("FAILED"), environment, **clients)
    assert mails()[0]["Subject"].startswith(
        "Packaging build FAILED: ERROR: Could not find a version"
    )


def test_a_build_without_log_stream_still_reports(world):
    clients, environment, _, mails = world
    timed_out = event("TIMED_OUT")
    timed_out["detail"]["additional-information"] = {}
    on_build_ended(timed_out, environment, **clients)
    assert mails()[0]["Subject"] == "Packaging build TIMED_OUT: (the build has no log stream)"


def test_only_starting_training_publishes_nothing(world):
    clients, environment, machine, mails = world
    environment = {k: v for k, v in environment.items() if k != "TOPIC_ARN"}
    result = on_build_ended(
        event("SUCCEEDED"), {**environment, "STATE_MACHINE_ARN": machine}, **clients
    )
    assert result["messageId"] is None and result["trainingExecution"]
    assert mails() == []


def test_not_a_build_event_is_refused(world):
    clients, environment, _, _ = world
    with pytest.raises(InvalidEventError):
        on_build_ended({"detail": {}}, environment, **clients)


def test_execution_names_are_valid_step_functions_names():
    assert execution_name(BUILD) == "after-build-7c1f2a3b-1111-2222-3333-444455556666"
    assert execution_name("project:with spaces/and:colons") == "after-build-colons"


def test_handler_wires_the_clients(world, monkeypatch):
    _, environment, _, mails = world
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    build_ended_module.handler(event("SUCCEEDED"), None)
    assert len(mails()) == 1
