"""Seats, executed through the IAM simulator: seat 01's student does what a student does in their
seat and nothing in seat 02's; seat 01's build, job, functions and state machine cannot touch
seat 02's data, jobs or functions; every seat's Choose shares the one queue, no student touches it.

Each request is what the call needs (actions.py), evaluated against the synthesized identity
policies and the bucket policy (simulate.py), on the session's seated stacks (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import SEATED
from . import flows
from .actions import Call, Environment, authorizations
from .cfn import Template
from .conftest import DEFAULT_ENVIRONMENT
from .simulate import PolicySet, evaluate, explain

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"


class Seats:
    """Names in one seated template, as the deployed stack would have them."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.env = Environment(template.account, template.region)
        (bucket,) = template.of_type("AWS::S3::Bucket")
        self.bucket = template.physical_name(bucket)

    def _one(self, seat: str, kind: str, stem: str = "") -> str:
        (logical_id,) = [
            i for i in self.template.of_type(kind) if i.startswith(f"Seat{seat}{stem}")
        ]
        return logical_id

    def machine_arn(self, seat: str) -> str:
        return self.template.ref(self._one(seat, "AWS::StepFunctions::StateMachine"))

    def execution_arn(self, seat: str) -> str:
        name = self.template.physical_name(self._one(seat, "AWS::StepFunctions::StateMachine"))
        return self.env.arn("states", f"execution:{name}:run-1")

    def project(self, seat: str) -> str:
        return self.template.physical_name(self._one(seat, "AWS::CodeBuild::Project"))

    def build_logs(self, seat: str) -> str:
        return self.template.physical_name(
            self._one(seat, "AWS::Logs::LogGroup", "PackagingBuildBuildLogs")
        )

    def function_arn(self, seat: str, stem: str) -> str:
        return self.template.arn_of(self._one(seat, "AWS::Lambda::Function", stem))

    def role_arn(self, seat: str, stem: str) -> str:
        return self.template.arn_of(self._one(seat, "AWS::IAM::Role", stem))


@pytest.fixture(scope="module", params=list(SEATED))
def seats(request, seated_apps) -> tuple[Seats, PolicySet]:
    _, assembly = seated_apps[request.param]
    (stack,) = assembly.stacks
    template = Template.load(
        Path(assembly.directory) / stack.template_file,
        stack_name=stack.stack_name,
        **DEFAULT_ENVIRONMENT,
    )
    return Seats(template), PolicySet.of(template)


def decide(seats: tuple[Seats, PolicySet], component: str, calls: list[tuple]) -> list[str]:
    """'allowed' or 'denied: why' per call (service, operation, params), in one simulator run; a
    call is allowed when every IAM request it makes is."""
    names, policies = seats
    per_call = [
        authorizations(
            Call(component, service, operation, params, names.env.region, "seat isolation"),
            names.env,
        )
        for service, operation, params in calls
    ]
    decisions = iter(evaluate(policies, [r for requests in per_call for r in requests]))
    verdicts = []
    for requests in per_call:
        refused = [d for d in (next(decisions) for _ in requests) if not d.allowed]
        verdicts.append(
            "denied: " + "; ".join(explain(policies, d) for d in refused) if refused else "allowed"
        )
    return verdicts


def s3(operation: str, bucket: str, key: str | None = None, **params: str) -> tuple:
    return ("s3", operation, {"Bucket": bucket, **({"Key": key} if key else {}), **params})


def job_stream(seat: str) -> dict[str, str]:
    return {
        "logGroupName": TRAINING_LOGS,
        "logStreamName": f"birds-s{seat}-20261129-101500-1/algo-1-1764411300",
    }


def student_calls(names: Seats, seat: str) -> list[tuple]:
    """What a student does in `seat`: upload, replace a channel, list, read the report, run and
    follow training and packaging, read the logs, stop a job."""
    bucket, job = names.bucket, f"birds-s{seat}-20261129-101500-1"
    return [
        s3("PutObject", bucket, f"seat-{seat}/raw/birds.zip"),
        s3("PutObject", bucket, f"seat-{seat}/train/birds_train.rec"),
        s3("DeleteObject", bucket, f"seat-{seat}/validation/old_val.rec"),
        s3("ListObjectsV2", bucket, Prefix=f"seat-{seat}/"),
        s3("ListObjectsV2", bucket, Prefix=f"seat-{seat}/output/", Delimiter="/"),
        s3("GetObject", bucket, f"seat-{seat}/output/{job}/report.json"),
        s3("GetObject", bucket, f"seat-{seat}/manifest.json"),
        ("stepfunctions", "StartExecution", {"stateMachineArn": names.machine_arn(seat)}),
        ("stepfunctions", "ListExecutions", {"stateMachineArn": names.machine_arn(seat)}),
        ("stepfunctions", "DescribeExecution", {"executionArn": names.execution_arn(seat)}),
        ("stepfunctions", "GetExecutionHistory", {"executionArn": names.execution_arn(seat)}),
        ("stepfunctions", "StopExecution", {"executionArn": names.execution_arn(seat)}),
        ("codebuild", "StartBuild", {"projectName": names.project(seat)}),
        ("codebuild", "BatchGetBuilds", {"ids": [f"{names.project(seat)}:0b1c"]}),
        ("logs", "FilterLogEvents", {"logGroupName": names.build_logs(seat)}),
        (
            "logs",
            "GetLogEvents",
            {"logGroupName": names.build_logs(seat), "logStreamName": "0b1c"},
        ),
        ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": job}),
        ("sagemaker", "StopTrainingJob", {"TrainingJobName": job}),
        ("logs", "GetLogEvents", job_stream(seat)),
    ]


def test_a_student_can_work_in_their_own_seat(seats):
    names, _ = seats
    calls = [
        *student_calls(names, "01"),
        ("s3", "ListBuckets", {}),
        s3("GetBucketLocation", names.bucket),
    ]
    verdicts = decide(seats, "seat 01 student role", calls)
    assert verdicts == ["allowed"] * len(calls), [v for v in verdicts if v != "allowed"]


def test_a_student_can_do_none_of_it_in_another_seat(seats):
    names, _ = seats
    calls = student_calls(names, "02")
    verdicts = decide(seats, "seat 01 student role", calls)
    allowed = [call for call, verdict in zip(calls, verdicts, strict=True) if verdict == "allowed"]
    assert allowed == []
    # The very same calls are allowed to seat 02's student: only the seat makes the difference.
    assert decide(seats, "seat 02 student role", calls) == ["allowed"] * len(calls)


def test_a_student_cannot_reach_the_rest_of_the_bucket_or_rewrite_results(seats):
    bucket = seats[0].bucket
    calls = [
        s3("ListObjectsV2", bucket),  # the bucket's root
        s3("ListObjectsV2", bucket, Prefix="seat-0"),  # every seat's names
        s3("ListObjectsV2", bucket, Prefix="queue/"),
        s3("PutObject", bucket, "queue/20261129T101500-run.json"),
        s3("GetObject", bucket, "queue/20261129T101500-run.json"),
        s3("PutObject", bucket, "seat-01/output/birds-s01-x/report.json"),
        s3("PutObject", bucket, "seat-01x/raw/birds.zip"),
        s3("GetObject", bucket, "raw/birds.zip"),
        ("sagemaker", "StopTrainingJob", {"TrainingJobName": "birds-20261129-101500-1"}),
        ("sagemaker", "StopTrainingJob", {"TrainingJobName": "birds-s010-20261129"}),
    ]
    verdicts = decide(seats, "seat 01 student role", calls)
    assert all(v.startswith("denied") for v in verdicts), list(zip(calls, verdicts, strict=True))


def service_calls_into_seat(names: Seats, seat: str) -> dict[str, list[tuple]]:
    """What each of a seat's service roles does there (allowed for the seat's own roles)."""
    bucket = names.bucket
    return {
        "packaging build": [
            s3("GetObject", bucket, f"seat-{seat}/raw/birds.zip"),
            s3("ListObjectsV2", bucket, Prefix=f"seat-{seat}/train/"),
            s3("PutObject", bucket, f"seat-{seat}/train/birds_train.rec"),
            s3("DeleteObject", bucket, f"seat-{seat}/validation/old_val.rec"),
            s3("PutObject", bucket, f"seat-{seat}/manifest.json"),
        ],
        "training execution (SageMaker)": [
            s3("ListObjectsV2", bucket, Prefix=f"seat-{seat}/train/"),
            s3("GetObject", bucket, f"seat-{seat}/train/birds_train.rec"),
            s3("PutObject", bucket, f"seat-{seat}/output/birds-s{seat}-1/output/model.tar.gz"),
        ],
        "prepare function": [s3("GetObject", bucket, f"seat-{seat}/manifest.json")],
        "report function": [
            s3("PutObject", bucket, f"seat-{seat}/output/birds-s{seat}-1/report.json"),
            ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": f"birds-s{seat}-1"}),
            ("logs", "GetLogEvents", job_stream(seat)),
        ],
        "state machine": [
            (
                "lambda",
                "Invoke",
                {"FunctionName": names.function_arn(seat, "TrainingFunctionsPrepare")},
            ),
            (
                "sagemaker",
                "CreateTrainingJob",
                {
                    "TrainingJobName": f"birds-s{seat}-20261129-101500-1",
                    "RoleArn": names.role_arn(seat, "TrainingExecutionRole"),
                },
            ),
        ],
    }


@pytest.mark.parametrize(
    "component",
    [
        "packaging build",
        "training execution (SageMaker)",
        "prepare function",
        "report function",
        "state machine",
    ],
)
def test_a_seats_service_roles_work_in_their_seat_and_not_in_another(seats, component):
    names, _ = seats
    own = decide(seats, f"seat 01 {component}", service_calls_into_seat(names, "01")[component])
    assert own == ["allowed"] * len(own), own
    others = service_calls_into_seat(names, "02")[component]
    other = decide(seats, f"seat 01 {component}", others)
    assert all(v.startswith("denied") for v in other), list(zip(others, other, strict=True))
    assert decide(seats, f"seat 02 {component}", others) == ["allowed"] * len(others)


def test_every_seats_choose_keeps_tickets_in_the_one_queue_and_reads_no_seat(seats):
    bucket = seats[0].bucket
    ticket = "queue/20261129T101500-run.json"
    queue = [
        s3("ListObjectsV2", bucket, Prefix="queue/"),
        s3("PutObject", bucket, ticket),
        s3("GetObject", bucket, ticket),
        s3("DeleteObject", bucket, ticket),
    ]
    for seat in ("01", "02"):
        assert decide(seats, f"seat {seat} choose function", queue) == ["allowed"] * len(queue)
    data = [s3("GetObject", bucket, f"seat-{s}/manifest.json") for s in ("01", "02")]
    assert all(v.startswith("denied") for v in decide(seats, "seat 01 choose function", data))


def test_every_role_of_a_seated_stack_is_a_known_component(seats):
    names, policies = seats
    seat_roles = {name for name in policies.components if name.startswith("seat ")}
    per_seat = {name.split(" ", 2)[2] for name in seat_roles}
    assert {"student role", "packaging build", "choose function", "state machine"} <= per_seat
    for kind in per_seat:
        assert {f"seat 01 {kind}", f"seat 02 {kind}"} <= seat_roles, kind


def test_one_seats_packaging_fills_its_channels_and_leaves_the_other_seats_untouched(
    seated_apps, emulator, tmp_path
):
    """Seat 01's build, run as CodeBuild runs it (its buildspec, its project's variables, the
    overrides its rule sends for an upload to seat-01/raw/) on the emulator: seat 01 gets its
    channels and manifest, seat 02's objects stay as they were, and every call the build made is
    allowed to seat 01's build role."""
    _, assembly = seated_apps["2 seats, every feature"]
    (stack,) = assembly.stacks
    template = Template.load(
        Path(assembly.directory) / stack.template_file,
        stack_name=stack.stack_name,
        **DEFAULT_ENVIRONMENT,
    )
    emulator.reset()
    workshop = flows.Workshop(template, Path(assembly.directory), emulator, tmp_path)
    flows.create_bucket(workshop)
    s3 = workshop.client("s3")
    s3.upload_file(
        str(flows.image_archive(tmp_path / "birds.zip")), workshop.bucket, "seat-01/raw/birds.zip"
    )
    other = {
        "seat-02/raw/birds.zip": b"seat 02's archive",
        "seat-02/train/birds_train.rec": b"seat 02's channel",
        "seat-02/validation/birds_val.rec": b"seat 02's channel",
        "seat-02/manifest.json": b"{}",
    }
    for key, body in other.items():
        s3.put_object(Bucket=workshop.bucket, Key=key, Body=body)
    (project,) = [i for i in template.of_type("AWS::CodeBuild::Project") if i.startswith("Seat01")]
    overrides = flows.target_overrides(template, "seat-01/raw/birds.zip", project)
    completed = flows.run_build_command(
        workshop, overrides, "seat 01", project_id=project, component="seat 01 packaging build"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=workshop.bucket)["Contents"]}
    ours = {k for k in keys if k.startswith("seat-01/")}
    assert "seat-01/manifest.json" in ours
    assert any(k.startswith("seat-01/train/") and k.endswith(".rec") for k in ours)
    assert any(k.startswith("seat-01/validation/") and k.endswith(".rec") for k in ours)
    assert keys - ours == set(other)
    for key, body in other.items():
        assert s3.get_object(Bucket=workshop.bucket, Key=key)["Body"].read() == body
    policies = PolicySet.of(template)
    environment = Environment(template.account, template.region)
    requests = [r for c in workshop.calls for r in authorizations(c, environment)]
    assert any(r.action == "s3:PutObject" for r in requests)
    refused = [explain(policies, d) for d in evaluate(policies, requests) if not d.allowed]
    assert refused == []
