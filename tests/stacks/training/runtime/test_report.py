import json
import time

import boto3
import pytest

from stacks.training.runtime.workshop_runtime import report as report_module
from stacks.training.runtime.workshop_runtime.report import (
    LOG_GROUP,
    ConfigurationError,
    InvalidInputError,
    read_job_log,
    report,
)

from ...conftest import algorithm_epoch_lines as epoch

BUCKET = "workshop-bucket"
JOB = "birds-20261121-123456-abcd"


@pytest.fixture
def clients(aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName=JOB,
        AlgorithmSpecification={
            "TrainingImage": "image-classification:1",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/training",
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
        HyperParameters={"epochs": "2"},
    )
    return {"s3": s3, "logs": logs, "sagemaker": sagemaker}


def write_stream(logs, stream, lines):
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    start = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": start + index, "message": line} for index, line in enumerate(lines)
        ],
    )


def run(clients, event=None, prefix="output/"):
    return report(
        event or {"trainingJobName": JOB},
        {"BUCKET": BUCKET, "OUTPUT_PREFIX": prefix},
        logs=clients["logs"],
        sagemaker=clients["sagemaker"],
        s3=clients["s3"],
    )


def stored(clients, key):
    return json.loads(clients["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_report_of_a_complete_job_is_written_to_s3_and_returned(clients):
    write_stream(
        clients["logs"],
        f"{JOB}/algo-1-1763728800",
        epoch(0, 0.25, 8.095, 0.302083, 0.5) + epoch(1, 0.6, 3.071, 0.55, 0.8),
    )
    # Another job whose name starts the same must not leak in.
    write_stream(clients["logs"], f"{JOB}-2/algo-1-1763728800", epoch(0, 0.99, 1.0, 0.99))
    result = run(clients)
    assert result["epochs"] == [
        {
            "epoch": 0,
            "train_accuracy": 0.25,
            "validation_accuracy": 0.302083,
            "time_cost": 8.095,
            "run": 1,
            "train_top_k_accuracy_2": 0.5,
        },
        {
            "epoch": 1,
            "train_accuracy": 0.6,
            "validation_accuracy": 0.55,
            "time_cost": 3.071,
            "run": 1,
            "train_top_k_accuracy_2": 0.8,
        },
    ]
    assert result["bestEpoch"] == {"epoch": 1, "validation_accuracy": 0.55}
    assert result["status"] == "Completed"
    assert result["instanceType"] == "ml.g4dn.xlarge"
    assert result["restarted"] is False
    assert result["logStreams"] == [f"{JOB}/algo-1-1763728800"]
    assert result["modelArtifacts"] == f"s3://{BUCKET}/output/{JOB}/output/model.tar.gz"
    assert "train:progress" in result["finalMetrics"]
    assert result["reportUri"] == f"s3://{BUCKET}/output/{JOB}/report.json"
    assert stored(clients, f"output/{JOB}/report.json") == result


def test_report_of_a_partial_log_has_the_running_epoch_without_validation(clients):
    write_stream(clients["logs"], f"{JOB}/algo-1-1", epoch(0, 0.25, 8.0, 0.3) + epoch(1, 0.5, 3.0))
    last = run(clients)["epochs"][-1]
    assert (last["epoch"], last["train_accuracy"], last["validation_accuracy"]) == (1, 0.5, None)


def test_report_of_a_restarted_job_says_so(clients):
    write_stream(
        clients["logs"],
        f"{JOB}/algo-1-1",
        epoch(0, 0.2, 8.0, 0.3) + epoch(1, 0.4, 3.0, 0.5) + epoch(0, 0.21, 8.0, 0.31),
    )
    result = run(clients)
    assert result["restarted"] is True
    assert [row["train_accuracy"] for row in result["epochs"]] == [0.21]


def test_report_of_a_job_restarted_in_a_new_stream_keeps_the_last_run(clients):
    # A spot restart starts a new container, and a new stream for the same host; the later
    # start time sorts after the earlier one only numerically (9 < 10, but "9" > "10").
    write_stream(clients["logs"], f"{JOB}/algo-1-10", epoch(0, 0.21, 8.0, 0.31))
    write_stream(
        clients["logs"], f"{JOB}/algo-1-9", epoch(0, 0.2, 8.0, 0.3) + epoch(1, 0.4, 3.0, 0.5)
    )
    result = run(clients)
    assert result["restarted"] is True
    assert [row["train_accuracy"] for row in result["epochs"]] == [0.21]


def test_report_reads_a_log_longer_than_one_page(clients, monkeypatch):
    monkeypatch.setattr(report_module, "LOG_EVENTS_PER_CALL", 4)
    lines = [line for n in range(5) for line in epoch(n, 0.1 * n, 3.0, 0.1 * n + 0.05)]
    write_stream(clients["logs"], f"{JOB}/algo-1-1", lines)
    assert [row["epoch"] for row in run(clients)["epochs"]] == [0, 1, 2, 3, 4]


def test_report_uses_the_first_host_of_a_multi_instance_job(clients):
    write_stream(clients["logs"], f"{JOB}/algo-2-1", epoch(0, 0.9, 3.0, 0.9))
    write_stream(clients["logs"], f"{JOB}/algo-1-1", epoch(0, 0.1, 3.0, 0.2))
    result = run(clients)
    assert result["epochs"][0]["train_accuracy"] == 0.1
    assert result["logStreams"] == [f"{JOB}/algo-1-1", f"{JOB}/algo-2-1"]


def test_report_without_log_stream_still_writes_the_job_status(clients):
    result = run(clients, {"TrainingJobName": JOB}, prefix="reports")
    assert result["epochs"] == []
    assert "no log stream" in result["note"]
    assert stored(clients, f"reports/{JOB}/report.json")["status"] == "Completed"


def test_report_without_log_group_gives_no_lines(aws):
    assert read_job_log(boto3.client("logs"), JOB) == ([], [])


def test_report_return_keeps_only_the_last_epochs_of_a_very_long_job(clients, monkeypatch):
    monkeypatch.setattr(report_module, "RETURNED_EPOCHS_MAX", 3)
    write_stream(
        clients["logs"],
        f"{JOB}/algo-1-1",
        [line for n in range(5) for line in epoch(n, 0.5, 1.0, 0.5)],
    )
    result = run(clients)
    assert [row["epoch"] for row in result["epochs"]] == [2, 3, 4]
    assert "last 3 of 5" in result["epochsTruncated"]
    assert len(stored(clients, f"output/{JOB}/report.json")["epochs"]) == 5


def test_report_requires_a_job_name(clients):
    with pytest.raises(InvalidInputError, match="trainingJobName"):
        run(clients, {"jobName": JOB})


def test_report_requires_the_bucket(clients):
    with pytest.raises(ConfigurationError, match="BUCKET"):
        report({"trainingJobName": JOB}, {}, logs=None, sagemaker=None, s3=None)


def test_report_closes_the_runs_attempts_with_the_jobs_status(clients):
    attempts = [
        {"attempt": 1, "trainingJobName": "birds-x", "outcome": "CapacityError", "reason": "c"},
        {"attempt": 2, "trainingJobName": JOB, "outcome": "Started", "reason": None},
    ]
    result = run(clients, {"trainingJobName": JOB, "attempts": attempts})
    assert [(a["outcome"], a["reason"]) for a in result["attempts"]] == [
        ("CapacityError", "c"),
        ("Completed", None),
    ]
    assert stored(clients, f"output/{JOB}/report.json")["attempts"] == result["attempts"]
    # On demand: nothing saved by spot.
    assert (result["spot"], result["spotSavingsPercent"]) == (False, None)


def test_report_of_a_spot_job_compares_billed_and_trained_seconds(clients):
    from demo import moto_patches

    moto_patches.set_job_status(
        JOB,
        "Completed",
        EnableManagedSpotTraining=True,
        BillableTimeInSeconds=300,
        TrainingTimeInSeconds=1000,
    )
    result = run(clients)
    assert (result["spot"], result["billableSeconds"], result["trainingSeconds"]) == (
        True,
        300,
        1000,
    )
    assert result["spotSavingsPercent"] == 70.0
    assert result["attempts"] == []
