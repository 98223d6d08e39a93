import json
import re
from datetime import UTC, datetime

import boto3
import pytest

from stacks.training.runtime.workshop_runtime import prepare as prepare_module
from stacks.training.runtime.workshop_runtime.hyperparameters import (
    LAB2_DEFAULTS,
    HyperparameterError,
    ManifestConflictError,
)
from stacks.training.runtime.workshop_runtime.prepare import (
    ConfigurationError,
    InvalidInputError,
    ManifestInvalidError,
    ManifestNotFoundError,
    TrainingJobExistsError,
    make_job_name,
    prepare,
)
from stacks.training.runtime.workshop_runtime.quotas import NoGpuQuotaError

BUCKET = "workshop-bucket"
NOW = datetime(2026, 11, 21, 12, 34, 56, tzinfo=UTC)
MANIFEST = {
    "schema": 1,
    "num_training_samples": 335,
    "num_validation_samples": 112,
    "num_classes": 4,
    "labels": [{"label": 0, "class_id": "0752", "name": "Purple Martin", "train": 84, "val": 28}],
    "train": {
        "key": "train/nabirds_sample_train.rec",
        "records": 335,
        "bytes": 123,
        "sha256": "0" * 64,
    },
    "validation": {
        "key": "validation/nabirds_sample_val.rec",
        "records": 112,
        "bytes": 45,
        "sha256": "0" * 64,
    },
    "options": {"train_ratio": 0.75, "resize": 256, "quality": 95, "classes": []},
    "source": {"bucket": BUCKET, "key": "raw/birds.zip"},
    "created": "2026-11-21T12:00:00Z",
}


def environment(**changes):
    values = {
        "BUCKET": BUCKET,
        "MANIFEST_KEY": "manifest.json",
        "DEFAULT_HYPERPARAMETERS": json.dumps(LAB2_DEFAULTS),
        "INSTANCE_TYPES": json.dumps(["ml.g4dn.xlarge", "ml.g5.xlarge"]),
        "JOB_NAME_PREFIX": "birds",
    }
    values.update(changes)
    return values


@pytest.fixture
def s3(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def with_manifest(s3):
    s3.put_object(Bucket=BUCKET, Key="manifest.json", Body=json.dumps(MANIFEST).encode())
    return s3


def run(event, s3, quotas, env=None, **kwargs):
    return prepare(
        event,
        env or environment(),
        s3=s3,
        servicequotas=quotas.client,
        sagemaker=boto3.client("sagemaker"),
        now=NOW,
        region="us-east-1",
        **kwargs,
    )


def test_prepare_returns_the_contract_shape_with_the_lab_defaults(
    with_manifest, quotas, quota_of, lab2_hyperparameters
):
    quotas.applied(quota_of("ml.g4dn.xlarge", 0))
    quotas.defaults(quota_of("ml.g5.xlarge", 1))
    result = run({}, with_manifest, quotas)
    assert re.fullmatch(r"birds-20261121-123456-[0-9a-f]{4}", result["trainingJobName"])
    assert result["instanceType"] == "ml.g5.xlarge"
    assert result["hyperParameters"] == lab2_hyperparameters
    assert result["manifest"] == {
        "key": "manifest.json",
        "num_training_samples": 335,
        "num_classes": 4,
    }
    assert result["quotas"] == [
        {"instanceType": "ml.g4dn.xlarge", "quota": 0, "inUse": 0},
        {"instanceType": "ml.g5.xlarge", "quota": 1, "inUse": 0},
    ]
    json.dumps(result)


def test_execution_input_overrides_and_the_manifest_counts_win_over_defaults(s3, quotas, quota_of):
    manifest = {**MANIFEST, "num_training_samples": 447, "num_classes": 5}
    s3.put_object(Bucket=BUCKET, Key="data/manifest.json", Body=json.dumps(manifest).encode())
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), quota_of("ml.g5.xlarge", 1))
    event = {"hyperparameters": {"epochs": "25", "checkpoint_frequency": 25, "top_k": 2}}
    result = run(event, s3, quotas, environment(MANIFEST_KEY="data/manifest.json"))
    params = result["hyperParameters"]
    assert (params["epochs"], params["checkpoint_frequency"], params["top_k"]) == ("25", "25", "2")
    assert (params["num_training_samples"], params["num_classes"]) == ("447", "5")
    assert result["manifest"] == {
        "key": "data/manifest.json",
        "num_training_samples": 447,
        "num_classes": 5,
    }
    assert result["instanceType"] == "ml.g4dn.xlarge"


def test_given_job_name_is_used(with_manifest, quotas, quota_of):
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), quota_of("ml.g5.xlarge", 1))
    assert (
        run({"trainingJobName": "birds-my-run-1"}, with_manifest, quotas)["trainingJobName"]
        == "birds-my-run-1"
    )


def test_job_name_outside_the_roles_prefix_is_refused(s3):
    with pytest.raises(InvalidInputError, match="must start with 'birds'"):
        prepare(
            {"trainingJobName": "my-run-1"},
            environment(),
            s3=s3,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
        )


@pytest.mark.parametrize("name", ["-starts-with-hyphen", "has_underscore", "x" * 64, 42])
def test_invalid_job_name_is_refused(s3, name):
    with pytest.raises(InvalidInputError, match="not a valid SageMaker training job name"):
        prepare(
            {"trainingJobName": name},
            environment(),
            s3=s3,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
        )


def test_existing_job_name_is_refused(s3):
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="birds-taken",
        AlgorithmSpecification={
            "TrainingImage": "image-classification:1",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/training",
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )
    with pytest.raises(TrainingJobExistsError, match="'birds-taken' already exists"):
        prepare(
            {"trainingJobName": "birds-taken"},
            environment(),
            s3=s3,
            servicequotas=None,
            sagemaker=sagemaker,
        )


def test_missing_manifest_tells_to_upload_images_or_run_the_packaging_build(s3):
    with pytest.raises(ManifestNotFoundError) as caught:
        prepare(
            {},
            environment(),
            s3=s3,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
            now=NOW,
        )
    message = str(caught.value)
    assert f"s3://{BUCKET}/manifest.json does not exist" in message
    assert f"s3://{BUCKET}/raw/" in message
    assert "packaging build" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "must hold a JSON object"),
        (json.dumps({**MANIFEST, "schema": 2}).encode(), "has schema 2"),
    ],
)
def test_unusable_manifest_is_reported(s3, body, expected):
    s3.put_object(Bucket=BUCKET, Key="manifest.json", Body=body)
    with pytest.raises(ManifestInvalidError, match=expected):
        prepare(
            {},
            environment(),
            s3=s3,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
            now=NOW,
        )


def test_override_disagreeing_with_the_manifest_count_fails_before_quotas_are_read(with_manifest):
    with pytest.raises(ManifestConflictError) as caught:
        prepare(
            {"hyperparameters": {"num_training_samples": 300}},
            environment(),
            s3=with_manifest,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
            now=NOW,
        )
    assert (
        "hyperparameters.num_training_samples = 300 disagrees with s3://workshop-bucket/manifest.json"
        in str(caught.value)
    )


def test_invalid_override_names_the_execution_input_key(with_manifest):
    with pytest.raises(HyperparameterError, match=r"hyperparameters\.optimizer = 'adamw'"):
        prepare(
            {"hyperparameters": {"optimizer": "adamw"}},
            environment(),
            s3=with_manifest,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
            now=NOW,
        )


def test_invalid_default_names_the_environment_variable(with_manifest):
    env = environment(DEFAULT_HYPERPARAMETERS=json.dumps({"epochs": 0}))
    with pytest.raises(HyperparameterError, match=r"DEFAULT_HYPERPARAMETERS\.epochs = 0"):
        prepare(
            {},
            env,
            s3=with_manifest,
            servicequotas=None,
            sagemaker=boto3.client("sagemaker"),
            now=NOW,
        )


def test_no_gpu_quota_fails_with_the_increase_instructions(with_manifest, quotas, quota_of):
    quotas.applied()
    quotas.defaults(quota_of("ml.g4dn.xlarge", 0), quota_of("ml.g5.xlarge", 0))
    with pytest.raises(NoGpuQuotaError) as caught:
        run({}, with_manifest, quotas)
    assert "--quota-code L-3F53BF0F --desired-value 1 --region us-east-1" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"BUCKET": ""}, "BUCKET is not set"),
        ({"DEFAULT_HYPERPARAMETERS": "{epochs: 1}"}, "DEFAULT_HYPERPARAMETERS is not valid JSON"),
        ({"DEFAULT_HYPERPARAMETERS": "[]"}, "DEFAULT_HYPERPARAMETERS must be a JSON dict"),
        ({"INSTANCE_TYPES": "[]"}, "INSTANCE_TYPES must be a non-empty JSON list"),
        ({"INSTANCE_TYPES": '"ml.g4dn.xlarge"'}, "INSTANCE_TYPES must be a JSON list"),
    ],
)
def test_bad_environment_names_the_variable(s3, changes, expected):
    with pytest.raises(ConfigurationError, match=expected):
        prepare({}, environment(**changes), s3=s3, servicequotas=None, sagemaker=None, now=NOW)


@pytest.mark.parametrize(
    "event",
    [
        {"hyperparameters": ["epochs", 5]},
        {"hyperparameters": []},
        {"hyperparameters": "epochs=5"},
        "text",
    ],
)
def test_malformed_execution_input_is_refused(s3, event):
    with pytest.raises(InvalidInputError):
        prepare(event, environment(), s3=s3, servicequotas=None, sagemaker=None, now=NOW)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("birds", "birds-20261121-123456-abcd"),
        ("my_birds lab!", "my-birds-lab-20261121-123456-abcd"),
        ("---", "training-20261121-123456-abcd"),
        ("a" * 80, "a" * 42 + "-20261121-123456-abcd"),
    ],
)
def test_generated_job_names_are_valid_and_at_most_63_characters(prefix, expected):
    name = make_job_name(prefix, NOW, suffix="abcd")
    assert name == expected
    assert len(name) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)


def test_handler_reads_the_lambda_environment(with_manifest, quotas, quota_of, monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    quotas.applied(quota_of("ml.g4dn.xlarge", 1), quota_of("ml.g5.xlarge", 0))
    real_session = boto3.session.Session

    class Session(real_session):
        def client(self, service_name, **kwargs):
            if service_name == "service-quotas":
                return quotas.client
            return super().client(service_name, **kwargs)

    monkeypatch.setattr(prepare_module.boto3.session, "Session", Session)
    result = prepare_module.handler({"hyperparameters": {"epochs": 20}}, None)
    assert result["instanceType"] == "ml.g4dn.xlarge"
    assert result["hyperParameters"]["epochs"] == "20"
