"""Notify Lambda: one readable message to the workshop's topic when a training run ends.

The state machine calls it last, with its whole state: on success after Report (job, instance type,
spot or on-demand, epochs, final train and validation accuracy, durations, attempts); on failure
after the failing step (the step, its error and message, attempts so far). Input:
`{"outcome": "succeeded" | "failed", "state": {...}, "execution": "<execution ARN>"}`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

from .clients import CLIENT_CONFIG, Client
from .messages import PUBLISH_ACTIONS, attempts_table, duration, publish
from .quota_queue import parse_time

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "IAM_ACTIONS",
    "ConfigurationError",
    "InvalidInputError",
    "failure_message",
    "handler",
    "notify",
    "success_message",
]

# Besides kms:GenerateDataKey and kms:Decrypt on the topic's key (granted with the topic).
IAM_ACTIONS = PUBLISH_ACTIONS
_CAUSE_SHOWN = 4000


class ConfigurationError(Exception):
    """The Lambda's environment is missing or malformed (a deployment problem)."""


class InvalidInputError(ValueError):
    """The input is not what the state machine sends."""


def _last(epochs: list[Mapping[str, Any]], key: str) -> float | None:
    values = [row[key] for row in epochs if isinstance(row.get(key), int | float)]
    return values[-1] if values else None


def _accuracy(value: float | None) -> str:
    return "none logged" if value is None else f"{value:.3f}"


def _run_time(state: Mapping[str, Any], now: datetime) -> str:
    started = (state.get("prepare") or {}).get("startedAt")
    if not started:
        return "unknown"
    return duration((now - parse_time(started)).total_seconds())


def _instances(report: Mapping[str, Any]) -> str:
    count = report.get("instanceCount") or 1
    if not report.get("spot"):
        return f"{report.get('instanceType')} x{count}, on-demand"
    billed, trained = report.get("billableSeconds"), report.get("trainingSeconds")
    saved = report.get("spotSavingsPercent")
    savings = f", {saved}% saved" if saved is not None else ""
    return (
        f"{report.get('instanceType')} x{count}, managed spot (billed {duration(billed)} of "
        f"{duration(trained)} trained{savings})"
    )


def success_message(
    state: Mapping[str, Any], execution: str, now: datetime
) -> tuple[str, list[str]]:
    report = state.get("report") or {}
    epochs = [row for row in report.get("epochs") or [] if isinstance(row, Mapping)]
    best = report.get("bestEpoch") or {}
    job = report.get("trainingJobName")
    lines = [
        f"Training job {job}: {report.get('status')}",
        f"Instances: {_instances(report)}",
        f"Epochs: {len(epochs)}; final train accuracy {_accuracy(_last(epochs, 'train_accuracy'))}, "
        f"validation accuracy {_accuracy(_last(epochs, 'validation_accuracy'))}"
        + (
            f" (best {best['validation_accuracy']:.3f} at epoch {best['epoch']})"
            if best.get("validation_accuracy") is not None
            else ""
        ),
        f"Duration: training {duration(report.get('trainingSeconds'))}; whole run "
        f"{_run_time(state, now)} (queueing and attempts included)",
        f"Model: {report.get('modelArtifacts')}",
        f"Report: {report.get('reportUri')}",
        "",
        "Attempts:",
        *attempts_table(report.get("attempts") or []),
        "",
        f"Execution: {execution}",
    ]
    subject = f"Training run succeeded: {job} on {report.get('instanceType')}"
    return subject, lines


def failure_message(
    state: Mapping[str, Any], execution: str, now: datetime
) -> tuple[str, list[str]]:
    failure = state.get("failure") or {}
    step = failure.get("step") or "an unknown step"
    error = failure.get("Error") or "unknown error"
    cause = str(failure.get("Cause") or "(no message)")
    if len(cause) > _CAUSE_SHOWN:
        cause = cause[:_CAUSE_SHOWN] + " ... (the whole message is in the execution's history)"
    run_id = (state.get("prepare") or {}).get("runId") or "before Prepare named it"
    lines = [
        f"The training run {run_id} failed at {step} after {_run_time(state, now)}.",
        f"Error: {error}",
        "",
        cause,
    ]
    attempts = (state.get("run") or {}).get("attempts") or []
    if attempts and "Attempts:" not in cause:
        lines += ["", "Attempts:", *attempts_table(attempts)]
    lines += ["", f"Execution: {execution}"]
    return f"Training run failed at {step}: {error}", lines


def notify(
    event: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    sns: Client,
    now: datetime | None = None,
) -> dict[str, str]:
    topic = environ.get("TOPIC_ARN", "").strip()
    if not topic:
        raise ConfigurationError("Environment variable TOPIC_ARN is not set on the Notify Lambda")
    if not isinstance(event, Mapping) or not isinstance(event.get("state"), Mapping):
        raise InvalidInputError('The input must be {"outcome": ..., "state": {...}, "execution"}')
    outcome = event.get("outcome")
    compose = {"succeeded": success_message, "failed": failure_message}.get(str(outcome))
    if compose is None:
        raise InvalidInputError(f"outcome must be 'succeeded' or 'failed', not {outcome!r}")
    subject, lines = compose(
        event["state"], str(event.get("execution", "")), now or datetime.now(UTC)
    )
    return {"messageId": publish(sns, topic, subject, lines), "subject": subject}


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return notify(event, os.environ, sns=session.client("sns", config=CLIENT_CONFIG))
