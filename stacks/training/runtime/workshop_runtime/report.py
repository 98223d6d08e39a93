"""Report Lambda: the accuracy per epoch and the job's final metrics, saved beside the model.

Lab 2 asked the learner to read `Validation-accuracy` per epoch in the job's log stream; this
writes that table to `s3://BUCKET/OUTPUT_PREFIX<job>/report.json` and returns it, with the run's
attempts (the last one's outcome is the job's final status) and, for a spot job, the seconds billed
against the seconds trained.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .clients import CLIENT_CONFIG, Client
from .training_log import parse_training_log

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "IAM_ACTIONS",
    "LOG_GROUP",
    "ConfigurationError",
    "InvalidInputError",
    "build_report",
    "handler",
    "read_job_log",
    "report",
]

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# What the function's role needs besides s3:PutObject under OUTPUT_PREFIX (for the CDK grants);
# the logs actions on the log group LOG_GROUP.
IAM_ACTIONS = (
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "sagemaker:DescribeTrainingJob",
)
# Step Functions caps a state's payload at 256 KB; the full table stays in report.json.
RETURNED_EPOCHS_MAX = 200
LOG_EVENTS_PER_CALL = 10000  # the GetLogEvents maximum


class ConfigurationError(Exception):
    """The Lambda's environment is missing or malformed (a deployment problem)."""


class InvalidInputError(ValueError):
    """The input does not name a training job."""


def _stream_start(stream: str) -> tuple[int, str]:
    # SageMaker names streams <job>/algo-<host>-<container start, epoch seconds>.
    suffix = stream.rsplit("-", 1)[-1]
    return (int(suffix) if suffix.isdigit() else 0, stream)


def read_job_log(logs: Client, job_name: str) -> tuple[list[str], list[str]]:
    """Messages of the job's first host (algo-1) and the names of all its streams.

    Each host of a multi-instance job logs the same epochs; one host is the table. A restarted
    container (spot interruption) starts a new stream for the same host: its streams are read
    oldest first, so the parser sees the restart and keeps the last run. No log group or stream
    yet (a job that failed before starting) gives no lines.
    """
    streams: list[str] = []
    try:
        paginator = logs.get_paginator("describe_log_streams")
        for page in paginator.paginate(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/"):
            streams.extend(stream["logStreamName"] for stream in page.get("logStreams", []))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return [], []
        raise
    streams.sort()
    if not streams:
        return [], []
    first_host = streams[0].rsplit("-", 1)[0] + "-"
    lines: list[str] = []
    for stream in sorted((s for s in streams if s.startswith(first_host)), key=_stream_start):
        lines.extend(_read_stream(logs, stream))
    return lines, streams


def _read_stream(logs: Client, stream: str) -> list[str]:
    lines: list[str] = []
    token = None
    while True:
        arguments = {
            "logGroupName": LOG_GROUP,
            "logStreamName": stream,
            "startFromHead": True,
            "limit": LOG_EVENTS_PER_CALL,
        }
        if token:
            arguments["nextToken"] = token
        response = logs.get_log_events(**arguments)
        lines.extend(event["message"] for event in response.get("events", []))
        # The forward token repeats once the end of the stream is reached.
        if response.get("nextForwardToken") in (None, token):
            return lines
        token = response["nextForwardToken"]


def _seconds(job: Mapping, key: str) -> int | None:
    value = job.get(key)
    return int(value) if value is not None else None


def _finite(value: object) -> float | None:
    # NaN is not JSON; a metric the algorithm could not compute is reported as null.
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _spot_savings(job: Mapping) -> float | None:
    billable, trained = (
        _seconds(job, "BillableTimeInSeconds"),
        _seconds(job, "TrainingTimeInSeconds"),
    )
    if not job.get("EnableManagedSpotTraining") or billable is None or not trained:
        return None
    return round(100 * (1 - billable / trained), 1)


def _final_attempts(attempts: object, job_name: str, job: Mapping) -> list[dict]:
    """The run's attempts, the one that ran this job closed with its status."""
    if not isinstance(attempts, list):
        return []
    closed = [dict(attempt) for attempt in attempts if isinstance(attempt, Mapping)]
    for attempt in closed:
        if attempt.get("trainingJobName") == job_name:
            attempt["outcome"] = job.get("TrainingJobStatus")
            attempt["reason"] = job.get("FailureReason")
    return closed


def build_report(
    job_name: str,
    job: Mapping,
    epochs: list[dict],
    streams: list[str],
    attempts: object = None,
) -> dict:
    resources = job.get("ResourceConfig", {})
    with_validation = [row for row in epochs if row.get("validation_accuracy") is not None]
    best = max(with_validation, key=lambda row: row["validation_accuracy"], default=None)
    report = {
        "trainingJobName": job_name,
        "status": job.get("TrainingJobStatus"),
        "secondaryStatus": job.get("SecondaryStatus"),
        "instanceType": resources.get("InstanceType"),
        "instanceCount": resources.get("InstanceCount"),
        "spot": bool(job.get("EnableManagedSpotTraining")),
        "billableSeconds": _seconds(job, "BillableTimeInSeconds"),
        "trainingSeconds": _seconds(job, "TrainingTimeInSeconds"),
        # Managed spot bills fewer seconds than it trains; None when on demand.
        "spotSavingsPercent": _spot_savings(job),
        "finalMetrics": {
            metric["MetricName"]: _finite(metric.get("Value"))
            for metric in job.get("FinalMetricDataList", [])
        },
        "bestEpoch": (
            {"epoch": best["epoch"], "validation_accuracy": best["validation_accuracy"]}
            if best
            else None
        ),
        "restarted": bool(epochs) and epochs[0]["run"] > 1,
        "epochs": epochs,
        "modelArtifacts": job.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        "logStreams": streams,
        "attempts": _final_attempts(attempts, job_name, job),
    }
    if job.get("FailureReason"):
        report["failureReason"] = job["FailureReason"]
    if not epochs:
        report["note"] = f"No epoch lines found in {LOG_GROUP} for this job" + (
            " (no log stream: the job ended before the algorithm started)" if not streams else ""
        )
    return report


def report(
    event: Mapping, environ: Mapping[str, str], *, logs: Client, sagemaker: Client, s3: Client
) -> dict:
    job_name = None
    if isinstance(event, Mapping):
        # Also accept the CreateTrainingJob .sync output, which spells it TrainingJobName.
        job_name = event.get("trainingJobName") or event.get("TrainingJobName")
    if not isinstance(job_name, str) or not job_name:
        raise InvalidInputError('The input must name the job: {"trainingJobName": "..."}')
    bucket = environ.get("BUCKET", "").strip()
    if not bucket:
        raise ConfigurationError("Environment variable BUCKET is not set on the Report Lambda")
    prefix = environ.get("OUTPUT_PREFIX", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"

    job = sagemaker.describe_training_job(TrainingJobName=job_name)
    lines, streams = read_job_log(logs, job_name)
    epochs = parse_training_log(lines)
    full = build_report(job_name, job, epochs, streams, event.get("attempts"))
    key = f"{prefix}{job_name}/report.json"
    full["reportUri"] = f"s3://{bucket}/{key}"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(full, indent=2, allow_nan=False).encode(),
        ContentType="application/json",
    )
    logger.info("Wrote %s: %d epochs, status %s", full["reportUri"], len(epochs), full["status"])

    returned = dict(full)
    if len(epochs) > RETURNED_EPOCHS_MAX:
        returned["epochs"] = epochs[-RETURNED_EPOCHS_MAX:]
        returned["epochsTruncated"] = (
            f"last {RETURNED_EPOCHS_MAX} of {len(epochs)}; all in reportUri"
        )
    return returned


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return report(
        event,
        os.environ,
        logs=session.client("logs", config=CLIENT_CONFIG),
        sagemaker=session.client("sagemaker", config=CLIENT_CONFIG),
        s3=session.client("s3", config=CLIENT_CONFIG),
    )
