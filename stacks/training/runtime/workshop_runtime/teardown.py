"""Teardown: a CloudFormation custom resource (cr.Provider on_event) whose Delete stops this
stack's training work, so `make destroy` leaves no GPU billing until MaxRuntimeInSeconds.

On Delete it stops the state machine's running executions (a waiting run would otherwise start a
new job), stops every InProgress training job whose name matches this stack's job-name pattern
exactly (job_names.own_job_pattern: never another stack's or seat's job, even when the prefixes
share a beginning), and waits until they leave InProgress or `WaitSeconds` pass. It logs what it
stopped and never fails: a failed Delete would leave the stack half deleted. Create and Update do
nothing.

Resource properties: `JobNamePrefix`, `StateMachineArn`, `WaitSeconds` (a number as text); a
stack with several seats lists each seat's `JobNamePrefix` and `StateMachineArn` under `Seats`
instead, and every seat's work is stopped before the one bounded wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .clients import CLIENT_CONFIG, Client
from .job_names import own_job_pattern

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "IAM_ACTIONS",
    "JOB_NAME_PREFIX",
    "SEATS",
    "STATE_MACHINE_ARN",
    "IAM_STATEMENTS",
    "PHYSICAL_RESOURCE_ID",
    "handler",
    "on_event",
    "stop_own_work",
]

PHYSICAL_RESOURCE_ID = "training-jobs-teardown"
# The resource properties naming what to stop.
JOB_NAME_PREFIX = "JobNamePrefix"
STATE_MACHINE_ARN = "StateMachineArn"
SEATS = "Seats"
# Each statement the function's role needs (sid -> actions); the construct scopes each one.
IAM_STATEMENTS = {
    "FindInProgressTrainingJobs": ("sagemaker:ListTrainingJobs",),
    "StopOwnTrainingJobs": ("sagemaker:StopTrainingJob", "sagemaker:DescribeTrainingJob"),
    "FindRunningExecutions": ("states:ListExecutions",),
    "StopRunningExecutions": ("states:StopExecution",),
}
IAM_ACTIONS = tuple(action for actions in IAM_STATEMENTS.values() for action in actions)
DEFAULT_WAIT_SECONDS = 300
POLL_SECONDS = 10


def _stop_executions(stepfunctions: Client, state_machine_arn: str) -> list[str]:
    stopped: list[str] = []
    paginator = stepfunctions.get_paginator("list_executions")
    try:
        pages = list(paginator.paginate(stateMachineArn=state_machine_arn, statusFilter="RUNNING"))
    except ClientError as error:
        # Stopping the jobs matters more: they bill by the second.
        logger.warning("Could not list the executions of %s: %s", state_machine_arn, error)
        return stopped
    for page in pages:
        for execution in page.get("executions", []):
            arn = execution["executionArn"]
            try:
                stepfunctions.stop_execution(
                    executionArn=arn,
                    error="StackDeleted",
                    cause="The workshop stack is being deleted",
                )
                stopped.append(arn)
            except ClientError as error:
                logger.warning("Could not stop execution %s: %s", arn, error)
    return stopped


def own_jobs_in_progress(sagemaker: Client, prefix: str) -> list[str]:
    pattern = own_job_pattern(prefix)
    paginator = sagemaker.get_paginator("list_training_jobs")
    return sorted(
        summary["TrainingJobName"]
        for page in paginator.paginate(StatusEquals="InProgress", NameContains=prefix)
        for summary in page.get("TrainingJobSummaries", [])
        if pattern.fullmatch(summary["TrainingJobName"])
    )


def _stop_jobs(sagemaker: Client, names: list[str]) -> list[str]:
    stopped = []
    for name in names:
        try:
            sagemaker.stop_training_job(TrainingJobName=name)
            stopped.append(name)
        except ClientError as error:
            # Finished between the listing and the stop, or already stopping.
            logger.warning("Could not stop training job %s: %s", name, error)
    return stopped


def _still_in_progress(sagemaker: Client, names: list[str]) -> list[str]:
    running = []
    for name in names:
        try:
            status = sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        except ClientError as error:
            logger.warning("Could not describe training job %s: %s", name, error)
            continue
        if status == "InProgress":
            running.append(name)
    return running


def stop_own_work(
    *,
    sagemaker: Client,
    stepfunctions: Client,
    prefixes: Sequence[str],
    state_machine_arns: Sequence[str],
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, list[str]]:
    """Stop every execution first (a waiting run would start a job), then every job, then wait
    a bounded time; returns what was stopped and what still ran."""
    deadline = clock() + wait_seconds
    executions = [
        arn
        for machine in state_machine_arns
        if machine
        for arn in _stop_executions(stepfunctions, machine)
    ]
    jobs = [
        name
        for prefix in prefixes
        for name in _stop_jobs(sagemaker, own_jobs_in_progress(sagemaker, prefix))
    ]
    running = _still_in_progress(sagemaker, jobs)
    while running and clock() < deadline:
        sleep(min(POLL_SECONDS, max(0.0, deadline - clock())))
        running = _still_in_progress(sagemaker, running)
    logger.info("Stopped executions: %s", ", ".join(executions) or "none")
    logger.info("Stopped training jobs: %s", ", ".join(jobs) or "none")
    if running:
        logger.warning(
            "Still InProgress after %d s (SageMaker is stopping them): %s",
            wait_seconds,
            ", ".join(running),
        )
    return {"executions": executions, "jobs": jobs, "stillInProgress": running}


def _wait_seconds(properties: Mapping[str, Any]) -> float:
    try:
        return max(0.0, float(properties.get("WaitSeconds", DEFAULT_WAIT_SECONDS)))
    except (TypeError, ValueError):
        return DEFAULT_WAIT_SECONDS


def on_event(
    event: Mapping[str, Any],
    *,
    sagemaker: Client,
    stepfunctions: Client,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    physical_id = event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID
    if event.get("RequestType") != "Delete":
        return {"PhysicalResourceId": physical_id}
    properties = event.get("ResourceProperties") or {}
    seats = properties.get(SEATS)
    targets = seats if isinstance(seats, list) else [properties]
    pairs = [
        (str(t.get(JOB_NAME_PREFIX) or ""), str(t.get(STATE_MACHINE_ARN) or ""))
        for t in targets
        if isinstance(t, Mapping)
    ]
    if not pairs or not all(prefix for prefix, _ in pairs):
        logger.error("No JobNamePrefix: stopping nothing rather than guessing whose jobs to stop")
        return {"PhysicalResourceId": physical_id}
    try:
        stop_own_work(
            sagemaker=sagemaker,
            stepfunctions=stepfunctions,
            prefixes=[prefix for prefix, _ in pairs],
            state_machine_arns=[machine for _, machine in pairs],
            wait_seconds=_wait_seconds(properties),
            sleep=sleep,
            clock=clock,
        )
    except Exception:  # noqa: BLE001 - a failing Delete would block the stack's deletion
        logger.exception("Stopping this stack's training work failed; the deletion goes on")
    return {"PhysicalResourceId": physical_id}


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return on_event(
        event if isinstance(event, Mapping) else {},
        sagemaker=session.client("sagemaker", config=CLIENT_CONFIG),
        stepfunctions=session.client("stepfunctions", config=CLIENT_CONFIG),
    )
