"""The emailed message at the end of a training run, published to a topic in moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest

from stacks.training.runtime.workshop_runtime import notify as notify_module
from stacks.training.runtime.workshop_runtime.messages import duration, subject_line
from stacks.training.runtime.workshop_runtime.notify import (
    ConfigurationError,
    InvalidInputError,
    notify,
)

NOW = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
JOB = "birds-20261121-120000-ab12"
ATTEMPTS = [
    {
        "attempt": 1,
        "trainingJobName": JOB,
        "instanceType": "ml.g4dn.xlarge",
        "spot": True,
        "outcome": "CapacityError",
        "reason": "CapacityError: Unable to provision requested ML compute capacity.",
    },
    {
        "attempt": 2,
        "trainingJobName": f"{JOB}-2",
        "instanceType": "ml.g4dn.xlarge",
        "spot": False,
        "outcome": "Completed",
        "reason": None,
    },
]
REPORT = {
    "trainingJobName": f"{JOB}-2",
    "status": "Completed",
    "instanceType": "ml.g4dn.xlarge",
    "instanceCount": 1,
    "spot": False,
    "billableSeconds": 1040,
    "trainingSeconds": 1040,
    "spotSavingsPercent": None,
    "bestEpoch": {"epoch": 13, "validation_accuracy": 0.81},
    "epochs": [
        {"epoch": n, "train_accuracy": 0.5 + n / 40, "validation_accuracy": 0.4 + n / 40}
        for n in range(15)
    ]
    + [{"epoch": 15, "train_accuracy": 0.9, "validation_accuracy": None}],
    "modelArtifacts": f"s3://bucket/output/{JOB}-2/output/model.tar.gz",
    "reportUri": f"s3://bucket/output/{JOB}-2/report.json",
    "attempts": ATTEMPTS,
}


@pytest.fixture
def mailbox(aws):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="workshop")["TopicArn"]
    queue = sqs.create_queue(QueueName="mailbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def received():
        (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
        return json.loads(message["Body"])

    return sns, topic, received


def test_a_trained_run_is_summed_up_in_one_message(mailbox):
    sns, topic, received = mailbox
    state = {"prepare": {"runId": JOB, "startedAt": "2026-11-21T12:00:00Z"}, "report": REPORT}
    event = {"outcome": "succeeded", "state": state, "execution": "arn:aws:states:execution:x"}
    result = notify(event, {"TOPIC_ARN": topic}, sns=sns, now=NOW)
    mail = received()
    assert (
        mail["Subject"] == result["subject"] == f"Training run succeeded: {JOB}-2 on ml.g4dn.xlarge"
    )
    lines = mail["Message"].splitlines()
    assert lines[:6] == [
        f"Training job {JOB}-2: Completed",
        "Instances: ml.g4dn.xlarge x1, on-demand",
        "Epochs: 16; final train accuracy 0.900, validation accuracy 0.750 (best 0.810 at epoch 13)",
        "Duration: training 17 min 20 s; whole run 30 min 00 s (queueing and attempts included)",
        f"Model: s3://bucket/output/{JOB}-2/output/model.tar.gz",
        f"Report: s3://bucket/output/{JOB}-2/report.json",
    ]
    assert f"1. {JOB} on ml.g4dn.xlarge spot: CapacityError: Unable to provision" in mail["Message"]
    assert f"2. {JOB}-2 on ml.g4dn.xlarge on-demand: Completed" in mail["Message"]
    assert "Execution: arn:aws:states:execution:x" in mail["Message"]


def test_a_failed_run_names_the_step_error_and_attempts(mailbox):
    sns, topic, received = mailbox
    state = {
        "prepare": {"runId": JOB, "startedAt": "2026-11-21T12:00:00Z"},
        "run": {"attempts": ATTEMPTS[:1]},
        "failure": {
            "Error": "NoCapacityError",
            "Cause": "SageMaker had no capacity",
            "step": "Choose",
        },
    }
    notify(
        {"outcome": "failed", "state": state, "execution": "x"},
        {"TOPIC_ARN": topic},
        sns=sns,
        now=NOW,
    )
    mail = received()
    assert mail["Subject"] == "Training run failed at Choose: NoCapacityError"
    assert mail["Message"].startswith(f"The training run {JOB} failed at Choose after 30 min 00 s.")
    assert "Error: NoCapacityError" in mail["Message"]
    assert f"1. {JOB} on ml.g4dn.xlarge spot: CapacityError" in mail["Message"]


def test_a_failure_before_prepare_named_the_run(mailbox):
    sns, topic, received = mailbox
    state = {"failure": {"Error": "States.Runtime", "Cause": "x" * 10000, "step": "Prepare"}}
    notify({"outcome": "failed", "state": state}, {"TOPIC_ARN": topic}, sns=sns, now=NOW)
    message = received()["Message"]
    assert "before Prepare named it" in message and "after unknown" in message
    assert "the whole message is in the execution's history" in message


def test_subjects_fit_sns():
    subject = subject_line("Training run failed at Choose: " + "é\n" * 80)
    assert len(subject) <= 99 and subject.isascii() and "\n" not in subject


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "unknown"), (45, "45 s"), (1040, "17 min 20 s"), (3720, "1 h 02 min")],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert duration(seconds) == text


def test_bad_input_and_environment_are_named(aws):
    with pytest.raises(ConfigurationError, match="TOPIC_ARN is not set"):
        notify({"outcome": "failed", "state": {}}, {}, sns=None)
    with pytest.raises(InvalidInputError, match="outcome must be"):
        notify({"outcome": "maybe", "state": {}}, {"TOPIC_ARN": "t"}, sns=None)
    with pytest.raises(InvalidInputError, match="The input must be"):
        notify({"outcome": "failed"}, {"TOPIC_ARN": "t"}, sns=None)


def test_handler_publishes_to_the_configured_topic(mailbox, monkeypatch):
    _, topic, received = mailbox
    monkeypatch.setenv("TOPIC_ARN", topic)
    state = {"failure": {"Error": "E", "Cause": "C", "step": "Report"}}
    notify_module.handler({"outcome": "failed", "state": state, "execution": "x"}, None)
    assert received()["Subject"] == "Training run failed at Report: E"
