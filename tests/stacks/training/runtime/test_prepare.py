import json
import re
from datetime import UTC, datetime

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
    make_job_name,
    prepare,
)

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
        "JOB_NAME_PREFIX": "birds",
        "WAIT_FOR_QUOTA_MINUTES": "60",
        "MAX_ATTEMPTS": "6",
    }
    values.update(changes)
    return values


@pytest.fixture
def with_manifest(s3):
    s3.put_object(Bucket=BUCKET, Key="manifest.json", Body=json.dumps(MANIFEST).encode())
    return s3


def run(event, s3, env=None):
    return prepare(event, env or environment(), s3=s3, now=NOW)


def test_prepare_returns_the_contract_shape_with_the_lab_defaults(
    with_manifest, lab2_hyperparameters
):
    result = run({}, with_manifest)
    assert re.fullmatch(r"birds-20261121-123456-[0-9a-f]{4}", result["runId"])
    assert result["hyperParameters"] == lab2_hyperparameters
    assert result["manifest"] == {
        "key": "manifest.json",
        "num_training_samples": 335,
        "num_classes": 4,
    }
    assert result["startedAt"] == "2026-11-21T12:34:56Z"
    # The run may wait for quota until an hour after its start, and try six jobs.
    assert result["limits"] == {
        "waitForQuotaMinutes": 60,
        "deadline": "2026-11-21T13:34:56Z",
        "maxAttempts": 6,
    }
    json.dumps(result)


def test_no_waiting_means_the_deadline_is_the_start(with_manifest):
    result = run({}, with_manifest, environment(WAIT_FOR_QUOTA_MINUTES="0", MAX_ATTEMPTS="1"))
    assert result["limits"]["deadline"] == result["startedAt"]
    assert result["limits"]["maxAttempts"] == 1


def test_execution_input_overrides_and_the_manifest_counts_win_over_defaults(s3):
    manifest = {**MANIFEST, "num_training_samples": 447, "num_classes": 5}
    s3.put_object(Bucket=BUCKET, Key="data/manifest.json", Body=json.dumps(manifest).encode())
    event = {"hyperparameters": {"epochs": "25", "checkpoint_frequency": 25, "top_k": 2}}
    result = run(event, s3, environment(MANIFEST_KEY="data/manifest.json"))
    params = result["hyperParameters"]
    assert (params["epochs"], params["checkpoint_frequency"], params["top_k"]) == ("25", "25", "2")
    assert (params["num_training_samples"], params["num_classes"]) == ("447", "5")
    assert result["manifest"] == {
        "key": "data/manifest.json",
        "num_training_samples": 447,
        "num_classes": 5,
    }


def test_a_job_name_in_the_input_is_refused_with_the_reason(with_manifest):
    with pytest.raises(InvalidInputError) as caught:
        run({"trainingJobName": "birds-my-run-1"}, with_manifest)
    message = str(caught.value)
    assert "trainingJobName is not an input any more" in message
    assert "<prefix>-YYYYMMDD-HHMMSS-xxxx and then -2, -3" in message


def test_an_unknown_input_key_is_named(with_manifest):
    with pytest.raises(InvalidInputError, match="unknown key.s. hyperparamters"):
        run({"hyperparamters": {"epochs": 5}}, with_manifest)


def test_missing_manifest_tells_to_upload_images_or_run_the_packaging_build(s3):
    with pytest.raises(ManifestNotFoundError) as caught:
        run({}, s3)
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
        run({}, s3)


def test_override_disagreeing_with_the_manifest_count_is_refused(with_manifest):
    with pytest.raises(ManifestConflictError) as caught:
        run({"hyperparameters": {"num_training_samples": 300}}, with_manifest)
    assert (
        "hyperparameters.num_training_samples = 300 disagrees with s3://workshop-bucket/manifest.json"
        in str(caught.value)
    )


def test_invalid_override_names_the_execution_input_key(with_manifest):
    with pytest.raises(HyperparameterError, match=r"hyperparameters\.optimizer = 'adamw'"):
        run({"hyperparameters": {"optimizer": "adamw"}}, with_manifest)


def test_invalid_default_names_the_environment_variable(with_manifest):
    env = environment(DEFAULT_HYPERPARAMETERS=json.dumps({"epochs": 0}))
    with pytest.raises(HyperparameterError, match=r"DEFAULT_HYPERPARAMETERS\.epochs = 0"):
        run({}, with_manifest, env)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"BUCKET": ""}, "BUCKET is not set"),
        ({"DEFAULT_HYPERPARAMETERS": "{epochs: 1}"}, "DEFAULT_HYPERPARAMETERS is not valid JSON"),
        ({"DEFAULT_HYPERPARAMETERS": "[]"}, "DEFAULT_HYPERPARAMETERS must be a JSON dict"),
        ({"WAIT_FOR_QUOTA_MINUTES": ""}, "WAIT_FOR_QUOTA_MINUTES is not set"),
        ({"WAIT_FOR_QUOTA_MINUTES": "true"}, "WAIT_FOR_QUOTA_MINUTES must be a JSON int"),
        ({"WAIT_FOR_QUOTA_MINUTES": "-1"}, "WAIT_FOR_QUOTA_MINUTES must be between 0 and 1440"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS must be between 1 and 20"),
        ({"MAX_ATTEMPTS": "21"}, "MAX_ATTEMPTS must be between 1 and 20"),
    ],
)
def test_bad_environment_names_the_variable(s3, changes, expected):
    with pytest.raises(ConfigurationError, match=expected):
        run({}, s3, environment(**changes))


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
        run(event, s3)


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


def test_handler_reads_the_lambda_environment(with_manifest, monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    result = prepare_module.handler({"hyperparameters": {"epochs": 20}}, None)
    assert result["hyperParameters"]["epochs"] == "20"
    assert result["runId"].startswith("birds-")
