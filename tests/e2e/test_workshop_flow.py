"""The demo's flow against a real moto server, with assertions at every step.

One emulator and one run of the flow per module (synth and the build's fresh virtualenv take
most of the time); each test checks one step's result.
"""

from __future__ import annotations

import json

import boto3
import pytest

from demo import flow
from demo.emulator import Emulator
from demo.fake_quotas import FakeServiceQuotas
from demo.template import path_references


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    flow.set_fake_credentials()
    with Emulator(log_path=tmp_path_factory.mktemp("emulator") / "moto.log") as running:
        yield running


@pytest.fixture(scope="module")
def run(emulator, tmp_path_factory):
    """The demo's steps 2-5, keeping every intermediate result."""
    work = tmp_path_factory.mktemp("demo")
    clients = flow.Clients(emulator.endpoint)
    state = flow.DemoState(work)
    state.dataset, state.archive = flow.make_dataset(work)
    template_path = flow.synthesize(work / "cdk.out")
    state.synth_dir = template_path.parent
    state.template = flow.emulator_resources(template_path, clients)
    clients.client("s3").put_object(
        Bucket=flow.DEMO_BUCKET, Key="train/stale-from-last-week.rec", Body=b"old"
    )
    queue_url = flow.install_build_rule(state.template, clients)
    clients.client("s3").upload_file(str(state.archive), flow.DEMO_BUCKET, flow.RAW_KEY)
    delivered = flow.delivered_events(clients, queue_url)
    assert len(delivered) == 1, delivered
    event = delivered[0]  # the build runs on the event EventBridge delivered for the upload
    state.build_log = flow.run_packaging_build(
        state, event, emulator.environment(), say=lambda line: None
    )
    state.manifest = flow.read_manifest(clients)
    state.training = flow.run_training(state, clients)
    return state, clients


def test_each_channel_holds_exactly_one_rec(run):
    state, clients = run
    keys = flow.bucket_keys(clients)
    assert [k for k in keys if k.startswith("train/")] == [state.manifest["train"]["key"]]
    assert [k for k in keys if k.startswith("validation/")] == [state.manifest["validation"]["key"]]
    assert state.manifest["train"]["key"].startswith("train/birds_train-")
    assert state.manifest["validation"]["key"].startswith("validation/birds_val-")
    assert "manifest.json" in keys and flow.RAW_KEY in keys


def test_the_build_ran_the_buildspecs_recpack_command_on_the_event_key(run):
    state, _ = run
    assert "Successfully installed" in state.build_log and "recpack" in state.build_log
    assert state.manifest["source"] == {"bucket": flow.DEMO_BUCKET, "key": flow.RAW_KEY}


def test_manifest_counts_equal_the_records_mxnet_reads_from_the_uploaded_rec(run, tmp_path):
    import mxnet as mx

    state, clients = run
    s3 = clients.client("s3")
    for channel, expected in (
        ("train", state.manifest["num_training_samples"]),
        ("validation", state.manifest["num_validation_samples"]),
    ):
        key = state.manifest[channel]["key"]
        local = tmp_path / key.replace("/", "_")
        s3.download_file(flow.DEMO_BUCKET, key, str(local))
        reader = mx.recordio.MXRecordIO(str(local), "r")
        labels = []
        while (item := reader.read()) is not None:
            labels.append(mx.recordio.unpack(item)[0].label)
        reader.close()
        assert len(labels) == expected
        per_label = {
            row["label"]: row["train" if channel == "train" else "val"]
            for row in state.manifest["labels"]
        }
        assert {label: labels.count(float(label)) for label in per_label} == per_label
    assert state.manifest["num_classes"] == flow.SPECIES
    assert [row["name"] for row in state.manifest["labels"]] == [
        "Purple Martin",
        "Northern Cardinal",
        "American Goldfinch",
        "Eastern Bluebird",
    ]


def test_the_run_falls_back_to_the_next_type_when_the_first_has_no_capacity(run):
    state, clients = run
    execution = state.training.execution
    assert execution.path() == (
        "Prepare > Choose > Decide > CreateTrainingJob > Choose > Decide > CreateTrainingJob > "
        "Report > NotifyTrained > Trained"
    )
    attempts = state.training.report["attempts"]
    assert [(a["instanceType"], a["outcome"]) for a in attempts] == [
        (flow.NO_CAPACITY_TYPE, "CapacityError"),
        ("ml.g5.xlarge", "Completed"),
    ]
    job = attempts[-1]["trainingJobName"]
    assert job == attempts[0]["trainingJobName"] + "-2"
    report = json.loads(
        clients.client("s3")
        .get_object(Bucket=flow.DEMO_BUCKET, Key=f"output/{job}/report.json")["Body"]
        .read()
    )
    assert report["attempts"] == attempts
    assert len(report["epochs"]) == 15
    (mail,) = state.training.notifications
    assert mail["Subject"] == f"Training run succeeded: {job} on ml.g5.xlarge"
    assert "2. " + job in mail["Message"]


def test_training_job_is_what_the_state_machine_requests(run):
    state, clients = run
    request, manifest = state.training.requests[-1], state.manifest
    # The emulated SageMaker took the very request the state machine rendered.
    job = clients.client("sagemaker").describe_training_job(
        TrainingJobName=request["TrainingJobName"]
    )
    assert job["ResourceConfig"] == request["ResourceConfig"]
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert (
        request["AlgorithmSpecification"]["TrainingImage"]
        == "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    )
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for name, prefix in (("train", "train/"), ("validation", "validation/")):
        assert channels[name]["ContentType"] == "application/x-recordio"
        assert (
            channels[name]["DataSource"]["S3DataSource"]["S3Uri"]
            == f"s3://{flow.DEMO_BUCKET}/{prefix}"
        )
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{flow.DEMO_BUCKET}/output/"
    hyper = job["HyperParameters"]
    assert hyper["num_training_samples"] == str(manifest["num_training_samples"])
    assert hyper["num_classes"] == "4"
    lab2 = {
        "epochs": "15",
        "checkpoint_frequency": "15",
        "augmentation_type": "crop",
        "image_shape": "3,224,224",
        "learning_rate": "0.1",
        "lr_scheduler_factor": "0.1",
        "mini_batch_size": "24",
        "num_layers": "152",
        "optimizer": "sgd",
        "use_pretrained_model": "0",
    }
    assert {k: hyper[k] for k in lab2} == lab2


def test_create_training_job_takes_its_fields_from_prepare_and_choose(run):
    """Static: every JsonPath of the synthesized task reads a field Prepare's or Choose's output
    has, so the emulator run and the deployed machine agree."""
    state, _ = run
    definition = state.template.state_machine_definition()
    task = definition["States"]["CreateTrainingJob"]
    assert task["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert definition["States"]["Prepare"]["ResultPath"] == "$.prepare"
    assert definition["States"]["Choose"]["ResultPath"] == "$.run"
    references = path_references(task["Parameters"])
    assert sorted(references) == [
        "$.prepare.hyperParameters",
        "$.run.job.instanceType",
        "$.run.job.trainingJobName",
    ]
    output = state.training.execution.output
    for reference in references:
        _, first, *rest = reference.split(".")
        value = output[first]
        for key in rest:
            value = value[key]


@pytest.fixture(scope="module")
def build_trigger(run):
    """The synthesized rule installed in the emulator's EventBridge, a queue standing in for CodeBuild."""
    state, clients = run
    return flow.install_build_rule(state.template, clients)


@pytest.mark.parametrize(
    "bucket, key, expected",
    [
        (flow.DEMO_BUCKET, "raw/birds.zip", True),
        (flow.DEMO_BUCKET, "raw/2026/nabirds.tar.gz", True),
        (flow.DEMO_BUCKET, "raw/birds.tgz", True),
        (flow.DEMO_BUCKET, "train/x.rec", False),
        (flow.DEMO_BUCKET, "validation/x.rec", False),
        (flow.DEMO_BUCKET, "output/birds-1/output/model.tar.gz", False),
        (flow.DEMO_BUCKET, "manifest.json", False),
        (flow.DEMO_BUCKET, "raw/notes.txt", False),
        ("someone-elses-bucket", "raw/birds.zip", False),
    ],
)
def test_build_rule_fires_for_raw_archives_only(run, build_trigger, bucket, key, expected):
    """Real S3 'Object Created' events from the emulator's bucket, matched by the emulator's EventBridge.

    (moto 5.2.5's TestEventPattern is a stub that answers nothing, so the rule itself is installed.)
    """
    _, clients = run
    s3 = clients.client("s3")
    if bucket != flow.DEMO_BUCKET and bucket not in [
        b["Name"] for b in s3.list_buckets()["Buckets"]
    ]:
        flow.create_workshop_bucket(clients, bucket)
    flow.delivered_events(clients, build_trigger)  # drain
    try:  # re-put a real output (manifest.json, the channels) with its own bytes: same event, same content
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        body = b"payload"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    delivered = flow.delivered_events(clients, build_trigger)
    assert [(e["detail"]["bucket"]["name"], e["detail"]["object"]["key"]) for e in delivered] == (
        [(bucket, key)] if expected else []
    )
    if expected:
        assert (
            delivered[0]["detail-type"] == "Object Created" and delivered[0]["source"] == "aws.s3"
        )


def test_the_rule_passes_the_uploaded_key_to_the_build(run):
    state, _ = run
    event = flow.s3_object_created_event(flow.DEMO_BUCKET, "raw/2026/new birds.zip")
    overrides = state.template.build_target_input(event)["environmentVariablesOverride"]
    assert overrides == [
        {"name": "SOURCE_KEY", "type": "PLAINTEXT", "value": "raw/2026/new birds.zip"}
    ]


def test_a_run_without_gpu_quota_fails_clearly(run):
    state, clients = run
    no_quota = FakeServiceQuotas({t: 0.0 for t in ("ml.g4dn.xlarge", "ml.g5.xlarge")})
    with pytest.raises(flow.DemoError) as caught:
        flow.run_training(state, clients, name="no-quota", servicequotas=no_quota)
    message = str(caught.value)
    assert "Choose.NoGpuQuotaError" in message
    assert "ml.g4dn.xlarge: quota 0" in message and "request-service-quota-increase" in message


def test_multipart_upload_of_a_several_part_channel_through_the_emulator(
    emulator, tmp_path, monkeypatch, fake_channels
):
    from recpack.aws.upload import upload

    prefix = fake_channels(tmp_path, 260, 3, payload_size=80_000)
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name=flow.REGION)
    s3.create_bucket(Bucket="multipart-check")
    manifest = upload(
        prefix, "multipart-check", endpoint_url=emulator.endpoint, say=lambda line: None
    )
    head = s3.head_object(Bucket="multipart-check", Key=manifest["train"]["key"], PartNumber=1)
    assert head["PartsCount"] >= 3
    body = s3.get_object(Bucket="multipart-check", Key=manifest["train"]["key"])["Body"].read()
    assert body == open(prefix + "_train.rec", "rb").read()
    assert manifest["num_training_samples"] == 260


def test_an_emulator_that_dies_mid_upload_leaves_no_partial_object_and_a_rerun_completes(
    tmp_path, fake_channels
):
    """The server is killed while the multipart upload is under way (a real network failure)."""
    import os
    import subprocess
    import sys
    import time

    prefix = fake_channels(tmp_path, 1200, 3, payload_size=100_000)
    with Emulator(log_path=tmp_path / "moto.log") as server:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name=flow.REGION)
        s3.create_bucket(Bucket="dies-mid-upload")
        env = {
            **os.environ,
            **server.environment(),
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_RETRY_MODE": "standard",
        }
        upload = subprocess.Popen(
            [sys.executable, "-m", "recpack", "upload", prefix, "--bucket", "dies-mid-upload"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not s3.list_multipart_uploads(
            Bucket="dies-mid-upload"
        ).get("Uploads"):
            time.sleep(0.05)
        assert s3.list_multipart_uploads(Bucket="dies-mid-upload").get("Uploads"), (
            "the upload never started"
        )
        server.stop()
        out, err = upload.communicate(timeout=180)
    assert upload.returncode == 1, out + err
    assert (
        "recpack: error: uploading" in err
        and "run the command again" in err
        and "Traceback" not in err
    )
    # A multipart upload is invisible until completed: a fresh emulator plays the re-run.
    with Emulator() as server:
        s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name=flow.REGION)
        s3.create_bucket(Bucket="dies-mid-upload")
        env = {**os.environ, **server.environment()}
        rerun = subprocess.run(
            [sys.executable, "-m", "recpack", "upload", prefix, "--bucket", "dies-mid-upload"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert rerun.returncode == 0, rerun.stderr
        manifest = json.loads(
            s3.get_object(Bucket="dies-mid-upload", Key="manifest.json")["Body"].read()
        )
        assert manifest["num_training_samples"] == 1200


def test_injected_errors_against_the_emulator_are_retried(
    emulator, tmp_path, monkeypatch, fake_channels
):
    """Connections to the moto server that drop during UploadPart (twice) and HeadObject (once)."""

    import botocore.exceptions

    from recpack.aws import upload as upload_module

    prefix = fake_channels(tmp_path, 250, 3, payload_size=80_000)
    failures = {"UploadPart": 2, "HeadObject": 1}
    real_client = upload_module.s3_client

    def flaky_client(endpoint_url=None):
        client = real_client(endpoint_url)

        def drop(event_name=None, **kwargs):
            operation = event_name.rsplit(".", 1)[-1]
            if failures.get(operation, 0) > 0:
                failures[operation] -= 1
                raise botocore.exceptions.ConnectionClosedError(endpoint_url=emulator.endpoint)

        client.meta.events.register("before-send.s3", drop)
        return client

    monkeypatch.setattr(upload_module, "s3_client", flaky_client)
    s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name=flow.REGION)
    s3.create_bucket(Bucket="flaky-network")
    manifest = upload_module.upload(
        prefix, "flaky-network", endpoint_url=emulator.endpoint, say=lambda line: None
    )
    assert failures == {"UploadPart": 0, "HeadObject": 0}
    body = s3.get_object(Bucket="flaky-network", Key=manifest["train"]["key"])["Body"].read()
    assert body == open(prefix + "_train.rec", "rb").read()
