"""The flows that exercise our code against the emulator, with every AWS call recorded and tagged
with the component (role) that makes it in AWS.

- the packaging build: the buildspec's build commands from the template, run with bash as CodeBuild
  would (event start and manual start), and `recpack upload` with a multipart upload that completes
  and one that fails for good (s3transfer aborts it);
- the state machine: its definition walked (states.py) with real task results: Lambda tasks run our
  handlers from the synthesized code asset, createTrainingJob.sync renders the request, creates the
  job in the emulator and adds Step Functions' and SageMaker's own calls (on_behalf.py); every Catch
  path is walked once too;
- the state machine again while a classmate's jobs hold the quota: Choose waits in line (its
  ticket in the queue, WaitForQuota) until the jobs end;
- the preflight custom resource (Create, Update, Delete) with the template's properties, and the
  teardown custom resource's Delete with this stack's job and execution still running;
- the build-ended function (with notifications or startAfterPackaging) for a build that succeeded
  and one that failed;
- CDK's bucket-notifications handler (its inline Python from the template);
- EventBridge targets, CodeBuild, Lambda logging, the provider framework (on_behalf.py).
A new flow: a function returning Calls, added to `run_flows`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import types
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from demo import moto_patches

from . import on_behalf, recorder
from .actions import Call
from .cfn import Template
from .components import component_names
from .states import TaskFailure, execute

REPO = Path(__file__).resolve().parents[2]
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
OTHER_TEAMS_JOB = "another-class-running-job"
EXECUTION_INPUT = {"hyperparameters": {"epochs": 2, "checkpoint_frequency": 2}}
# moto lacks StopTrainingJob and drops SendTaskFailure's cause; the teardown flow stops a job.
moto_patches.apply()


class FlowError(Exception):
    pass


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Emulator:
    """moto's server in a thread of this process (so tests can reach its backends)."""

    def __init__(self) -> None:
        import socket

        from moto.server import ThreadedMotoServer

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def __enter__(self) -> Emulator:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()

    def reset(self) -> None:
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        ).close()

    def environment(self, region: str) -> dict[str, str]:
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }

    def client(self, service: str, region: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@dataclass
class Workshop:
    """One synthesized stack, bound to the emulator, and everything its flows recorded."""

    template: Template
    assembly: Path
    emulator: Emulator
    work: Path
    calls: list[Call] = field(default_factory=list)
    training_requests: list[dict[str, Any]] = field(default_factory=list)
    executions: list[Any] = field(default_factory=list)
    task_results: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.template.region

    def client(self, service: str) -> Any:
        return self.emulator.client(service, self.region)

    @property
    def names(self) -> dict[str, str]:
        return component_names(self.template)

    @property
    def bucket(self) -> str:
        (bucket_id,) = self.template.of_type("AWS::S3::Bucket")
        return self.template.ref(bucket_id)

    def add(self, component: str, calls: list[dict[str, Any]], origin: str) -> list[Call]:
        made = [
            Call(
                component,
                c["service"],
                c["operation"],
                c["params"],
                c["region"] or self.region,
                origin,
            )
            for c in calls
        ]
        self.calls.extend(made)
        return made


# -- data ---------------------------------------------------------------------------------------------


def image_archive(path: Path, classes: int = 3, per_class: int = 8) -> Path:
    """A zip of images/<class>/*.jpg (tiny generated photos), as an instructor uploads it."""
    from PIL import Image

    with zipfile.ZipFile(path, "w") as bundle:
        for label in range(classes):
            for number in range(per_class):
                image = Image.new("RGB", (40 + number, 32), (40 * label, 9 * number, 120))
                data = io.BytesIO()
                image.save(data, "JPEG")
                bundle.writestr(f"birds/images/{label:04d}/{number:03d}.jpg", data.getvalue())
    return path


def recordio_file(path: Path, records: int, payload: int) -> None:
    """A valid MXNet RecordIO file (IRHeader + opaque bytes per record), written directly."""
    with open(path, "wb") as rec:
        for index in range(records):
            body = struct.pack("<IfQQ", 0, float(index % 2), index, 0) + bytes(payload)
            rec.write(struct.pack("<II", 0xCED7230A, len(body)))
            rec.write(body + bytes(-len(body) % 4))


def create_bucket(workshop: Workshop) -> None:
    s3 = workshop.client("s3")
    if workshop.region == "us-east-1":
        s3.create_bucket(Bucket=workshop.bucket)
    else:
        s3.create_bucket(
            Bucket=workshop.bucket,
            CreateBucketConfiguration={"LocationConstraint": workshop.region},
        )
    s3.put_bucket_versioning(Bucket=workshop.bucket, VersioningConfiguration={"Status": "Enabled"})


# -- the packaging build ---------------------------------------------------------------------------------


def build_project(template: Template, project_id: str | None = None) -> dict[str, Any]:
    """The project's resolved properties: the only one, or `project_id`'s (a seat's)."""
    projects = template.of_type("AWS::CodeBuild::Project")
    if project_id is None:
        (project,) = projects.values()
    else:
        project = projects[project_id]
    return template.resolve(project["Properties"])


def build_commands(template: Template, project_id: str | None = None) -> list[str]:
    spec = json.loads(build_project(template, project_id)["Source"]["BuildSpec"])
    phases = spec.get("phases", {})
    # install (pip install of recpack) is exercised by tests/e2e; recpack is installed here already.
    return [
        c
        for phase in ("pre_build", "build", "post_build")
        for c in phases.get(phase, {}).get("commands", [])
    ]


def target_overrides(template: Template, key: str, project_id: str | None = None) -> dict[str, str]:
    """The environment overrides the rule's target sends for an upload of `key` (InputTransformer);
    with `project_id`, the rule that starts that project."""
    for rule in template.of_type("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            transformer = target.get("InputTransformer")
            if not transformer:
                continue
            if project_id and template.referenced_logical_id(target["Arn"]) != project_id:
                continue
            event = {"detail": {"bucket": {"name": "b"}, "object": {"key": key}}}
            values = {n: _json_path(event, p) for n, p in transformer["InputPathsMap"].items()}
            text = re.sub(
                r"<([A-Za-z0-9_.-]+)>",
                lambda m, values=values: json.dumps(values[m.group(1)]),
                transformer["InputTemplate"],
            )
            return {
                o["name"]: o["value"]
                for o in json.loads(text).get("environmentVariablesOverride", [])
            }
    return {}


def _json_path(data: Any, path: str) -> Any:
    for part in path[2:].split("."):
        data = data[part]
    return data


def run_build_command(
    workshop: Workshop,
    overrides: dict[str, str],
    label: str,
    fail: str = "",
    project_id: str | None = None,
    component: str = "packaging build",
) -> subprocess.CompletedProcess:
    project = build_project(workshop.template, project_id)
    variables = {
        v["Name"]: str(v["Value"]) for v in project["Environment"].get("EnvironmentVariables", [])
    }
    log = workshop.work / f"calls-{label}.jsonl"
    log.unlink(missing_ok=True)
    source = workshop.work / f"codebuild-{label}"
    source.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(workshop.emulator.environment(workshop.region))
    env.update(variables)
    env.update(overrides)
    env.update(recorder.child_environment(log, fail))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    completed = None
    for command in build_commands(workshop.template, project_id):
        completed = subprocess.run(
            ["bash", "-c", command],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if completed.returncode != 0:
            break
    workshop.add(component, recorder.read_log(log), f"recorded: buildspec command ({label})")
    assert completed is not None
    return completed


def packaging_flows(workshop: Workshop) -> None:
    s3 = workshop.client("s3")
    archive = image_archive(workshop.work / "birds.zip")
    s3.upload_file(str(archive), workshop.bucket, "raw/birds.zip")
    s3.put_object(Bucket=workshop.bucket, Key="train/stale-from-last-week.rec", Body=b"old")
    upload_flows(workshop)
    overrides = target_overrides(workshop.template, "raw/birds.zip")
    # Last, so the channels hold what the pipeline packs (what the training flows read).
    for label, extra in (("started by the upload event", overrides), ("started by hand", {})):
        completed = run_build_command(workshop, extra, label)
        if completed.returncode != 0:
            raise FlowError(
                f"the build command failed ({label}):\n{completed.stdout}{completed.stderr}"
            )


def upload_flows(workshop: Workshop) -> None:
    """`recpack upload` with the build's options: a multipart upload, and one failing for good."""
    command = shlex.split(build_commands(workshop.template)[-1])
    options = {
        command[i]: command[i + 1]
        for i in range(len(command) - 1)
        if command[i] in ("--train-prefix", "--validation-prefix", "--manifest-key")
    }
    folder = workshop.work / "channels"
    folder.mkdir(exist_ok=True)
    prefix = folder / "big"
    recordio_file(Path(f"{prefix}_train.rec"), records=9, payload=1024 * 1024)
    recordio_file(Path(f"{prefix}_val.rec"), records=3, payload=1024)
    Path(f"{prefix}_labels.tsv").write_text(
        "label\tclass_id\tname\ttrain\tval\n0\ta\tA\t5\t2\n1\tb\tB\t4\t1\n"
    )
    for label, fail in (
        ("recpack upload, multipart", ""),
        ("recpack upload, parts failing", "UploadPart"),
    ):
        log = workshop.work / f"calls-{label}.jsonl"
        log.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(workshop.emulator.environment(workshop.region))
        env.update(recorder.child_environment(log, fail))
        argv = [
            str(Path(sys.executable).parent / "recpack"),
            "upload",
            str(prefix),
            "--bucket",
            workshop.bucket,
        ]
        for option, value in options.items():
            argv += [option, value]
        completed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        expected = 1 if fail else 0
        if completed.returncode != expected:
            raise FlowError(
                f"{label}: exit {completed.returncode}, expected {expected}:\n{completed.stderr}"
            )
        workshop.add("packaging build", recorder.read_log(log), f"recorded: {label}")


# -- Service Quotas (missing in the emulator): a recording stub ------------------------------------


class QuotaStub:
    """Applied quotas for some types, AWS defaults for the others; no open increase request.
    `spot` adds applied spot quotas ("ml.<type> for spot training job usage")."""

    def __init__(
        self,
        applied: dict[str, float],
        defaults: dict[str, float],
        spot: dict[str, float] | None = None,
    ):
        self.applied, self.defaults, self.spot = applied, defaults, spot or {}

    def __call__(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        def rows(values: dict[str, float], market: str = "training") -> list[dict[str, Any]]:
            return [
                {
                    "QuotaName": f"{t} for {market} job usage",
                    "Value": v,
                    "QuotaCode": f"L-{zlib.crc32(f'{t} {market}'.encode()):08X}",
                    "ServiceCode": "sagemaker",
                }
                for t, v in values.items()
            ]

        if operation == "ListServiceQuotas":
            return {"Quotas": rows(self.applied) + rows(self.spot, "spot training")}
        if operation == "ListAWSDefaultServiceQuotas":
            return {"Quotas": rows(self.defaults)}
        if operation == "ListRequestedServiceQuotaChangeHistoryByQuota":
            return {"RequestedQuotas": []}
        if operation == "RequestServiceQuotaIncrease":
            return {"RequestedQuota": {**params, "Id": "req-1", "Status": "PENDING"}}
        raise FlowError(f"the Service Quotas stub does not answer {operation}")


def room_for_one_job(workshop: Workshop) -> QuotaStub:
    """ml.g5.xlarge (on demand, and on spot when the stack trains on spot) has room for one job
    of the stack's instance count; the other types have none."""
    variables = {}
    for function in workshop.template.of_type("AWS::Lambda::Function").values():
        if function["Properties"].get("Handler") == "workshop_runtime.choose.handler":
            variables = function["Properties"]["Environment"]["Variables"]
    count = float(variables.get("INSTANCE_COUNT", "1"))
    return QuotaStub(
        {"ml.g5.xlarge": count},
        {"ml.g4dn.xlarge": 0.0, "ml.g4dn.2xlarge": 0.0, "ml.p3.2xlarge": 0.0, "ml.p2.xlarge": 0.0},
        {"ml.g5.xlarge": count} if variables.get("SPOT") == "true" else None,
    )


# -- Lambda handlers from the synthesized code asset ------------------------------------------------


def function_id(template: Template, arn: str) -> str:
    for logical_id in template.of_type("AWS::Lambda::Function"):
        if template.arn_of(logical_id) == arn or template.ref(logical_id) == arn:
            return logical_id
    raise FlowError(f"no Lambda function in the template has ARN {arn}")


def load_handler(workshop: Workshop, logical_id: str) -> Any:
    properties = workshop.template.resources[logical_id]["Properties"]
    code = workshop.template.resolve(properties["Code"])
    asset = workshop.assembly / f"asset.{Path(code['S3Key']).stem}"
    module_name, function_name = properties["Handler"].rsplit(".", 1)
    sys.path.insert(0, str(asset))
    try:
        for name in [m for m in sys.modules if m.split(".")[0] == module_name.split(".")[0]]:
            del sys.modules[name]
        module = importlib.import_module(module_name)
    finally:
        sys.path.remove(str(asset))
    return getattr(module, function_name)


def invoke(
    workshop: Workshop, logical_id: str, event: Any, origin: str, quotas: QuotaStub | None = None
) -> Any:
    """Run a function's handler as Lambda would: its environment, its region, calls recorded."""
    template = workshop.template
    properties = template.resolve(template.resources[logical_id]["Properties"])
    handler = load_handler(workshop, logical_id)
    component = workshop.names[
        template.referenced_logical_id(template.resources[logical_id]["Properties"]["Role"])
    ]
    variables = {
        **workshop.emulator.environment(workshop.region),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    stub = quotas or room_for_one_job(workshop)
    with (
        environment({k: str(v) for k, v in variables.items()}),
        recorder.recording({"service-quotas": stub}) as calls,
    ):
        try:
            result = handler(
                json.loads(json.dumps(event)), types.SimpleNamespace(function_name=logical_id)
            )
        finally:
            workshop.add(component, calls, origin)
    return json.loads(json.dumps(result, default=str))


# -- the state machine ----------------------------------------------------------------------------


class StateMachineTasks:
    """Runs each Task state as its service integration does; a new integration is a new row."""

    def __init__(self, workshop: Workshop):
        self.workshop = workshop
        # Called once when Choose first decides to wait (say, to end the jobs holding the quota).
        self.after_wait: Any = None
        self.integrations = [
            (re.compile(r"^arn:aws[-a-z]*:lambda:[^:]+:\d+:function:[^:]+$"), self.lambda_direct),
            (re.compile(r"^arn:aws[-a-z]*:states:::lambda:invoke$"), self.lambda_invoke),
            (
                re.compile(r"^arn:aws[-a-z]*:states:::sagemaker:createTrainingJob\.sync$"),
                self.create_training_job_sync,
            ),
        ]

    def __call__(self, name: str, state: dict, payload: Any) -> Any:
        for pattern, run in self.integrations:
            if pattern.match(state["Resource"]):
                result = run(name, state, payload)
                self.workshop.task_results.setdefault(name, []).append(result)
                if self.after_wait and isinstance(result, dict) and result.get("action") == "wait":
                    self.after_wait()
                    self.after_wait = None
                return result
        raise FlowError(
            f"state {name}: no integration for {state['Resource']} in tests/fidelity/flows.py"
        )

    def _lambda(self, name: str, arn: str, payload: Any) -> Any:
        self.workshop.add(
            "state machine",
            [
                {
                    "service": "lambda",
                    "operation": "Invoke",
                    "params": {"FunctionName": arn},
                    "region": self.workshop.region,
                }
            ],
            f"tabled: {on_behalf.SOURCES['sfn-lambda']}",
        )
        try:
            return invoke(
                self.workshop,
                function_id(self.workshop.template, arn),
                payload,
                f"recorded: state {name} of the state machine",
            )
        except Exception as error:  # the handler's exception is the task's error, as in Lambda
            raise TaskFailure(type(error).__name__, str(error)) from error

    def lambda_direct(self, name: str, state: dict, payload: Any) -> Any:
        return self._lambda(name, state["Resource"], payload)

    def lambda_invoke(self, name: str, state: dict, payload: Any) -> Any:
        result = self._lambda(name, payload["FunctionName"], payload.get("Payload"))
        return {"Payload": result, "StatusCode": 200, "ExecutedVersion": "$LATEST"}

    def create_training_job_sync(self, name: str, state: dict, request: Any) -> Any:
        workshop = self.workshop
        workshop.training_requests.append(request)
        origin = f"tabled: {on_behalf.SOURCES['sfn-sagemaker']} (request rendered at state {name})"
        workshop.calls.append(
            Call(
                "state machine", "sagemaker", "CreateTrainingJob", request, workshop.region, origin
            )
        )
        workshop.calls.extend(
            on_behalf.sync_training_calls(request, workshop.region, workshop.template.account)
        )
        s3 = workshop.client("s3")
        objects = {}
        for channel in request["InputDataConfig"]:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = on_behalf._s3(uri)
            listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            if len(listing) != 1:
                raise TaskFailure(
                    "SageMaker.ValidationException",
                    f"channel {uri} holds {len(listing)} objects, the algorithm needs exactly one .rec",
                )
            objects[uri] = [o["Key"] for o in listing]
        workshop.calls.extend(on_behalf.sagemaker_training_calls(request, objects, workshop.region))
        sagemaker = workshop.client("sagemaker")
        sagemaker.create_training_job(**request)
        seed_training_log(workshop, request["TrainingJobName"])
        described = sagemaker.describe_training_job(TrainingJobName=request["TrainingJobName"])
        described.pop("ResponseMetadata", None)
        return json.loads(
            json.dumps(
                described, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
            )
        )


def seed_training_log(workshop: Workshop, job: str) -> None:
    """What the algorithm writes to the job's log stream (SageMaker's doing, not ours)."""
    logs = workshop.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=on_behalf.TRAINING_LOG_GROUP)
    stream = f"{job}/algo-1-1764400000"
    logs.create_log_stream(logGroupName=on_behalf.TRAINING_LOG_GROUP, logStreamName=stream)
    lines = [
        "[11/29/2026 12:00:00 INFO 1] Epoch[0] Train-accuracy=0.500000",
        "[11/29/2026 12:00:00 INFO 1] Epoch[0] Time cost=3.000",
        "[11/29/2026 12:00:01 INFO 1] Epoch[0] Validation-accuracy=0.400000",
        "[11/29/2026 12:00:02 INFO 1] Epoch[1] Train-accuracy=0.700000",
        "[11/29/2026 12:00:02 INFO 1] Epoch[1] Time cost=3.000",
        "[11/29/2026 12:00:03 INFO 1] Epoch[1] Validation-accuracy=0.600000",
    ]
    logs.put_log_events(
        logGroupName=on_behalf.TRAINING_LOG_GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": 1764400000000 + i, "message": line} for i, line in enumerate(lines)
        ],
    )


def _moto_job(workshop: Workshop, name: str) -> Any:
    """The emulator's record of a training job, in whichever account the emulator made it."""
    from moto.sagemaker.models import sagemaker_backends

    for backend in sagemaker_backends.values():
        job = backend[workshop.region].training_jobs.get(name)
        if job is not None:
            return job
    raise FlowError(f"the emulator has no training job {name}")


def other_team_jobs_in_progress(workshop: Workshop, request: dict[str, Any]) -> list[str]:
    """A classmate's jobs (another name prefix) holding the GPUs of our first request, on demand
    and on spot: Choose must count their instances and wait."""
    sagemaker = workshop.client("sagemaker")
    names = []
    for spot in (False, True):
        name = OTHER_TEAMS_JOB + ("-spot" if spot else "")
        job = {**request, "TrainingJobName": name, "EnableManagedSpotTraining": spot}
        if spot:
            stopping = job.get("StoppingCondition", {})
            job["StoppingCondition"] = {
                **stopping,
                "MaxWaitTimeInSeconds": stopping.get("MaxRuntimeInSeconds", 3600) + 1800,
            }
        sagemaker.create_training_job(**job)
        _moto_job(workshop, name).training_job_status = "InProgress"
        names.append(name)
    return names


def jobs_end(workshop: Workshop, names: list[str]) -> None:
    for name in names:
        _moto_job(workshop, name).training_job_status = "Completed"


def state_machine_flows(workshop: Workshop) -> None:
    tasks = StateMachineTasks(workshop)
    for logical_id, definition in workshop.template.state_machine_definitions().items():
        run = execute(definition, EXECUTION_INPUT, tasks)
        if run.status != "SUCCEEDED":
            raise FlowError(
                f"state machine {logical_id}: the happy path ended {run.status} {run.error}"
            )
        workshop.executions.append(run)
        # Classmates' jobs take the quota: the next run waits in line until they end.
        others = other_team_jobs_in_progress(workshop, workshop.training_requests[0])
        tasks.after_wait = lambda others=others: jobs_end(workshop, others)
        waited = execute(definition, EXECUTION_INPUT, tasks)
        if waited.status != "SUCCEEDED" or "WaitForQuota" not in [n for n, *_ in waited.visited]:
            raise FlowError(
                f"state machine {logical_id}: the run waiting for quota ended {waited.status} "
                f"{waited.error} after {[n for n, *_ in waited.visited]}"
            )
        workshop.executions.append(waited)
        injected = [
            (n, "States.TaskFailed") for n, s in definition["States"].items() if s.get("Catch")
        ]
        # A task that times out is caught only by States.ALL, not States.TaskFailed.
        injected += [
            (n, "States.Timeout")
            for n, s in definition["States"].items()
            if any("States.TaskFailed" in c["ErrorEquals"] for c in s.get("Catch", []))
        ]
        for state_name, error in injected:
            failed = execute(
                definition, EXECUTION_INPUT, tasks, fail_at=state_name, fail_with=error
            )
            if failed.status not in ("FAILED", "SUCCEEDED"):
                raise FlowError(
                    f"state machine {logical_id}: a failure at {state_name} ended {failed.status}"
                )
            # An email that cannot be sent does not change how the run ends.
            if failed.status == "SUCCEEDED" and not state_name.startswith("Notify"):
                raise FlowError(
                    f"state machine {logical_id}: a failure at {state_name} ended {failed.status}"
                )
            workshop.executions.append(failed)
        # A classmate trains while the instructor deploys: the preflight counts the job.
        _moto_job(workshop, others[0]).training_job_status = "InProgress"


def job_name_prefix(workshop: Workshop) -> str:
    for function in workshop.template.of_type("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "JOB_NAME_PREFIX" in variables:
            return variables["JOB_NAME_PREFIX"]
    return "job"


# -- custom resources -----------------------------------------------------------------------------


def cfn_strings(value: Any) -> Any:
    """CloudFormation hands every scalar property to a custom resource as a string."""
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def custom_resource_event(workshop: Workshop, logical_id: str, request_type: str) -> dict[str, Any]:
    properties = cfn_strings(
        workshop.template.resolve(workshop.template.resources[logical_id]["Properties"])
    )
    event = {
        "RequestType": request_type,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": f"{workshop.emulator.endpoint}/fidelity-cfn-response",
        "StackId": workshop.template.pseudo["AWS::StackId"],
        "RequestId": f"fidelity-{request_type.lower()}",
        "LogicalResourceId": logical_id,
        "ResourceType": workshop.template.resources[logical_id]["Type"],
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = f"{logical_id}-physical-id"
        event["OldResourceProperties"] = properties
    return event


def preflight_flows(workshop: Workshop) -> None:
    """The custom resource behind each provider framework, run with the template's properties."""
    template = workshop.template
    no_quota = QuotaStub(
        {},
        dict.fromkeys(
            ["ml.g4dn.xlarge", "ml.g5.xlarge", "ml.g4dn.2xlarge", "ml.p3.2xlarge", "ml.p2.xlarge"],
            0.0,
        ),
    )
    for logical_id, resource in template.custom_resources().items():
        user = provider_user_function(template, resource)
        if user is None or resource["Type"] == "Custom::TrainingTeardown":
            continue  # the teardown has a flow of its own
        custom_resource_lifecycle(workshop, logical_id, resource, user, update_quotas=no_quota)


def custom_resource_lifecycle(
    workshop: Workshop,
    logical_id: str,
    resource: dict[str, Any],
    user: str,
    update_quotas: QuotaStub | None = None,
) -> None:
    """Create, Update (with `update_quotas` if given) and Delete, as CloudFormation sends them."""
    for request_type, quotas in (("Create", None), ("Update", update_quotas), ("Delete", None)):
        event = custom_resource_event(workshop, logical_id, request_type)
        origin = f"recorded: custom resource {resource['Type']} {request_type}"
        invoke(workshop, user, event, origin, quotas)


def provider_user_function(template: Template, resource: dict[str, Any]) -> str | None:
    framework = template.referenced_logical_id(resource["Properties"]["ServiceToken"])
    variables = (
        template.resources[framework]["Properties"].get("Environment", {}).get("Variables", {})
    )
    if "USER_ON_EVENT_FUNCTION_ARN" not in variables:
        return None
    return template.referenced_logical_id(variables["USER_ON_EVENT_FUNCTION_ARN"])


def emulated_state_machines(workshop: Workshop) -> dict[str, str]:
    """The template's state machines in the emulator under their names (no execution runs its
    states there: the flows walk them), for the handlers that start or stop executions."""
    stepfunctions = workshop.client("stepfunctions")
    arns = {}
    for logical_id in workshop.template.of_type("AWS::StepFunctions::StateMachine"):
        arns[logical_id] = stepfunctions.create_state_machine(
            name=workshop.template.physical_name(logical_id),
            definition=json.dumps(
                {
                    "StartAt": "Run",
                    "States": {"Run": {"Type": "Wait", "Seconds": 3600, "End": True}},
                }
            ),
            roleArn=f"arn:aws:iam::{workshop.template.account}:role/fidelity-state-machine",
        )["stateMachineArn"]
    return arns


def emulated_topics(workshop: Workshop) -> None:
    sns = workshop.client("sns")
    for logical_id in workshop.template.of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=workshop.template.physical_name(logical_id))


def teardown_flows(workshop: Workshop) -> None:
    """The teardown custom resource: Create and Update touch nothing; Delete stops this stack's
    running execution and InProgress job. The emulator acts as the template's account (the
    handler addresses the state machine by its ARN)."""
    template = workshop.template
    for logical_id, resource in template.of_type("Custom::TrainingTeardown").items():
        user = provider_user_function(template, resource)
        assert user is not None, "the teardown custom resource has no provider framework"
        with environment({"MOTO_ACCOUNT_ID": template.account}):
            for arn in emulated_state_machines(workshop).values():
                workshop.client("stepfunctions").start_execution(
                    stateMachineArn=arn, name="running-at-deletion"
                )
            prefix = job_name_prefix(workshop)
            own = f"{prefix}-20261129-120000-abcd-2"
            workshop.client("sagemaker").create_training_job(
                **{**workshop.training_requests[0], "TrainingJobName": own}
            )
            _moto_job(workshop, own).training_job_status = "InProgress"
            custom_resource_lifecycle(workshop, logical_id, resource, user)
            if _moto_job(workshop, own).training_job_status != "Stopping":
                raise FlowError(f"teardown left this stack's job {own} running")


def build_ended_event(workshop: Workshop, status: str, stream: str) -> dict[str, Any]:
    project = build_project(workshop.template)
    group = project.get("LogsConfig", {}).get("CloudWatchLogs", {}).get("GroupName")
    (project_id,) = workshop.template.of_type("AWS::CodeBuild::Project")
    name = workshop.template.ref(project_id)
    return {
        "source": "aws.codebuild",
        "detail-type": "CodeBuild Build State Change",
        "detail": {
            "build-status": status,
            "project-name": name,
            "build-id": f"arn:aws:codebuild:{workshop.region}:{workshop.template.account}:"
            f"build/{name}:{stream}",
            "additional-information": {
                "logs": {"group-name": group, "stream-name": stream},
                "phases": [{"phase-type": "BUILD", "phase-status": status}],
            },
        },
    }


def build_ended_flows(workshop: Workshop) -> None:
    """When a build ends: its message (and a training run after a success, if configured)."""
    template = workshop.template
    for logical_id, function in template.of_type("AWS::Lambda::Function").items():
        if function["Properties"].get("Handler") != "workshop_runtime.build_ended.handler":
            continue
        logs = workshop.client("logs")
        for status, stream in (
            ("SUCCEEDED", "11111111-2222-3333-4444-555555555555"),
            ("FAILED", "66666666-7777-8888-9999-000000000000"),
        ):
            group = build_ended_event(workshop, status, stream)["detail"]["additional-information"][
                "logs"
            ]["group-name"]
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[
                    {
                        "timestamp": int(datetime.now().timestamp() * 1000),
                        "message": "recpack: error: images/: no images found",
                    }
                ],
            )
            invoke(
                workshop,
                logical_id,
                build_ended_event(workshop, status, stream),
                f"recorded: build-ended function, a build that {status}",
            )


class _Answered(contextlib.AbstractContextManager):
    status, reason = 200, "OK"

    def __init__(self, responses: list[bytes], data: bytes):
        responses.append(data)

    def __exit__(self, *_: object) -> None:
        return None

    def read(self) -> bytes:
        return b""


def bucket_notifications_flow(workshop: Workshop) -> None:
    """CDK's inline Python handler for Custom::S3BucketNotifications, run against the emulator."""
    template = workshop.template
    for logical_id, resource in template.of_type("Custom::S3BucketNotifications").items():
        function_logical = template.referenced_logical_id(resource["Properties"]["ServiceToken"])
        code = template.resources[function_logical]["Properties"]["Code"]["ZipFile"]
        component = workshop.names[
            template.referenced_logical_id(
                template.resources[function_logical]["Properties"]["Role"]
            )
        ]
        responses: list[bytes] = []
        with environment(workshop.emulator.environment(workshop.region)):
            module = types.ModuleType("cdk_bucket_notifications_handler")
            exec(compile(code, "BucketNotificationsHandler/index.py", "exec"), module.__dict__)
            # Its answer to CloudFormation is captured (this module's urllib only).
            module.urllib = types.SimpleNamespace(
                request=types.SimpleNamespace(
                    Request=urllib.request.Request,
                    urlopen=lambda request, *_, answers=responses, **__: _Answered(
                        answers, request.data
                    ),
                )
            )
            with recorder.recording() as calls:
                for request_type in ("Create", "Update", "Delete"):
                    module.handler(
                        custom_resource_event(workshop, logical_id, request_type),
                        types.SimpleNamespace(log_stream_name="fidelity"),
                    )
        statuses = [json.loads(r)["Status"] for r in responses]
        if statuses != ["SUCCESS"] * 3:
            raise FlowError(f"CDK's bucket-notifications handler answered {statuses}")
        workshop.add(
            component,
            calls,
            "recorded: CDK bucket-notifications handler (inline code from the template)",
        )


def run_flows(workshop: Workshop) -> Workshop:
    create_bucket(workshop)
    emulated_topics(workshop)
    bucket_notifications_flow(workshop)
    packaging_flows(workshop)
    state_machine_flows(workshop)
    preflight_flows(workshop)
    teardown_flows(workshop)
    with environment({"MOTO_ACCOUNT_ID": workshop.template.account}):
        build_ended_flows(workshop)
    workshop.calls.extend(on_behalf.tabled_calls(workshop.template, workshop.names))
    workshop.calls.extend(on_behalf.encrypted_topic_calls(workshop.template, workshop.calls))
    return workshop
