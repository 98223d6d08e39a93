"""Choose Lambda: before every attempt of a training run, start a job now, wait for quota, or give up.

It runs after Prepare, after every failed CreateTrainingJob and after every wait, each time with
fresh quotas and usage:
- the previous attempt's failure is classified first (`classify`): another job took the quota
  (SageMaker.ResourceLimitExceededException) is tried again; a job that failed for lack of capacity
  (FailureReason "CapacityError: ...", or a spot job that never got spot time within
  MaxWaitTimeInSeconds) marks that instance type and market as without capacity for this run; any
  other failure (bad data, an algorithm error, a request SageMaker refused) is not retried;
- the candidates are the preferred types in order, each as spot first (training.spot) and then
  on-demand (unless spot without fallback), minus those without capacity;
- the first candidate whose quota holds the instances in use, the instances older waiting runs need
  (quota_queue) and this job's instance count starts a job under a new name;
- otherwise the run waits (a ticket in the queue, then WaitForQuota) until its deadline, or gives
  up at once when no candidate's quota could ever hold the job.
The state machine keeps the result in `$.run` and passes it back in; `attempts` is the run's
history (docs/contracts.md).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from .clients import CLIENT_CONFIG, Client
from .job_names import attempt_job_name
from .messages import attempts_table
from .quota_queue import Ticket, TicketQueue, format_time, parse_time, reserved_instances
from .quota_queue import runs_ahead as count_runs_ahead
from .quota_queue import ticket_key as make_ticket_key
from .quotas import (
    QUOTA_READ_ACTIONS,
    USAGE_READ_ACTIONS,
    Capacity,
    InstanceQuota,
    NoGpuQuotaError,
    count_instances_in_use,
    format_quota_value,
    get_quotas,
    normalize_instance_type,
)

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "CAPACITY_ERROR_PREFIX",
    "IAM_ACTIONS",
    "IAM_STATEMENTS",
    "RESOURCE_LIMIT_ERROR",
    "ChooseSettings",
    "ConfigurationError",
    "InvalidStateError",
    "Verdict",
    "candidates",
    "choose",
    "classify",
    "handler",
]

# The error the SageMaker integration raises when CreateTrainingJob itself is refused for quota.
RESOURCE_LIMIT_ERROR = "SageMaker.ResourceLimitExceededException"
# SageMaker's FailureReason for a job that got no instances (the SageMaker Python SDK's test).
CAPACITY_ERROR_PREFIX = "CapacityError:"
# A spot job ends with this secondary status when spot time never sufficed within its MaxWait.
SPOT_EXHAUSTED_STATUSES = frozenset({"MaxWaitTimeExceeded"})
# Spot jobs may wait this long for spot capacity on top of their run time (MaxWaitTimeInSeconds).
SPOT_CAPACITY_WAIT_SECONDS = 1800
DEFAULT_POLL_SECONDS = 90
# Each statement the function's role needs besides the queue's bucket access (sid -> actions);
# the construct scopes each one.
IAM_STATEMENTS = {
    "ReadSageMakerQuotas": QUOTA_READ_ACTIONS,
    "CountRunningTrainingJobs": USAGE_READ_ACTIONS[:1],
    "ReadRunningJobInstanceTypes": USAGE_READ_ACTIONS[1:],
}
IAM_ACTIONS = tuple(action for actions in IAM_STATEMENTS.values() for action in actions)
_REASON_MAX = 600
_CAUSE_MAX = 30000  # Step Functions accepts 32768 characters of cause


class ConfigurationError(Exception):
    """The Lambda's environment is missing or malformed (a deployment problem)."""


class InvalidStateError(ValueError):
    """The state passed in lacks what Prepare or an earlier Choose put there."""


def _variable(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = environ.get(name, "").strip() or default
    if not value:
        raise ConfigurationError(f"Environment variable {name} is not set on the Choose Lambda")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = _variable(environ, name).lower()
    if value not in ("true", "false"):
        raise ConfigurationError(f"Environment variable {name} must be true or false")
    return value == "true"


def _positive(environ: Mapping[str, str], name: str, default: str | None = None) -> int:
    text = _variable(environ, name, default)
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"Environment variable {name} must be a positive integer")
    return int(text)


def candidates(instance_types: Sequence[str], *, spot: bool, fallback: bool) -> list[Capacity]:
    """Preference order: each type spot first (with spot), then on-demand (unless spot without
    fallback): a spot type without capacity or quota falls back to the same type on demand."""
    order = []
    for instance_type in instance_types:
        normalized = normalize_instance_type(instance_type)
        if spot:
            order.append(Capacity(normalized, True))
        if not spot or fallback:
            order.append(Capacity(normalized, False))
    return order


@dataclass(frozen=True)
class ChooseSettings:
    candidates: tuple[Capacity, ...]
    instance_count: int
    max_runtime_seconds: int
    spot: bool
    output_uri: str
    poll_seconds: int
    queue_bucket: str
    queue_prefix: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ChooseSettings:
        try:
            types = json.loads(_variable(environ, "INSTANCE_TYPES"))
        except json.JSONDecodeError:
            types = None
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise ConfigurationError(
                "Environment variable INSTANCE_TYPES must be a non-empty JSON list of instance "
                'types, e.g. ["ml.g4dn.xlarge", "ml.g5.xlarge"]'
            )
        spot = _flag(environ, "SPOT")
        order = candidates(types, spot=spot, fallback=_flag(environ, "SPOT_FALLBACK_TO_ON_DEMAND"))
        return cls(
            candidates=tuple(order),
            instance_count=_positive(environ, "INSTANCE_COUNT"),
            max_runtime_seconds=_positive(environ, "MAX_RUNTIME_SECONDS"),
            spot=spot,
            output_uri=_variable(environ, "OUTPUT_URI") if spot else "",
            poll_seconds=_positive(environ, "POLL_SECONDS", str(DEFAULT_POLL_SECONDS)),
            queue_bucket=_variable(environ, "QUEUE_BUCKET"),
            queue_prefix=_variable(environ, "QUEUE_PREFIX"),
        )

    @property
    def ticket_lifetime(self) -> timedelta:
        # Three missed checks: the execution was stopped (or its Lambda keeps failing).
        return timedelta(seconds=max(3 * self.poll_seconds, 120))


# --- the previous attempt ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What became of an attempt: `outcome` for the attempts table, `retry` whether the run goes
    on, `no_capacity` whether its instance type and market are out for this run."""

    outcome: str
    reason: str
    retry: bool
    no_capacity: bool = False
    error: str = ""


def _job_description(cause: str) -> Mapping[str, Any] | None:
    # A .sync task that ends Failed carries DescribeTrainingJob's response as its cause.
    try:
        described = json.loads(cause)
    except (TypeError, json.JSONDecodeError):
        return None
    return described if isinstance(described, Mapping) else None


def _short(text: object, limit: int = _REASON_MAX) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def classify(error: Mapping[str, Any] | None, attempt: Mapping[str, Any]) -> Verdict:
    """The verdict on a failed CreateTrainingJob, from the error the state machine caught."""
    if not isinstance(error, Mapping) or not error.get("Error"):
        raise InvalidStateError(
            "The run's last attempt started a job, but the state has no attemptError: Choose runs "
            "after CreateTrainingJob only through its Catch"
        )
    name, cause = str(error["Error"]), str(error.get("Cause") or "")
    if name == RESOURCE_LIMIT_ERROR:
        return Verdict("ResourceLimitExceeded", _short(cause), retry=True, error=name)
    described = _job_description(cause)
    reason = str((described or {}).get("FailureReason") or cause)
    if reason.startswith(CAPACITY_ERROR_PREFIX):
        return Verdict("CapacityError", _short(reason), retry=True, no_capacity=True, error=name)
    secondary = (described or {}).get("SecondaryStatus")
    if attempt.get("spot") and secondary in SPOT_EXHAUSTED_STATUSES:
        why = f"{secondary}: no spot capacity within MaxWaitTimeInSeconds. {reason}"
        return Verdict("CapacityError", _short(why), retry=True, no_capacity=True, error=name)
    if described is not None and "TrainingJobStatus" in described:
        return Verdict("Failed", _short(reason), retry=False, error="TrainingJobFailed")
    return Verdict("Failed", _short(reason), retry=False, error=name)


# --- the run's state -----------------------------------------------------------------------------


@dataclass
class Run:
    """`$.run` between two Choose calls."""

    run_id: str
    deadline: datetime
    max_attempts: int
    attempts: list[dict[str, Any]] = field(default_factory=list)
    no_capacity: list[Capacity] = field(default_factory=list)
    ticket_key: str | None = None
    checks: int = 0
    last_action: str | None = None

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Run:
        prepare = state.get("prepare")
        try:
            limits = prepare["limits"]  # type: ignore[index]
            run = cls(
                run_id=str(prepare["runId"]),  # type: ignore[index]
                deadline=parse_time(limits["deadline"]),
                max_attempts=int(limits["maxAttempts"]),
            )
        except (TypeError, KeyError, ValueError) as error:
            raise InvalidStateError(
                f"The state lacks Prepare's runId and limits ({error}): Choose runs after Prepare"
            ) from None
        previous = state.get("run") or {}
        run.attempts = [dict(attempt) for attempt in previous.get("attempts", [])]
        run.no_capacity = [
            Capacity(c["instanceType"], bool(c["spot"])) for c in previous.get("noCapacity", [])
        ]
        run.ticket_key = previous.get("ticketKey")
        run.checks = int(previous.get("checks", 0)) + 1
        run.last_action = previous.get("action")
        return run

    def record(self, verdict: Verdict) -> None:
        attempt = self.attempts[-1]
        attempt.update(outcome=verdict.outcome, reason=verdict.reason)
        if verdict.no_capacity:
            self.no_capacity.append(Capacity(attempt["instanceType"], bool(attempt["spot"])))

    def output(self, action: str, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "action": action,
            "status": status,
            "attempts": self.attempts,
            "noCapacity": [
                {"instanceType": c.instance_type, "spot": c.spot} for c in self.no_capacity
            ],
            "ticketKey": self.ticket_key,
            "checks": self.checks,
            **extra,
        }


# --- deciding ------------------------------------------------------------------------------------


@dataclass
class Context:
    settings: ChooseSettings
    run: Run
    queue: TicketQueue
    now: datetime
    region: str | None


def _give_up(context: Context, step: str, error: str, message: str) -> dict[str, Any]:
    run = context.run
    if run.ticket_key:
        context.queue.remove(run.ticket_key)
    lines = [message]
    if run.attempts:
        lines += ["", "Attempts:", *attempts_table(run.attempts)]
    cause = "\n".join(lines)
    if len(cause) > _CAUSE_MAX:
        cause = cause[: _CAUSE_MAX - 3] + "..."
    logger.info("Giving up at %s: %s", step, error)
    failure = {"Error": error, "Cause": cause, "step": step}
    return run.output("fail", f"Gave up: {error}", failure=failure)


def _start(context: Context, capacity: Capacity, rows: list[dict]) -> dict[str, Any]:
    settings, run = context.settings, context.run
    number = len(run.attempts) + 1
    name = attempt_job_name(run.run_id, number)
    if run.ticket_key:
        # Keep the key: a start refused for quota queues again in the same place.
        context.queue.remove(run.ticket_key)
    run.attempts.append(
        {
            "attempt": number,
            "trainingJobName": name,
            "instanceType": capacity.instance_type,
            "spot": capacity.spot,
            "startedAt": format_time(context.now),
            "outcome": "Started",
            "reason": None,
        }
    )
    stopping = {"MaxRuntimeInSeconds": settings.max_runtime_seconds}
    job: dict[str, Any] = {
        "trainingJobName": name,
        "instanceType": capacity.instance_type,
        "spot": capacity.spot,
        "stoppingCondition": stopping,
    }
    if settings.spot:
        if capacity.spot:
            stopping["MaxWaitTimeInSeconds"] = (
                settings.max_runtime_seconds + SPOT_CAPACITY_WAIT_SECONDS
            )
        job["checkpointUri"] = f"{settings.output_uri}{name}/checkpoints/"
    logger.info("Starting attempt %d: %s on %s", number, name, capacity.label)
    return run.output("start", f"Starting {name} on {capacity.label}", job=job, quotas=rows)


def _wait(context: Context, remaining: list[Capacity], rows: list[dict], ahead: int) -> dict:
    settings, run, now = context.settings, context.run, context.now
    if run.ticket_key is None:
        run.ticket_key = make_ticket_key(settings.queue_prefix, now, run.run_id)
    context.queue.put(
        Ticket(
            key=run.ticket_key,
            run_id=run.run_id,
            expires=now + settings.ticket_lifetime,
            wants=tuple(remaining),
            instance_count=settings.instance_count,
        )
    )
    left = (run.deadline - now).total_seconds()
    seconds = max(1, min(settings.poll_seconds, math.ceil(left)))
    status = (
        f"Waiting for GPU quota ({ahead} earlier run(s) waiting first); checking again in "
        f"{seconds} s, giving up at {run.deadline:%H:%M:%S} UTC"
    )
    logger.info(status)
    return run.output("wait", status, waitSeconds=seconds, quotas=rows)


def _quota_rows(
    remaining: Sequence[Capacity],
    quotas: Mapping[Capacity, InstanceQuota],
    usage: Mapping[Capacity, int],
    reserved: Mapping[Capacity, int],
) -> list[dict]:
    return [
        {
            "instanceType": c.instance_type,
            "spot": c.spot,
            "quota": format_quota_value(quotas[c].value),
            "inUse": usage.get(c, 0),
            "reservedByEarlierRuns": reserved[c],
        }
        for c in remaining
    ]


def _waited(run: Run) -> str:
    if run.ticket_key is None:
        # It never waited: no time allowed, or its deadline passed during failed attempts.
        return (
            "The types with quota are all in use and the run may not wait past its deadline "
            f"{run.deadline:%Y-%m-%d %H:%M:%S} UTC (training.waitForQuotaMinutes)."
        )
    return (
        f"The run waited for quota until its deadline {run.deadline:%Y-%m-%d %H:%M:%S} UTC "
        f"(training.waitForQuotaMinutes; checked {run.checks} times)."
    )


def decide(context: Context, *, servicequotas: Client, sagemaker: Client) -> dict[str, Any]:
    settings, run = context.settings, context.run
    if len(run.attempts) >= run.max_attempts:
        return _give_up(
            context,
            "Choose",
            "TooManyAttemptsError",
            f"The run tried {len(run.attempts)} training jobs, its limit "
            "(training.maxAttempts); none finished.",
        )
    remaining = [c for c in settings.candidates if c not in run.no_capacity]
    if not remaining:
        return _give_up(
            context,
            "Choose",
            "NoCapacityError",
            "SageMaker had no capacity for any preferred instance type (each failed with "
            "CapacityError); add types to training.instanceTypes or try again later.",
        )
    quotas = get_quotas(servicequotas, remaining)
    usage = count_instances_in_use(sagemaker)
    tickets = context.queue.live_tickets(context.now)
    reserved = {c: reserved_instances(tickets, c, run.ticket_key) for c in remaining}
    rows = _quota_rows(remaining, quotas, usage, reserved)
    needed = settings.instance_count
    for capacity in remaining:
        value = quotas[capacity].value
        if value is not None and value - usage.get(capacity, 0) - reserved[capacity] >= needed:
            return _start(context, capacity, rows)
    possible = [c for c in remaining if (quotas[c].value or 0) >= needed]
    if possible and context.now < run.deadline:
        return _wait(context, possible, rows, count_runs_ahead(tickets, possible, run.ticket_key))
    waited = _waited(run) if possible else None
    no_quota = NoGpuQuotaError(
        quotas, usage, remaining, context.region, needed=needed, waited=waited
    )
    return _give_up(context, "Choose", "NoGpuQuotaError", str(no_quota))


def choose(
    state: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    *,
    servicequotas: Client,
    sagemaker: Client,
    s3: Client,
    now: datetime | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    if not isinstance(state, Mapping):
        raise InvalidStateError(f"The state must be a JSON object, not {type(state).__name__}")
    settings = ChooseSettings.from_environ(environ)
    run = Run.from_state(state)
    queue = TicketQueue(s3, settings.queue_bucket, settings.queue_prefix)
    context = Context(settings, run, queue, now or datetime.now(UTC), region)
    if run.last_action == "start":
        if not run.attempts:
            raise InvalidStateError("The run's last action started a job, but it lists no attempt")
        verdict = classify(state.get("attemptError"), run.attempts[-1])
        run.record(verdict)
        if not verdict.retry:
            attempt = run.attempts[-1]
            market = "spot" if attempt["spot"] else "on-demand"
            message = (
                f"Training job {attempt['trainingJobName']} on {attempt['instanceType']} "
                f"{market} failed and is not retried: {verdict.reason}"
            )
            return _give_up(context, "CreateTrainingJob", verdict.error, message)
    return decide(context, servicequotas=servicequotas, sagemaker=sagemaker)


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return choose(
        event,
        os.environ,
        servicequotas=session.client("service-quotas", config=CLIENT_CONFIG),
        sagemaker=session.client("sagemaker", config=CLIENT_CONFIG),
        s3=session.client("s3", config=CLIENT_CONFIG),
        region=session.region_name,
    )
