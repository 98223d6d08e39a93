"""The Choose step's decisions: start, wait or give up, from fresh quotas, usage, the queue of
waiting runs and the previous attempt's failure (S3 in moto; quotas and other people's jobs
scripted with demo/fake_quotas.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from demo.fake_quotas import FakeServiceQuotas, OtherJob, SageMakerWithOtherJobs
from stacks.training.runtime.workshop_runtime import choose as choose_module
from stacks.training.runtime.workshop_runtime.choose import (
    RESOURCE_LIMIT_ERROR,
    ConfigurationError,
    InvalidStateError,
    candidates,
    choose,
    classify,
)
from stacks.training.runtime.workshop_runtime.quota_queue import Ticket, TicketQueue, ticket_key
from stacks.training.runtime.workshop_runtime.quotas import Capacity

BUCKET = "workshop-bucket"
RUN_ID = "birds-20261121-120000-ab12"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
G4DN, G5 = "ml.g4dn.xlarge", "ml.g5.xlarge"
CAPACITY_CAUSE = json.dumps(
    {
        "TrainingJobName": RUN_ID,
        "TrainingJobStatus": "Failed",
        "SecondaryStatus": "Failed",
        "FailureReason": "CapacityError: Unable to provision requested ML compute capacity. "
        "Please retry using a different ML instance type.",
    }
)


def environment(**changes):
    values = {
        "INSTANCE_TYPES": json.dumps([G4DN, G5]),
        "SPOT": "false",
        "SPOT_FALLBACK_TO_ON_DEMAND": "true",
        "INSTANCE_COUNT": "1",
        "MAX_RUNTIME_SECONDS": "3600",
        "OUTPUT_URI": f"s3://{BUCKET}/output/",
        "QUEUE_BUCKET": BUCKET,
        "QUEUE_PREFIX": "queue/",
        "POLL_SECONDS": "90",
    }
    values.update(changes)
    return values


def prepared(wait_minutes=60, max_attempts=6):
    return {
        "runId": RUN_ID,
        "limits": {
            "waitForQuotaMinutes": wait_minutes,
            "deadline": (START + timedelta(minutes=wait_minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "maxAttempts": max_attempts,
        },
    }


class Harness:
    """The state machine's side of Choose: keeps `$.run`, passes the caught error back in."""

    def __init__(self, s3, env=None, quotas=None, prepare=None):
        self.s3 = s3
        self.env = env or environment()
        self.quotas = quotas or FakeServiceQuotas({G4DN: 1, G5: 1})
        self.sagemaker = SageMakerWithOtherJobs(boto3.client("sagemaker"))
        self.state = {"prepare": prepare or prepared()}
        self.now = START

    def choose(self, *, after=None, minutes=0):
        self.now += timedelta(minutes=minutes)
        state = dict(self.state)
        if after is not None:
            state["attemptError"] = after
        result = choose(
            state,
            self.env,
            servicequotas=self.quotas,
            sagemaker=self.sagemaker,
            s3=self.s3,
            now=self.now,
            region="us-east-1",
        )
        json.dumps(result)  # what the state machine stores must be JSON
        self.state = {**state, "run": result}
        return result

    def tickets(self):
        return TicketQueue(self.s3, BUCKET, "queue/").live_tickets(self.now)


@pytest.fixture
def harness(s3):
    return Harness(s3)


def test_candidates_put_each_type_on_spot_before_on_demand():
    assert candidates(["g4dn.xlarge", G5], spot=False, fallback=True) == [
        Capacity(G4DN),
        Capacity(G5),
    ]
    assert candidates([G4DN, G5], spot=True, fallback=True) == [
        Capacity(G4DN, True),
        Capacity(G4DN, False),
        Capacity(G5, True),
        Capacity(G5, False),
    ]
    assert candidates([G4DN, G5], spot=True, fallback=False) == [
        Capacity(G4DN, True),
        Capacity(G5, True),
    ]


def test_the_first_preferred_type_with_free_quota_starts_under_the_run_id(harness):
    result = harness.choose()
    assert result["action"] == "start"
    assert result["job"] == {
        "trainingJobName": RUN_ID,
        "instanceType": G4DN,
        "spot": False,
        "stoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    assert result["attempts"] == [
        {
            "attempt": 1,
            "trainingJobName": RUN_ID,
            "instanceType": G4DN,
            "spot": False,
            "startedAt": "2026-11-21T12:00:00.000000Z",
            "outcome": "Started",
            "reason": None,
        }
    ]
    assert result["quotas"][0] == {
        "instanceType": G4DN,
        "spot": False,
        "quota": 1,
        "inUse": 0,
        "reservedByEarlierRuns": 0,
    }
    assert harness.tickets() == []


def test_a_type_whose_quota_is_held_by_other_jobs_is_skipped(harness):
    harness.sagemaker.others.append(OtherJob("classmate-1", G4DN))
    result = harness.choose()
    assert (result["action"], result["job"]["instanceType"]) == ("start", G5)
    assert result["quotas"][0]["inUse"] == 1


def test_instance_count_counts_instances_not_jobs(s3):
    quotas = FakeServiceQuotas({G4DN: 3, G5: 4})
    harness = Harness(s3, environment(INSTANCE_COUNT="2"), quotas)
    # Two instances of g4dn are in use by one job: 3 - 2 < 2.
    harness.sagemaker.others.append(OtherJob("classmate-1", G4DN, count=2))
    assert harness.choose()["job"]["instanceType"] == G5


def test_spot_without_spot_quota_falls_back_to_on_demand_of_the_same_type(s3):
    quotas = FakeServiceQuotas({G4DN: 1, G5: 1}, spot={G4DN: 0, G5: 1})
    harness = Harness(s3, environment(SPOT="true"), quotas)
    job = harness.choose()["job"]
    assert (job["instanceType"], job["spot"]) == (G4DN, False)
    # On demand: no MaxWaitTimeInSeconds (SageMaker refuses it without spot); checkpoints still.
    assert job["stoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert job["checkpointUri"] == f"s3://{BUCKET}/output/{RUN_ID}/checkpoints/"


def test_a_spot_job_gets_max_wait_and_checkpoints(s3):
    quotas = FakeServiceQuotas({G4DN: 1}, spot={G4DN: 1})
    harness = Harness(s3, environment(SPOT="true"), quotas)
    job = harness.choose()["job"]
    assert job == {
        "trainingJobName": RUN_ID,
        "instanceType": G4DN,
        "spot": True,
        "stoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 3600 + 1800},
        "checkpointUri": f"s3://{BUCKET}/output/{RUN_ID}/checkpoints/",
    }


def test_spot_without_fallback_never_runs_on_demand(s3):
    quotas = FakeServiceQuotas({G4DN: 1, G5: 1}, spot={G4DN: 0, G5: 0})
    harness = Harness(s3, environment(SPOT="true", SPOT_FALLBACK_TO_ON_DEMAND="false"), quotas)
    result = harness.choose()
    assert result["action"] == "fail"
    assert result["failure"]["Error"] == "NoGpuQuotaError"
    assert "ml.g4dn.xlarge spot: quota 0" in result["failure"]["Cause"]
    assert "ml.g4dn.xlarge: quota" not in result["failure"]["Cause"]


def test_quota_taken_at_create_chooses_again_with_fresh_quotas_and_a_new_name(harness):
    harness.choose()
    # A classmate's job took g4dn between the check and CreateTrainingJob.
    harness.sagemaker.others.append(OtherJob("classmate-1", G4DN))
    result = harness.choose(after={"Error": RESOURCE_LIMIT_ERROR, "Cause": "limit is 1"})
    assert result["action"] == "start"
    assert result["job"]["trainingJobName"] == f"{RUN_ID}-2"
    assert result["job"]["instanceType"] == G5
    first = result["attempts"][0]
    assert (first["outcome"], first["reason"]) == ("ResourceLimitExceeded", "limit is 1")
    # Quota, not capacity: the type stays a candidate.
    assert result["noCapacity"] == []
    assert harness.quotas.reads == 2


def test_a_capacity_error_moves_to_the_next_type_for_the_rest_of_the_run(harness):
    harness.choose()
    failed = {"Error": "States.TaskFailed", "Cause": CAPACITY_CAUSE}
    result = harness.choose(after=failed)
    assert (result["job"]["trainingJobName"], result["job"]["instanceType"]) == (
        f"{RUN_ID}-2",
        G5,
    )
    assert result["attempts"][0]["outcome"] == "CapacityError"
    assert result["attempts"][0]["reason"].startswith("CapacityError: Unable to provision")
    assert result["noCapacity"] == [{"instanceType": G4DN, "spot": False}]
    # g5 refused for quota: g4dn has free quota but no capacity, so it is not tried again.
    result = harness.choose(after={"Error": RESOURCE_LIMIT_ERROR, "Cause": "taken"})
    assert result["job"]["instanceType"] == G5
    assert result["job"]["trainingJobName"] == f"{RUN_ID}-3"


def test_a_spot_job_out_of_spot_time_falls_back_to_on_demand(s3):
    quotas = FakeServiceQuotas({G4DN: 1}, spot={G4DN: 1})
    harness = Harness(s3, environment(SPOT="true"), quotas)
    harness.choose()
    cause = json.dumps({"TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxWaitTimeExceeded"})
    result = harness.choose(after={"Error": "States.TaskFailed", "Cause": cause})
    assert (result["job"]["instanceType"], result["job"]["spot"]) == (G4DN, False)
    assert result["attempts"][0]["outcome"] == "CapacityError"
    assert result["attempts"][0]["reason"].startswith("MaxWaitTimeExceeded")


def test_every_type_without_capacity_gives_up_with_the_attempts(harness):
    failed = {"Error": "States.TaskFailed", "Cause": CAPACITY_CAUSE}
    harness.choose()
    harness.choose(after=failed)
    result = harness.choose(after=failed)
    assert result["action"] == "fail"
    failure = result["failure"]
    assert (failure["Error"], failure["step"]) == ("NoCapacityError", "Choose")
    assert f"1. {RUN_ID} on {G4DN} on-demand: CapacityError" in failure["Cause"]
    assert f"2. {RUN_ID}-2 on {G5} on-demand: CapacityError" in failure["Cause"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {
                "Error": "States.TaskFailed",
                "Cause": json.dumps(
                    {
                        "TrainingJobStatus": "Failed",
                        "FailureReason": "ClientError: Empty .rec file in train channel",
                    }
                ),
            },
            "TrainingJobFailed",
        ),
        (
            {"Error": "SageMaker.AmazonSageMakerException", "Cause": "ValidationException: ..."},
            "SageMaker.AmazonSageMakerException",
        ),
    ],
    ids=["job failed", "request refused"],
)
def test_other_failures_are_not_retried(harness, error, expected):
    harness.choose()
    result = harness.choose(after=error)
    assert result["action"] == "fail"
    assert (result["failure"]["Error"], result["failure"]["step"]) == (
        expected,
        "CreateTrainingJob",
    )
    assert result["attempts"][0]["outcome"] == "Failed"
    assert "is not retried" in result["failure"]["Cause"]
    assert harness.quotas.reads == 1  # no second look at quotas


def test_no_free_quota_waits_in_the_queue_and_refreshes_its_ticket(harness):
    harness.sagemaker.others += [OtherJob("a", G4DN), OtherJob("b", G5)]
    result = harness.choose()
    assert result["action"] == "wait"
    assert result["waitSeconds"] == 90
    assert "Waiting for GPU quota (0 earlier run(s) waiting first)" in result["status"]
    (ticket,) = harness.tickets()
    assert ticket.key == result["ticketKey"] == ticket_key("queue/", START, RUN_ID)
    assert ticket.wants == (Capacity(G4DN), Capacity(G5))
    first_expiry = ticket.expires
    again = harness.choose(minutes=1.5)
    assert again["action"] == "wait"
    (ticket,) = harness.tickets()
    assert ticket.key == result["ticketKey"] and ticket.expires > first_expiry
    assert again["checks"] == 2


def test_quota_freed_during_the_wait_starts_and_removes_the_ticket(harness):
    harness.sagemaker.others.append(OtherJob("a", G4DN))
    harness.quotas.on_demand[G5] = 0
    assert harness.choose()["action"] == "wait"
    harness.sagemaker.others.clear()
    result = harness.choose(minutes=1.5)
    assert (result["action"], result["job"]["instanceType"]) == ("start", G4DN)
    assert harness.tickets() == []


def test_the_wait_ends_at_the_deadline_with_the_quota_table(harness):
    harness.sagemaker.others += [OtherJob("a", G4DN), OtherJob("b", G5)]
    assert harness.choose(minutes=59)["waitSeconds"] == 60  # never past the deadline
    result = harness.choose(minutes=1)
    assert result["action"] == "fail"
    cause = result["failure"]["Cause"]
    assert result["failure"]["Error"] == "NoGpuQuotaError"
    assert "The run waited for quota until its deadline 2026-11-21 13:00:00 UTC" in cause
    assert "ml.g4dn.xlarge: quota 1 (applied, L-3F53BF0F), 1 in use" in cause
    assert "Request 'ml.g4dn.xlarge for training job usage' = 2:" in cause
    assert harness.tickets() == []


def test_no_quota_at_all_fails_at_once_without_waiting(s3):
    harness = Harness(s3, quotas=FakeServiceQuotas({G4DN: 0, G5: 0}))
    result = harness.choose()
    assert result["action"] == "fail"
    assert "waited" not in result["failure"]["Cause"]
    assert (
        "--quota-code L-3F53BF0F --desired-value 1 --region us-east-1" in result["failure"]["Cause"]
    )


def test_no_waiting_allowed_fails_at_once_when_quota_is_in_use(s3):
    harness = Harness(s3, prepare=prepared(wait_minutes=0))
    harness.sagemaker.others += [OtherJob("a", G4DN), OtherJob("b", G5)]
    failure = harness.choose()["failure"]
    assert failure["Error"] == "NoGpuQuotaError"
    assert "the run may not wait past its deadline" in failure["Cause"]


def test_the_attempt_limit_ends_the_run(s3):
    harness = Harness(s3, prepare=prepared(max_attempts=2))
    taken = {"Error": RESOURCE_LIMIT_ERROR, "Cause": "taken"}
    harness.choose()
    assert harness.choose(after=taken)["action"] == "start"
    result = harness.choose(after=taken)
    assert result["action"] == "fail"
    assert result["failure"]["Error"] == "TooManyAttemptsError"
    assert len(result["attempts"]) == 2


# --- the queue -----------------------------------------------------------------------------------


def put_ticket(s3, arrival, run_id, wants, expires, count=1):
    ticket = Ticket(ticket_key("queue/", arrival, run_id), run_id, expires, tuple(wants), count)
    TicketQueue(s3, BUCKET, "queue/").put(ticket)
    return ticket


def earlier_run_waits_for(s3, instance_type):
    """A live ticket of a run that arrived five minutes before this one."""
    return put_ticket(
        s3,
        START - timedelta(minutes=5),
        "birds-early",
        [Capacity(instance_type)],
        START + timedelta(minutes=3),
    )


def test_an_earlier_waiting_run_gets_free_quota_first(harness, s3):
    earlier_run_waits_for(s3, G4DN)
    harness.quotas.on_demand[G5] = 0
    result = harness.choose()
    assert result["action"] == "wait"
    assert "1 earlier run(s) waiting first" in result["status"]
    assert result["quotas"][0]["reservedByEarlierRuns"] == 1


def test_quota_beyond_what_earlier_runs_need_may_be_taken(harness, s3):
    earlier_run_waits_for(s3, G4DN)
    harness.quotas.on_demand[G4DN] = 2
    assert harness.choose()["job"]["instanceType"] == G4DN


def test_a_ticket_for_other_capacity_does_not_hold_a_run_back(harness, s3):
    earlier_run_waits_for(s3, G5)
    assert harness.choose()["job"]["instanceType"] == G4DN


def test_a_dead_runs_ticket_expires_and_is_removed(harness, s3):
    dead = put_ticket(s3, START - timedelta(minutes=30), "birds-stopped", [Capacity(G4DN)], START)
    assert harness.choose()["job"]["instanceType"] == G4DN
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert dead.key not in keys


def test_a_later_run_does_not_hold_back_an_earlier_one(harness, s3):
    harness.sagemaker.others += [OtherJob("a", G4DN), OtherJob("b", G5)]
    harness.choose()  # waits, ticket at START
    put_ticket(
        s3,
        START + timedelta(minutes=1),
        "birds-later",
        [Capacity(G4DN)],
        START + timedelta(minutes=9),
    )
    harness.sagemaker.others = [OtherJob("b", G5)]
    result = harness.choose(minutes=1.5)
    assert (result["action"], result["job"]["instanceType"]) == ("start", G4DN)


def test_a_start_refused_for_quota_queues_again_in_its_old_place(harness, s3):
    harness.sagemaker.others += [OtherJob("a", G4DN), OtherJob("b", G5)]
    first_key = harness.choose()["ticketKey"]
    harness.sagemaker.others = [OtherJob("b", G5)]
    assert harness.choose(minutes=1.5)["action"] == "start"
    put_ticket(
        s3,
        START + timedelta(minutes=2),
        "birds-later",
        [Capacity(G4DN)],
        START + timedelta(minutes=9),
    )
    harness.sagemaker.others = [OtherJob("c", G4DN), OtherJob("b", G5)]
    result = harness.choose(after={"Error": RESOURCE_LIMIT_ERROR, "Cause": "taken"}, minutes=0.5)
    assert result["action"] == "wait"
    assert result["ticketKey"] == first_key
    assert "0 earlier run(s) waiting first" in result["status"]


def test_an_unreadable_ticket_is_skipped(harness, s3):
    s3.put_object(Bucket=BUCKET, Key="queue/00000000T000000000000Z-x.json", Body=b"{not json")
    assert harness.choose()["action"] == "start"


# --- classification and configuration -------------------------------------------------------------


def test_classify_reads_the_job_description_in_the_cause():
    verdict = classify({"Error": "States.TaskFailed", "Cause": CAPACITY_CAUSE}, {"spot": False})
    assert (verdict.outcome, verdict.retry, verdict.no_capacity) == ("CapacityError", True, True)
    # A plain-text cause that starts with the prefix is a capacity error too.
    plain = classify({"Error": "X", "Cause": "CapacityError: none left"}, {"spot": False})
    assert plain.no_capacity
    # MaxWaitTimeExceeded means no spot time only for a spot job.
    stopped = json.dumps({"TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxWaitTimeExceeded"})
    assert not classify({"Error": "X", "Cause": stopped}, {"spot": False}).retry


def test_choose_after_a_start_needs_the_caught_error(harness):
    harness.choose()
    with pytest.raises(InvalidStateError, match="no attemptError"):
        harness.choose()


def test_choose_needs_prepare(s3):
    with pytest.raises(InvalidStateError, match="Choose runs after Prepare"):
        choose({}, environment(), servicequotas=None, sagemaker=None, s3=s3)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"INSTANCE_TYPES": "[]"}, "INSTANCE_TYPES must be a non-empty JSON list"),
        ({"SPOT": "yes"}, "SPOT must be true or false"),
        ({"INSTANCE_COUNT": "0"}, "INSTANCE_COUNT must be a positive integer"),
        ({"QUEUE_BUCKET": ""}, "QUEUE_BUCKET is not set"),
        ({"SPOT": "true", "OUTPUT_URI": ""}, "OUTPUT_URI is not set"),
    ],
)
def test_bad_environment_names_the_variable(s3, changes, expected):
    with pytest.raises(ConfigurationError, match=expected):
        Harness(s3, environment(**changes)).choose()


def test_handler_reads_the_lambda_environment(s3, monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    fake = FakeServiceQuotas({G4DN: 1, G5: 1})
    real_session = boto3.session.Session

    class Session(real_session):
        def client(self, service_name, **kwargs):
            if service_name == "service-quotas":
                return fake
            return super().client(service_name, **kwargs)

    monkeypatch.setattr(choose_module.boto3.session, "Session", Session)
    result = choose_module.handler({"prepare": prepared(wait_minutes=0)}, None)
    assert result["job"]["instanceType"] == G4DN
