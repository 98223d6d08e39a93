"""Teardown on stack deletion, against moto (SageMaker and Step Functions; demo.moto_patches adds
StopTrainingJob, which moto lacks): this stack's InProgress jobs are stopped and nobody else's."""

from __future__ import annotations

import json

import boto3
import pytest

from demo import moto_patches
from stacks.training.runtime.workshop_runtime import teardown
from stacks.training.runtime.workshop_runtime.teardown import on_event, stop_own_work

moto_patches.apply()

OURS = "birds-20261121-120000-ab12"
JOBS = {
    OURS: "InProgress",
    f"{OURS}-2": "InProgress",  # a later attempt of the same run
    "birds-20261121-110000-cd34": "Completed",
    # Another seat's or stack's jobs whose prefix starts like ours, and hand-named jobs.
    "birds-2-20261121-120000-ef56": "InProgress",
    "birds-seat2-20261121-120000-ab12": "InProgress",
    "birds-my-experiment": "InProgress",
    "birds-20261121-120000-ab12-extra": "InProgress",
    "owls-20261121-120000-ab12": "InProgress",
}


def create_job(sagemaker, name: str) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "ic:1", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/training",
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={
            "InstanceType": "ml.g4dn.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 50,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )


@pytest.fixture
def clients(aws):
    sagemaker = boto3.client("sagemaker")
    for name, status in JOBS.items():
        create_job(sagemaker, name)
        moto_patches.set_job_status(name, status)
    stepfunctions = boto3.client("stepfunctions")
    machine = stepfunctions.create_state_machine(
        name="training",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    stepfunctions.start_execution(stateMachineArn=machine, name="waiting-for-quota")
    yield sagemaker, stepfunctions, machine
    moto_patches.STICKY_JOBS.clear()


def statuses(sagemaker):
    return {
        name: sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        for name in JOBS
    }


def delete_event(machine, **properties):
    return {
        "RequestType": "Delete",
        "PhysicalResourceId": teardown.PHYSICAL_RESOURCE_ID,
        "ResourceProperties": {
            "JobNamePrefix": "birds",
            "StateMachineArn": machine,
            "WaitSeconds": "60",
            **properties,
        },
    }


def test_delete_stops_exactly_this_stacks_jobs_and_runs(clients, caplog):
    sagemaker, stepfunctions, machine = clients
    caplog.set_level("INFO")
    result = on_event(
        delete_event(machine),
        sagemaker=sagemaker,
        stepfunctions=stepfunctions,
        sleep=lambda s: None,
    )
    assert result == {"PhysicalResourceId": teardown.PHYSICAL_RESOURCE_ID}
    after = statuses(sagemaker)
    assert {name for name, status in after.items() if status == "Stopping"} == {OURS, f"{OURS}-2"}
    assert {name for name in JOBS if after[name] != JOBS[name]} == {OURS, f"{OURS}-2"}
    (execution,) = stepfunctions.list_executions(stateMachineArn=machine)["executions"]
    assert execution["status"] == "ABORTED"
    assert f"Stopped training jobs: {OURS}, {OURS}-2" in caplog.text
    assert "waiting-for-quota" in caplog.text


def test_the_wait_is_bounded_when_a_job_will_not_stop(clients, caplog):
    sagemaker, stepfunctions, machine = clients
    moto_patches.STICKY_JOBS.add(OURS)
    clock = iter(range(0, 10_000, 10))
    slept = []
    result = stop_own_work(
        sagemaker=sagemaker,
        stepfunctions=stepfunctions,
        prefixes=["birds"],
        state_machine_arns=[machine],
        wait_seconds=60,
        sleep=slept.append,
        clock=lambda: next(clock),
    )
    assert result["stillInProgress"] == [OURS]
    assert 0 < sum(slept) <= 60
    assert "Still InProgress after 60 s" in caplog.text


def test_delete_never_fails(clients, caplog):
    sagemaker, _, machine = clients

    class Broken:
        def get_paginator(self, name):
            raise RuntimeError("the endpoint is down")

    result = on_event(
        delete_event(machine), sagemaker=sagemaker, stepfunctions=Broken(), sleep=lambda s: None
    )
    assert result == {"PhysicalResourceId": teardown.PHYSICAL_RESOURCE_ID}
    assert "the deletion goes on" in caplog.text


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_touch_nothing(request_type):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"unexpected call {name}")

    event = {"RequestType": request_type, "ResourceProperties": {"JobNamePrefix": "birds"}}
    assert on_event(event, sagemaker=NoCalls(), stepfunctions=NoCalls()) == {
        "PhysicalResourceId": teardown.PHYSICAL_RESOURCE_ID
    }


def test_without_a_prefix_nothing_is_stopped(clients):
    sagemaker, stepfunctions, machine = clients
    on_event(
        delete_event(machine, JobNamePrefix=""), sagemaker=sagemaker, stepfunctions=stepfunctions
    )
    assert statuses(sagemaker) == JOBS


def test_jobs_are_stopped_even_when_the_executions_cannot_be_listed(clients, caplog):
    sagemaker, stepfunctions, machine = clients
    gone = machine.replace(":stateMachine:training", ":stateMachine:deleted-already")
    result = stop_own_work(
        sagemaker=sagemaker,
        stepfunctions=stepfunctions,
        prefixes=["birds"],
        state_machine_arns=[gone],
        wait_seconds=0,
        sleep=lambda s: None,
    )
    assert result["executions"] == []
    assert result["jobs"] == [OURS, f"{OURS}-2"]
    assert "Could not list the executions" in caplog.text


def test_a_stack_with_seats_stops_every_listed_seats_work_and_nothing_else(aws, caplog):
    """One Delete for every seat: each seat's executions and exactly-named jobs stop; a seat the
    resource does not list, and the seats' common prefix, keep running."""
    sagemaker, stepfunctions = boto3.client("sagemaker"), boto3.client("stepfunctions")
    jobs = {
        "birds-s01-20261121-120000-ab12": "Stopping",
        "birds-s02-20261121-120500-cd34-2": "Stopping",
        "birds-s03-20261121-120000-ab12": "InProgress",  # not listed in this resource
        "birds-20261121-120000-ab12": "InProgress",  # the prefix without a seat
    }
    for name in jobs:
        create_job(sagemaker, name)
        moto_patches.set_job_status(name, "InProgress")
    machines = []
    for seat in ("s01", "s02", "s03"):
        machine = stepfunctions.create_state_machine(
            name=f"training-{seat}",
            definition=json.dumps(
                {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
            ),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        stepfunctions.start_execution(stateMachineArn=machine, name="running")
        machines.append(machine)
    caplog.set_level("INFO")
    event = {
        "RequestType": "Delete",
        "PhysicalResourceId": teardown.PHYSICAL_RESOURCE_ID,
        "ResourceProperties": {
            "Seats": [
                {"JobNamePrefix": "birds-s01", "StateMachineArn": machines[0]},
                {"JobNamePrefix": "birds-s02", "StateMachineArn": machines[1]},
            ],
            "WaitSeconds": "0",
        },
    }
    on_event(event, sagemaker=sagemaker, stepfunctions=stepfunctions, sleep=lambda s: None)
    after = {
        name: sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        for name in jobs
    }
    assert after == jobs
    runs = [
        stepfunctions.list_executions(stateMachineArn=m)["executions"][0]["status"]
        for m in machines
    ]
    assert runs == ["ABORTED", "ABORTED", "RUNNING"]
    assert "birds-s01-20261121-120000-ab12, birds-s02-20261121-120500-cd34-2" in caplog.text
