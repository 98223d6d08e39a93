"""BuildEnded Lambda: what to do when a packaging build ends (EventBridge "CodeBuild Build State
Change" of the workshop's project).

- With TOPIC_ARN: one readable message, the records per class and the manifest's counts when the
  build succeeded, or the failing phase and the failing line of its log when it did not.
- With STATE_MACHINE_ARN (training.startAfterPackaging): a successful build starts one training
  run with the defaults, named after the build (`after-build-<build uuid>`), so a second delivery of
  the same event cannot start a second run: Step Functions refuses a name it has seen.
A failed build starts nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .clients import CLIENT_CONFIG, Client
from .messages import PUBLISH_ACTIONS, publish

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "EXECUTION_NAME_PREFIX",
    "IAM_STATEMENTS",
    "IAM_ACTIONS",
    "InvalidEventError",
    "execution_name",
    "failing_line",
    "handler",
    "on_build_ended",
]

EXECUTION_NAME_PREFIX = "after-build-"
# Each statement the function's role may need besides s3:GetObject on the manifest (sid -> actions):
# the construct grants the first two with a topic, the last with startAfterPackaging.
IAM_STATEMENTS = {
    "ReadBuildLog": ("logs:GetLogEvents",),
    "PublishBuildResult": PUBLISH_ACTIONS,
    "StartTrainingAfterBuild": ("states:StartExecution",),
}
IAM_ACTIONS = tuple(action for actions in IAM_STATEMENTS.values() for action in actions)
LOG_TAIL_EVENTS = 60
_FAILED_PHASE_STATUSES = ("FAILED", "FAULT", "TIMED_OUT", "STOPPED", "CLIENT_ERROR")


class InvalidEventError(ValueError):
    """The event is not a CodeBuild build state change."""


def execution_name(build_id: str) -> str:
    """`after-build-<uuid>` from `arn:...:build/<project>:<uuid>` (or `<project>:<uuid>`)."""
    build = build_id.rsplit(":", 1)[-1]
    return (EXECUTION_NAME_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "-", build))[:80]


def _detail(event: Mapping[str, Any]) -> Mapping[str, Any]:
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if not isinstance(detail, Mapping) or not detail.get("build-status"):
        raise InvalidEventError("Not a CodeBuild Build State Change event: no detail.build-status")
    return detail


def _manifest_lines(s3: Client, bucket: str, key: str) -> tuple[str, list[str]]:
    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError) as error:
        return "manifest unreadable", [f"The manifest s3://{bucket}/{key} is unreadable: {error}"]
    counts = (
        f"{manifest.get('num_training_samples')} training / "
        f"{manifest.get('num_validation_samples')} validation records, "
        f"{manifest.get('num_classes')} classes"
    )
    lines = [f"Records per class (train / validation), from s3://{bucket}/{key}:"]
    for row in manifest.get("labels", []):
        lines.append(
            f"  {row.get('label')}  {row.get('class_id')}  {row.get('name')}: "
            f"{row.get('train')} / {row.get('val')}"
        )
    lines += [
        f"num_training_samples {manifest.get('num_training_samples')}, num_validation_samples "
        f"{manifest.get('num_validation_samples')}, num_classes {manifest.get('num_classes')}",
        f"Source: s3://{(manifest.get('source') or {}).get('bucket')}/"
        f"{(manifest.get('source') or {}).get('key')}; written {manifest.get('created')}",
    ]
    return counts, lines


def failing_line(logs: Client, detail: Mapping[str, Any]) -> str:
    """recpack's one-line error if the log has one, else the last line that is not CodeBuild's."""
    where = (detail.get("additional-information") or {}).get("logs") or {}
    group, stream = where.get("group-name"), where.get("stream-name")
    if not group or not stream:
        return "(the build has no log stream)"
    try:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=False, limit=LOG_TAIL_EVENTS
        )["events"]
    except ClientError as error:
        return f"(the build's log {group}/{stream} is unreadable: {error})"
    lines = [
        line for event in events for line in str(event["message"]).splitlines() if line.strip()
    ]
    for line in reversed(lines):
        if "recpack: error:" in line:
            return line.strip()
    own = [line for line in lines if not line.startswith("[Container]")]
    return (own or lines or ["(the log is empty)"])[-1].strip()


def _failed_phase(detail: Mapping[str, Any]) -> str:
    phases = (detail.get("additional-information") or {}).get("phases") or []
    for phase in phases:
        if phase.get("phase-status") in _FAILED_PHASE_STATUSES:
            context = "; ".join(str(c) for c in phase.get("phase-context") or [] if c)
            return f"{phase.get('phase-type')} ({phase.get('phase-status')}{': ' if context else ''}{context})"
    return "unknown"


def _start_training(stepfunctions: Client, state_machine_arn: str, build_id: str) -> str:
    name = execution_name(build_id)
    try:
        return str(
            stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=name, input="{}")[
                "executionArn"
            ]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
    logger.info("Execution %s exists already: this build's run was started before", name)
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def on_build_ended(
    event: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    s3: Client,
    logs: Client,
    sns: Client,
    stepfunctions: Client,
) -> dict[str, Any]:
    detail = _detail(event)
    status, build_id = str(detail["build-status"]), str(detail.get("build-id", ""))
    topic = environ.get("TOPIC_ARN", "").strip()
    state_machine = environ.get("STATE_MACHINE_ARN", "").strip()
    result: dict[str, Any] = {"buildStatus": status, "trainingExecution": None, "messageId": None}
    if status == "SUCCEEDED":
        counts, lines = _manifest_lines(s3, environ["BUCKET"], environ["MANIFEST_KEY"])
        lines.insert(0, f"Packaging build {build_id} succeeded.")
        if state_machine:
            result["trainingExecution"] = _start_training(stepfunctions, state_machine, build_id)
            lines += ["", f"Training run started: {result['trainingExecution']}"]
        subject = f"Packaging build succeeded: {counts}"
    else:
        line = failing_line(logs, detail)
        lines = [
            f"Packaging build {build_id} ended {status} in phase {_failed_phase(detail)}.",
            f"Failing line: {line}",
            "The channels and manifest of the previous successful build are unchanged.",
        ]
        if state_machine:
            lines.append("No training run was started.")
        subject = f"Packaging build {status}: {line}"
    if topic:
        result["messageId"] = publish(sns, topic, subject, lines)
    logger.info("Build %s %s: %s", build_id, status, json.dumps(result))
    return result


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return on_build_ended(
        event,
        os.environ,
        s3=session.client("s3", config=CLIENT_CONFIG),
        logs=session.client("logs", config=CLIENT_CONFIG),
        sns=session.client("sns", config=CLIENT_CONFIG),
        stepfunctions=session.client("stepfunctions", config=CLIENT_CONFIG),
    )
