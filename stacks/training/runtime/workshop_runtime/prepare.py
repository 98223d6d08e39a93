"""Prepare Lambda: what every attempt of a training run shares, checked before a GPU is billed.

Reads the manifest written by `recpack upload`, merges the hyperparameters (defaults < manifest
counts < execution input), names the run (its first job takes this name, later attempts add
`-n`), and sets the run's limits: how long it may wait for quota and how many jobs it may try.
Choosing the instance type is the Choose step's, with fresh quotas before every attempt. Errors
are exception classes: Step Functions shows their name and message.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .clients import CLIENT_CONFIG, Client
from .hyperparameters import HyperparameterError, merge_hyperparameters
from .job_names import MAX_ATTEMPTS, make_job_name

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "IAM_ACTIONS",
    "INPUT_KEYS",
    "ConfigurationError",
    "HyperparameterError",
    "InvalidInputError",
    "ManifestInvalidError",
    "ManifestNotFoundError",
    "handler",
    "make_job_name",
    "prepare",
]

MANIFEST_SCHEMA = 1
# What the function's role needs besides s3:GetObject on the manifest (granted by the stack).
IAM_ACTIONS: tuple[str, ...] = ()
# The execution input's keys (docs/contracts.md); anything else is a mistake worth a message.
INPUT_KEYS = ("hyperparameters",)
_WAIT_MINUTES_MAX = 24 * 60


class ConfigurationError(Exception):
    """The Lambda's environment is missing or malformed (a deployment problem)."""


class InvalidInputError(ValueError):
    """The execution input is not of the documented shape."""


class ManifestNotFoundError(Exception):
    """No manifest.json: the images were never packaged into RecordIO files."""


class ManifestInvalidError(Exception):
    """manifest.json exists but cannot be used."""


def _environment(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"Environment variable {name} is not set on the Prepare Lambda")
    return value


def _json_environment(environ: Mapping[str, str], name: str, expected: type) -> Any:
    text = _environment(environ, name)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"Environment variable {name} is not valid JSON: {error}"
        ) from None
    if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
        raise ConfigurationError(
            f"Environment variable {name} must be a JSON {expected.__name__}, got {text[:80]!r}"
        )
    return value


def _int_environment(environ: Mapping[str, str], name: str, low: int, high: int) -> int:
    value: int = _json_environment(environ, name, int)
    if not low <= value <= high:
        raise ConfigurationError(
            f"Environment variable {name} must be between {low} and {high}, not {value}"
        )
    return value


def _check_input_keys(event: Mapping) -> None:
    if "trainingJobName" in event:
        raise InvalidInputError(
            "trainingJobName is not an input any more: every attempt of a run gets a generated "
            "name, <prefix>-YYYYMMDD-HHMMSS-xxxx and then -2, -3, ... (a failed attempt's name "
            "cannot be reused, and `make destroy` stops this stack's jobs by that pattern); the "
            "names are in the execution output"
        )
    unknown = sorted(str(key) for key in event if key not in INPUT_KEYS)
    if unknown:
        raise InvalidInputError(
            f"The execution input has unknown key(s) {', '.join(unknown)}; it takes only "
            '{"hyperparameters": {...}}, e.g. {"hyperparameters": {"epochs": 25}}'
        )


def read_manifest(s3: Client, bucket: str, key: str) -> dict:
    location = f"s3://{bucket}/{key}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ManifestNotFoundError(
                f"{location} does not exist: the images have not been packaged yet. Upload the "
                f"raw images (a .zip/.tar.gz of images/<class>/*.jpg) under s3://{bucket}/raw/ so "
                "the packaging build runs, or start the packaging build; it writes the manifest."
            ) from None
        if code == "AccessDenied":
            raise ManifestNotFoundError(
                f"Access denied reading {location}. S3 reports a missing object this way when the "
                "role may not list the bucket: check that the packaging build has run and written "
                "the manifest, and that the Prepare Lambda may read it."
            ) from None
        if code == "NoSuchBucket":
            raise ConfigurationError(
                f"Bucket {bucket} (environment BUCKET) does not exist"
            ) from None
        raise
    try:
        manifest = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestInvalidError(
            f"{location} is not valid JSON ({error}); repackage the images"
        ) from None
    if not isinstance(manifest, dict):
        raise ManifestInvalidError(f"{location} must hold a JSON object; repackage the images")
    if manifest.get("schema") != MANIFEST_SCHEMA:
        raise ManifestInvalidError(
            f"{location} has schema {manifest.get('schema')!r}, this Lambda reads schema "
            f"{MANIFEST_SCHEMA}; repackage the images with the recpack version deployed with it"
        )
    return manifest


def prepare(
    event: Mapping | None,
    environ: Mapping[str, str],
    *,
    s3: Client,
    now: datetime | None = None,
) -> dict:
    event = event or {}
    if not isinstance(event, Mapping):
        raise InvalidInputError(
            f"The execution input must be a JSON object, not {type(event).__name__}"
        )
    _check_input_keys(event)
    overrides = event.get("hyperparameters")
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise InvalidInputError(
            "The execution input's hyperparameters must be a JSON object of name to value, "
            f'e.g. {{"hyperparameters": {{"epochs": 25}}}}, not {type(overrides).__name__}'
        )

    bucket = _environment(environ, "BUCKET")
    manifest_key = _environment(environ, "MANIFEST_KEY")
    prefix = _environment(environ, "JOB_NAME_PREFIX")
    defaults = _json_environment(environ, "DEFAULT_HYPERPARAMETERS", dict)
    wait_minutes = _int_environment(environ, "WAIT_FOR_QUOTA_MINUTES", 0, _WAIT_MINUTES_MAX)
    max_attempts = _int_environment(environ, "MAX_ATTEMPTS", 1, MAX_ATTEMPTS)
    now = now or datetime.now(UTC)

    manifest = read_manifest(s3, bucket, manifest_key)
    hyperparameters = merge_hyperparameters(
        defaults,
        manifest,
        overrides,
        defaults_prefix="DEFAULT_HYPERPARAMETERS",
        manifest_name=f"s3://{bucket}/{manifest_key}",
        overrides_prefix="hyperparameters",
    )
    run_id = make_job_name(prefix, now)
    result = {
        "runId": run_id,
        "hyperParameters": hyperparameters,
        "manifest": {
            "key": manifest_key,
            "num_training_samples": int(hyperparameters["num_training_samples"]),
            "num_classes": int(hyperparameters["num_classes"]),
        },
        "startedAt": _timestamp(now),
        "limits": {
            "waitForQuotaMinutes": wait_minutes,
            # Choose starts no job and waits no longer after this.
            "deadline": _timestamp(now + timedelta(minutes=wait_minutes)),
            "maxAttempts": max_attempts,
        },
    }
    logger.info("Prepared run %s: %s", run_id, json.dumps(result["limits"]))
    return result


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return prepare(event, os.environ, s3=session.client("s3", config=CLIENT_CONFIG))
