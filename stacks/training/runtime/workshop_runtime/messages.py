"""Readable lines for people: the attempts of a run, durations, and publishing to the topic."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .clients import Client

logger = logging.getLogger(__name__)

__all__ = ["PUBLISH_ACTIONS", "attempts_table", "duration", "publish", "subject_line"]

# Publishing to the KMS-encrypted topic; kms:GenerateDataKey and kms:Decrypt on its key besides.
PUBLISH_ACTIONS = ("sns:Publish",)
_SUBJECT_MAX = 99  # SNS: ASCII, no line breaks, under 100 characters
_MESSAGE_MAX = 60000  # far below SNS's 256 KB, and still readable in a mail client


def attempts_table(attempts: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per attempt: number, job, instance type, market, outcome and reason."""
    lines = []
    for attempt in attempts:
        market = "spot" if attempt.get("spot") else "on-demand"
        outcome, reason = str(attempt.get("outcome")), attempt.get("reason")
        # "CapacityError: Unable to ..." says its outcome already.
        told = reason if reason and str(reason).startswith(outcome) else outcome
        if reason and told == outcome:
            told = f"{outcome}: {reason}"
        lines.append(
            f"{attempt.get('attempt')}. {attempt.get('trainingJobName')} on "
            f"{attempt.get('instanceType')} {market}: {told}"
        )
    return lines


def duration(seconds: float | None) -> str:
    """`1 h 02 min`, `17 min 20 s`, `45 s`."""
    if seconds is None:
        return "unknown"
    whole = max(0, int(round(seconds)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def subject_line(text: str) -> str:
    ascii_text = " ".join(text.encode("ascii", "replace").decode().split())
    if len(ascii_text) <= _SUBJECT_MAX:
        return ascii_text
    return ascii_text[: _SUBJECT_MAX - 3] + "..."


def publish(sns: Client, topic_arn: str, subject: str, lines: Sequence[str]) -> str:
    """Publish one plain-text message; returns its message id."""
    body = "\n".join(lines)
    if len(body) > _MESSAGE_MAX:
        body = body[: _MESSAGE_MAX - 3] + "..."
    response = sns.publish(TopicArn=topic_arn, Subject=subject_line(subject), Message=body)
    logger.info("Published %r (%s)", subject_line(subject), response.get("MessageId"))
    return str(response.get("MessageId"))
