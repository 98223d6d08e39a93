"""The synthesized training state machine executed, branch by branch, in moto's Step Functions
interpreter (demo/training_run.py): only the Lambda tasks and the `.sync` training task are
replaced, by waitForTaskToken tasks the driver answers with our handlers' real logic and with
scripted training outcomes. Each test asserts the path taken (execution history), the attempts
(execution output or cause), report.json and the emailed notification."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aws_cdk as cdk
import boto3
import pytest
from moto import mock_aws

from demo import moto_patches
from demo.fake_quotas import FakeServiceQuotas, OtherJob, SageMakerWithOtherJobs
from demo.training_run import (
    Clients,
    Hangs,
    JobFails,
    NoCapacity,
    QuotaTaken,
    Refused,
    TrainingScript,
    Trains,
    deploy_training,
)
from stacks.app import create_app

from ..conftest import cdk_json_context

BUCKET = "workshop-bucket"
G4DN, G5 = "ml.g4dn.xlarge", "ml.g5.xlarge"
EMAILS = {"workshop.notificationEmails": '["ana@example.com"]'}
MANIFEST = {
    "schema": 1,
    "num_training_samples": 335,
    "num_validation_samples": 112,
    "num_classes": 4,
    "labels": [],
}
# Choose checks again after one second instead of 90.
FAST = {"workshop_runtime.choose.handler": {"POLL_SECONDS": "1"}}

moto_patches.apply()


def synthesized(overrides: dict[str, str]) -> dict:
    app = create_app({**cdk_json_context(), **overrides})
    (stack,) = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    return app.synth().get_stack_by_name(stack.stack_name).template


@pytest.fixture(scope="module")
def with_emails():
    return synthesized(EMAILS)


@pytest.fixture(scope="module")
def with_spot():
    return synthesized({**EMAILS, "workshop.training.spot": "true"})


@pytest.fixture
def emulator(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def deploy(template, *, quotas=None, outcomes=(), manifest=True, environment=None, **kwargs):
    s3 = boto3.client("s3")
    if manifest:
        s3.put_object(Bucket=BUCKET, Key="manifest.json", Body=json.dumps(MANIFEST).encode())
    clients = Clients(
        s3=s3,
        sagemaker=SageMakerWithOtherJobs(boto3.client("sagemaker")),
        servicequotas=quotas or FakeServiceQuotas({G4DN: 1, G5: 1}),
        logs=boto3.client("logs"),
        sns=boto3.client("sns"),
    )
    return deploy_training(
        template,
        boto3.client,
        bucket=BUCKET,
        clients=clients,
        training=TrainingScript(list(outcomes)),
        environment={**FAST, **(environment or {})},
        job_status=moto_patches.set_job_status,
        **kwargs,
    )


def report_json(job):
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"output/{job}/report.json")["Body"]
    return json.loads(body.read())


def queue_keys():
    listing = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="queue/")
    return [item["Key"] for item in listing.get("Contents", [])]


TRAINED = ["CreateTrainingJob", "Report", "NotifyTrained", "Trained"]
START = ["Prepare", "Choose", "Decide"]
RETRY = ["CreateTrainingJob", "Choose", "Decide"]
GAVE_UP = ["GaveUp", "NotifyFailed", "TrainingRunFailed"]


def outcomes_of(attempts):
    return [
        (a["trainingJobName"][-2:], a["instanceType"], a["spot"], a["outcome"]) for a in attempts
    ]


def test_success_on_the_first_try(emulator, with_emails):
    deployment = deploy(with_emails, outcomes=[Trains(epochs=3)])
    run = deployment.run("first-try")
    assert run.status == "SUCCEEDED"
    assert run.states == START + TRAINED
    (request,) = deployment.driver.training.requests
    assert request["ResourceConfig"] == {
        "InstanceCount": 1,
        "InstanceType": G4DN,
        "VolumeSizeInGB": 50,
    }
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert "EnableManagedSpotTraining" not in request and "CheckpointConfig" not in request
    job = request["TrainingJobName"]
    assert run.output["report"]["attempts"][0]["outcome"] == "Completed"
    assert report_json(job)["attempts"] == run.output["report"]["attempts"]
    (mail,) = deployment.notifications()
    assert mail["Subject"] == f"Training run succeeded: {job} on {G4DN}"
    assert "Epochs: 3; final train accuracy 0.900, validation accuracy 0.800" in mail["Message"]
    assert f"1. {job} on {G4DN} on-demand: Completed" in mail["Message"]
    assert f"Report: s3://{BUCKET}/output/{job}/report.json" in mail["Message"]


def test_quota_taken_at_create_chooses_again_with_fresh_quotas(emulator, with_emails):
    # The job that took the quota is running when Choose looks again.
    taken = QuotaTaken(taken_by=OtherJob("classmate-1", G4DN))
    deployment = deploy(with_emails, outcomes=[taken, Trains()])
    run = deployment.run("quota-taken")
    assert run.status == "SUCCEEDED"
    assert run.states == START + RETRY + TRAINED
    attempts = run.output["report"]["attempts"]
    assert outcomes_of(attempts) == [
        (attempts[0]["trainingJobName"][-2:], G4DN, False, "ResourceLimitExceeded"),
        ("-2", G5, False, "Completed"),
    ]
    assert "is 1 Instances, with current utilization of 1" in attempts[0]["reason"]
    assert deployment.driver.clients.servicequotas.reads == 2


def test_a_capacity_error_moves_to_the_next_type(emulator, with_emails):
    deployment = deploy(with_emails, outcomes=[NoCapacity(), Trains()])
    run = deployment.run("capacity")
    assert run.status == "SUCCEEDED"
    assert run.states == START + RETRY + TRAINED
    attempts = run.output["report"]["attempts"]
    assert [a["outcome"] for a in attempts] == ["CapacityError", "Completed"]
    assert [a["instanceType"] for a in attempts] == [G4DN, G5]
    assert attempts[0]["reason"].startswith("CapacityError: Unable to provision")
    job = attempts[1]["trainingJobName"]
    assert job == attempts[0]["trainingJobName"] + "-2"
    assert report_json(job)["attempts"] == attempts
    (mail,) = deployment.notifications()
    assert (
        f"1. {attempts[0]['trainingJobName']} on {G4DN} on-demand: CapacityError" in mail["Message"]
    )
    assert f"2. {job} on {G5} on-demand: Completed" in mail["Message"]


def test_spot_without_spot_quota_falls_back_to_on_demand(emulator, with_spot):
    quotas = FakeServiceQuotas({G4DN: 1, G5: 1}, spot={G4DN: 0, G5: 0})
    deployment = deploy(with_spot, quotas=quotas, outcomes=[Trains()])
    run = deployment.run("spot-fallback")
    assert run.status == "SUCCEEDED"
    (request,) = deployment.driver.training.requests
    job = request["TrainingJobName"]
    assert request["EnableManagedSpotTraining"] is False
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert request["CheckpointConfig"] == {"S3Uri": f"s3://{BUCKET}/output/{job}/checkpoints/"}
    assert outcomes_of(run.output["report"]["attempts"]) == [(job[-2:], G4DN, False, "Completed")]


def test_a_spot_job_reports_what_spot_saved(emulator, with_spot):
    quotas = FakeServiceQuotas({G4DN: 1}, spot={G4DN: 1})
    deployment = deploy(
        with_spot, quotas=quotas, outcomes=[Trains(billable_seconds=200, training_seconds=600)]
    )
    run = deployment.run("spot")
    (request,) = deployment.driver.training.requests
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 3600,
        "MaxWaitTimeInSeconds": 3600 + 1800,
    }
    report = run.output["report"]
    assert (report["spot"], report["billableSeconds"], report["trainingSeconds"]) == (
        True,
        200,
        600,
    )
    assert report["spotSavingsPercent"] == 66.7
    (mail,) = deployment.notifications()
    assert "managed spot (billed 3 min 20 s of 10 min 00 s trained, 66.7% saved)" in mail["Message"]


def test_a_spot_capacity_error_runs_the_same_type_on_demand(emulator, with_spot):
    quotas = FakeServiceQuotas({G4DN: 1}, spot={G4DN: 1})
    deployment = deploy(with_spot, quotas=quotas, outcomes=[NoCapacity(), Trains()])
    run = deployment.run("spot-capacity")
    assert run.states == START + RETRY + TRAINED
    assert [
        (a["instanceType"], a["spot"], a["outcome"]) for a in run.output["report"]["attempts"]
    ] == [
        (G4DN, True, "CapacityError"),
        (G4DN, False, "Completed"),
    ]


def test_all_quota_in_use_then_freed_during_the_wait(emulator, with_emails):
    deployment = deploy(with_emails, outcomes=[Trains()])
    others = deployment.driver.clients.sagemaker.others
    others += [OtherJob("classmate-1", G4DN), OtherJob("classmate-2", G5)]
    stepfunctions = deployment.driver.stepfunctions
    arn = stepfunctions.start_execution(
        stateMachineArn=deployment.state_machine_arn, name="freed", input="{}"
    )["executionArn"]
    while not any(
        state == "Choose" and isinstance(result, dict) and result.get("action") == "wait"
        for state, result in deployment.driver.answered
    ):
        deployment.driver.pump()
    assert len(queue_keys()) == 1  # the run's ticket while it waits
    others.pop(0)  # classmate-1's g4dn job ends
    run = deployment.driver.wait(arn)
    assert run.status == "SUCCEEDED"
    assert run.states[:5] == START + ["WaitForQuota", "Choose"]
    assert run.states[-4:] == TRAINED
    assert outcomes_of(run.output["report"]["attempts"])[0][1:] == (G4DN, False, "Completed")
    assert queue_keys() == []  # removed when the job started


class ScaledClock:
    """A minute of the run's time per second of the test's."""

    def __init__(self):
        self.real_start = datetime.now(UTC)

    def __call__(self):
        elapsed = datetime.now(UTC) - self.real_start
        return self.real_start + elapsed * 60


def test_the_wait_runs_out_with_the_quota_table(emulator, with_emails):
    deployment = deploy(
        with_emails,
        environment={"workshop_runtime.prepare.handler": {"WAIT_FOR_QUOTA_MINUTES": "3"}},
        clock=ScaledClock(),
    )
    deployment.driver.clients.sagemaker.others += [OtherJob("a", G4DN), OtherJob("b", G5)]
    run = deployment.run("runs-out")
    assert run.status == "FAILED"
    assert run.states[:5] == START + ["WaitForQuota", "Choose"]
    assert run.states[-3:] == GAVE_UP
    assert run.error == "Choose.NoGpuQuotaError"
    assert "The run waited for quota until its deadline" in run.cause
    assert "ml.g4dn.xlarge: quota 1 (applied, L-3F53BF0F), 1 in use" in run.cause
    assert deployment.driver.training.requests == []
    assert queue_keys() == []
    (mail,) = deployment.notifications()
    assert mail["Subject"] == "Training run failed at Choose: NoGpuQuotaError"
    assert "ml.g5.xlarge: quota 1" in mail["Message"]


def test_a_failure_that_is_not_about_capacity_is_not_retried(emulator, with_emails):
    deployment = deploy(with_emails, outcomes=[JobFails()])
    run = deployment.run("algorithm-error")
    assert run.status == "FAILED"
    assert run.states == START + RETRY + GAVE_UP
    assert run.error == "CreateTrainingJob.TrainingJobFailed"
    assert "AlgorithmError: The number of input images must be bigger" in run.cause
    assert ": Failed: AlgorithmError" in run.cause  # the attempts table
    (mail,) = deployment.notifications()
    assert mail["Subject"] == "Training run failed at CreateTrainingJob: TrainingJobFailed"


def test_a_request_sagemaker_refuses_is_not_retried(emulator, with_emails):
    deployment = deploy(with_emails, outcomes=[Refused()])
    run = deployment.run("refused")
    assert run.states == START + RETRY + GAVE_UP
    assert run.error == "CreateTrainingJob.SageMaker.AmazonSageMakerException"


def test_a_job_that_never_ends_times_out_and_is_not_retried(emulator, with_emails):
    # The synthesized limit is the job's MaxRuntime plus an hour; two seconds here.
    deployment = deploy(with_emails, outcomes=[Hangs()], timeouts={"CreateTrainingJob": 2})
    run = deployment.run("hangs")
    assert run.status == "FAILED"
    assert run.states == START + [
        "CreateTrainingJob",
        "CreateTrainingJobFailed",
        "NotifyFailed",
        "TrainingRunFailed",
    ]
    assert run.error == "CreateTrainingJob.States.Timeout"
    (mail,) = deployment.notifications()
    assert mail["Subject"] == "Training run failed at CreateTrainingJob: States.Timeout"


def test_a_prepare_error_ends_the_run_with_its_message(emulator, with_emails):
    deployment = deploy(with_emails, manifest=False)
    run = deployment.run("no-manifest")
    assert run.status == "FAILED"
    assert run.states == ["Prepare", "PrepareFailed", "NotifyFailed", "TrainingRunFailed"]
    assert run.error == "Prepare.ManifestNotFoundError"
    assert json.loads(run.cause)["errorMessage"].startswith(f"s3://{BUCKET}/manifest.json does not")
    (mail,) = deployment.notifications()
    assert mail["Subject"] == "Training run failed at Prepare: ManifestNotFoundError"


def test_the_attempt_limit_ends_the_run(emulator, with_emails):
    deployment = deploy(
        with_emails,
        outcomes=[QuotaTaken(), QuotaTaken()],
        environment={"workshop_runtime.prepare.handler": {"MAX_ATTEMPTS": "2"}},
    )
    run = deployment.run("attempt-limit")
    assert run.states == START + RETRY + RETRY + GAVE_UP
    assert run.error == "Choose.TooManyAttemptsError"
    assert len(deployment.driver.training.requests) == 2


def test_an_undelivered_email_does_not_fail_a_trained_run(emulator, with_emails):
    deployment = deploy(
        with_emails,
        outcomes=[Trains()],
        environment={
            "workshop_runtime.notify.handler": {
                "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:deleted-topic"
            }
        },
    )
    run = deployment.run("mail-fails")
    assert run.status == "SUCCEEDED"
    assert run.states == START + TRAINED
    assert "NotFound" in run.output["notificationError"]["Error"]


def test_without_emails_there_is_no_notify_step(emulator, template):
    deployment = deploy(template, outcomes=[Trains()])
    assert deployment.notifications_queue_url is None
    assert deployment.run("quiet").states == START + ["CreateTrainingJob", "Report", "Trained"]
    boto3.client("s3").delete_object(Bucket=BUCKET, Key="manifest.json")
    failed = deploy(template, manifest=False, name="quiet-failing").run("quiet-failing")
    assert failed.states == ["Prepare", "PrepareFailed", "TrainingRunFailed"]


def test_waiting_runs_start_in_arrival_order(emulator, with_emails):
    deployment = deploy(with_emails, outcomes=[Trains(), Trains()])
    driver = deployment.driver
    driver.clients.servicequotas.on_demand = {G4DN: 1, G5: 0}
    driver.clients.sagemaker.others.append(OtherJob("classmate-1", G4DN))
    stepfunctions = driver.stepfunctions

    def start(name):
        return stepfunctions.start_execution(
            stateMachineArn=deployment.state_machine_arn, name=name, input="{}"
        )["executionArn"]

    def decisions(action):
        return [
            result
            for state, result in driver.answered
            if state == "Choose" and isinstance(result, dict) and result["action"] == action
        ]

    first = start("early-bird")
    while not decisions("wait"):
        driver.pump()
    second = start("late-bird")
    while len(queue_keys()) < 2:
        driver.pump()
    driver.clients.sagemaker.others.clear()
    runs = [driver.wait(first), driver.wait(second)]
    assert [run.status for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    # The later run saw the earlier one's ticket, and the quota went to the earlier run first.
    assert any("1 earlier run(s) waiting first" in r["status"] for r in decisions("wait"))
    started = [r["job"]["trainingJobName"] for r in decisions("start")]
    assert started == [run.output["report"]["trainingJobName"] for run in runs]
