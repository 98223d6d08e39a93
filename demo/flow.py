"""The demo's steps, each usable alone: tests/e2e runs the same functions and asserts on each result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3

from demo.emulator import FAKE_CREDENTIALS
from demo.fake_quotas import FakeServiceQuotas, SageMakerWithOtherJobs
from demo.template import Template
from demo.training_run import Clients as TrainingClients
from demo.training_run import Execution, NoCapacity, TrainingScript, Trains, deploy_training

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
DEMO_BUCKET = "birds-workshop-demo"
RAW_KEY = "raw/birds.zip"
SPECIES = 4
IMAGES_PER_SPECIES = 90


class DemoError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class Clients:
    endpoint: str

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@dataclass
class DemoState:
    work: Path
    dataset: Path | None = None
    archive: Path | None = None
    synth_dir: Path | None = None
    template: Template | None = None
    build_log: str = ""
    manifest: dict = field(default_factory=dict)
    training: TrainingRun | None = None


def _remove_earlier(path: Path) -> None:
    """Remove what an earlier demo wrote at `path`, only inside a folder recpack marked as its own."""
    from recpack.files.ownership import is_owned

    if not path.exists():
        return
    if not is_owned(str(path.parent)):
        raise DemoError(
            f"{path} exists in a folder the demo did not make; name a new or empty folder"
        )
    shutil.rmtree(path)


# 2. dataset ------------------------------------------------------------------------------------------


def make_dataset(work: Path) -> tuple[Path, Path]:
    """Four species in the NABirds layout (some portrait, some PNG), zipped as instructors upload it."""
    from recpack import synthetic

    dataset = work / "nabirds_sample"
    _remove_earlier(dataset)
    synthetic.nabirds_dataset(
        str(dataset),
        per_class=IMAGES_PER_SPECIES,
        seed=2026,
        portrait_share=0.3,
        png_share=0.15,
        extra_classes={"1": "Birds", "22": "Perching Birds"},
    )
    archive = work / "birds.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
        for path in sorted(dataset.rglob("*")):
            bundle.write(path, path.relative_to(work))
    return dataset, archive


def exploration_summary(dataset: Path, out: Path) -> str:
    """recpack explore's terminal summary when it is installed, else the listing's class table."""
    completed = subprocess.run(
        [sys.executable, "-m", "recpack", "explore", str(dataset / "images"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    if completed.returncode == 0:
        return completed.stdout.strip()
    from recpack.dataset.discovery import discover

    found = discover(str(dataset / "images"))
    counts = {c.label: 0 for c in found.classes}
    for image in found.images:
        counts[image.label] += 1
    return "\n".join(
        [f"{len(found.images)} images in {len(found.classes)} classes"]
        + [f"  {c.class_id}  {c.name:<22} {counts[c.label]} images" for c in found.classes]
    )


# 3. synth and bucket ---------------------------------------------------------------------------------


def synthesize(out: Path) -> Path:
    """`cdk synth` exactly as `make synth` runs it: offline, no credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
    )
    completed = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "--quiet",
            "--no-notices",
            "-o",
            str(out),
            # An email address, so the run's message is shown (the emulator delivers it to a queue).
            "-c",
            f'workshop.notificationEmails=["{DEMO_EMAIL}"]',
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        raise DemoError(f"cdk synth failed:\n{completed.stderr[-3000:]}")
    return out / f"{'BirdsWorkshop'}.template.json"


def emulator_resources(template_path: Path, clients: Clients) -> Template:
    """Create what the steps touch (bucket, execution role) in the emulator and bind the template to them."""
    body = json.loads(template_path.read_text())
    iam = clients.client("iam")
    create_workshop_bucket(clients, DEMO_BUCKET)
    physical = {}
    for logical, resource in body["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            physical[logical] = DEMO_BUCKET
        elif kind == "AWS::IAM::Role":
            role = iam.create_role(
                RoleName=f"demo-{logical}"[:64],
                AssumeRolePolicyDocument=json.dumps(
                    resource["Properties"]["AssumeRolePolicyDocument"]
                ),
            )
            physical[logical] = role["Role"]["Arn"]
        elif kind == "AWS::Lambda::Function":
            physical[logical] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}"
    return Template(template_path, physical, region=REGION, account=ACCOUNT)


def create_workshop_bucket(clients: Clients, name: str) -> None:
    """A bucket configured as the stack's: versioned, sending its events to EventBridge."""
    s3 = clients.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )


BUILD_STAND_IN_QUEUE = "codebuild-stand-in"


def install_build_rule(template: Template, clients: Clients) -> str:
    """The synthesized rule in the emulator's EventBridge, targeting a queue that stands in for
    CodeBuild (the emulator runs no builds); returns the queue URL."""
    sqs, events = clients.client("sqs"), clients.client("events")
    queue_url = sqs.create_queue(QueueName=BUILD_STAND_IN_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule = template.build_rule()
    events.put_rule(
        Name="packaging-build-trigger",
        EventPattern=json.dumps(template.build_event_pattern()),
        State="ENABLED",
        Description=rule.get("Description", ""),
    )
    events.put_targets(Rule="packaging-build-trigger", Targets=[{"Id": "build", "Arn": queue_arn}])
    return queue_url


def delivered_events(clients: Clients, queue_url: str) -> list[dict]:
    """Events the rule delivered since the last call, one per object: EventBridge delivers at least
    once (and moto sends 'Object Created' twice for a multipart upload)."""
    sqs = clients.client("sqs")
    found = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return list(
                {
                    (e["detail"]["bucket"]["name"], e["detail"]["object"]["key"]): e for e in found
                }.values()
            )
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def s3_object_created_event(bucket: str, key: str, size: int = 1024) -> dict:
    """An S3 'Object Created' event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


# 4. the packaging build ------------------------------------------------------------------------------


def build_environment(
    template: Template, event: dict, emulator_env: dict[str, str]
) -> dict[str, str]:
    """The project's variables plus the overrides the EventBridge target sends for `event`."""
    variables = template.build_environment()
    for override in template.build_target_input(event).get("environmentVariablesOverride", []):
        variables[override["name"]] = override["value"]
    return {**variables, **emulator_env}


def run_packaging_build(
    state: DemoState, event: dict, emulator_env: dict[str, str], say: Callable[[str], None] = print
) -> str:
    """The buildspec's commands from the synthesized template, in a fresh virtualenv, on the asset source."""
    template = state.template
    spec = template.buildspec()
    source = state.synth_dir / f"asset.{template.build_source_asset()}"
    if not source.is_dir():
        raise DemoError(f"the build's source asset {source} is missing from the cloud assembly")
    workspace = state.work / "codebuild-src"
    _remove_earlier(workspace)
    shutil.copytree(source, workspace)
    venv = state.work / "codebuild-venv"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    variables = build_environment(template, event, emulator_env)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(variables)
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        CODEBUILD_SRC_DIR=str(workspace),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    shell = spec.get("env", {}).get("shell", "bash")
    log = []
    for phase in ("install", "pre_build", "build", "post_build"):
        for command in spec.get("phases", {}).get(phase, {}).get("commands", []):
            say(f"[{phase}] $ {command}")
            completed = subprocess.run(
                [shell, "-c", command], cwd=workspace, env=env, capture_output=True, text=True
            )
            output = completed.stdout + completed.stderr
            log.append(output)
            if phase != "install":
                for line in output.strip().splitlines():
                    say(f"    {line}")
            if completed.returncode != 0:
                raise DemoError(
                    f"build command failed in phase {phase} (exit {completed.returncode}): "
                    f"{command}\n{output[-3000:]}"
                )
    return "".join(log)


# 5. training ----------------------------------------------------------------------------------------


# The demo's account: the fake quotas' g4dn.xlarge and g5.xlarge have room for a job, and SageMaker
# has no ml.g4dn.xlarge to give (CapacityError), so the run falls back to ml.g5.xlarge.
NO_CAPACITY_TYPE = "ml.g4dn.xlarge"
DEMO_EMAIL = "instructor@example.com"
# Choose checks quota again after a second, not 90, when a run waits (the demo's runs do not).
FAST_POLL = {"workshop_runtime.choose.handler": {"POLL_SECONDS": "1"}}


@dataclass
class TrainingRun:
    execution: Execution
    requests: list[dict]
    notifications: list[dict]
    report: dict


def enable_state_machine_execution(endpoint: str) -> None:
    """moto's server runs state machine definitions only when told to (POST /moto-api/config)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def run_training(
    state: DemoState, clients: Clients, name: str = "demo-run", servicequotas=None
) -> TrainingRun:
    """The synthesized state machine in the emulator (demo/training_run.py): the handlers' real
    logic answers its Lambda tasks, and the training task fails for capacity on
    NO_CAPACITY_TYPE and trains on any other type."""
    enable_state_machine_execution(clients.endpoint)
    handler_clients = TrainingClients(
        s3=clients.client("s3"),
        sagemaker=SageMakerWithOtherJobs(clients.client("sagemaker")),
        servicequotas=servicequotas or FakeServiceQuotas(),
        logs=clients.client("logs"),
        sns=clients.client("sns"),
        region=REGION,
    )
    script = TrainingScript(
        by_capacity={(NO_CAPACITY_TYPE, False): NoCapacity()}, default=Trains(epochs=15)
    )
    deployment = deploy_training(
        state.template.body,
        clients.client,
        bucket=DEMO_BUCKET,
        clients=handler_clients,
        training=script,
        name=name,
        environment=FAST_POLL,
        account=ACCOUNT,
        region=REGION,
    )
    execution = deployment.run(name)
    if execution.status != "SUCCEEDED":
        raise DemoError(
            f"the training run ended {execution.status}: {execution.error}: {execution.cause}"
        )
    return TrainingRun(
        execution, script.requests, deployment.notifications(), execution.output["report"]
    )


def bucket_keys(clients: Clients) -> list[str]:
    pages = clients.client("s3").get_paginator("list_objects_v2").paginate(Bucket=DEMO_BUCKET)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def read_manifest(clients: Clients, key: str = "manifest.json") -> dict:
    return json.loads(clients.client("s3").get_object(Bucket=DEMO_BUCKET, Key=key)["Body"].read())


def set_fake_credentials() -> None:
    os.environ.update(FAKE_CREDENTIALS)
