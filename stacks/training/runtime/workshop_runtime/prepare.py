"""Prepare Lambda: everything CreateTrainingJob needs, checked before a GPU instance is billed.

Reads the manifest written by `recpack upload`, merges the hyperparameters (defaults < manifest
counts < execution input), picks the first preferred GPU instance type with free training quota,
and names the job. Errors are exception classes: Step Functions shows their name and message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .clients import CLIENT_CONFIG, Client
from .hyperparameters import HyperparameterError, merge_hyperparameters
from .quotas import (
    NoGpuQuotaError,
    choose_instance_type,
    get_training_quotas,
    get_training_usage,
    normalize_instance_type,
    quota_rows,
)

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "IAM_ACTIONS",
    "ConfigurationError",
    "HyperparameterError",
    "InvalidInputError",
    "ManifestInvalidError",
    "ManifestNotFoundError",
    "NoGpuQuotaError",
    "TrainingJobExistsError",
    "handler",
    "make_job_name",
    "prepare",
]

MANIFEST_SCHEMA = 1
# What the function's role needs besides s3:GetObject on the manifest (for the CDK grants).
IAM_ACTIONS = (
    "servicequotas:ListServiceQuotas",
    "servicequotas:ListAWSDefaultServiceQuotas",
    "sagemaker:ListTrainingJobs",
    "sagemaker:DescribeTrainingJob",
)
# CreateTrainingJob: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_JOB_NAME_MAX = 63
_JOB_NAME_SUFFIX_LENGTH = len("-20261121-120000-abcd")
# Service Quotas throttles at a few calls per second; retry rather than fail the execution.


class ConfigurationError(Exception):
    """The Lambda's environment is missing or malformed (a deployment problem)."""


class InvalidInputError(ValueError):
    """The execution input is not of the documented shape."""


class ManifestNotFoundError(Exception):
    """No manifest.json: the images were never packaged into RecordIO files."""


class ManifestInvalidError(Exception):
    """manifest.json exists but cannot be used."""


class TrainingJobExistsError(Exception):
    """The requested training job name is taken (names are unique per account and region)."""


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
    if not isinstance(value, expected):
        raise ConfigurationError(
            f"Environment variable {name} must be a JSON {expected.__name__}, got {text[:80]!r}"
        )
    return value


def make_job_name(prefix: str, now: datetime, suffix: str | None = None) -> str:
    """`<prefix>-YYYYMMDD-HHMMSS-xxxx`, a valid SageMaker name of at most 63 characters."""
    cleaned = re.sub(r"[^a-zA-Z0-9-]+", "-", prefix).strip("-")
    cleaned = cleaned[: _JOB_NAME_MAX - _JOB_NAME_SUFFIX_LENGTH].rstrip("-") or "training"
    suffix = suffix if suffix is not None else secrets.token_hex(2)
    return f"{cleaned}-{now:%Y%m%d-%H%M%S}-{suffix}"


def _check_job_name(sagemaker: Client, name: object, prefix: str) -> str:
    if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
        raise InvalidInputError(
            f"trainingJobName {name!r} is not a valid SageMaker training job name: 1 to 63 "
            "letters, digits and hyphens, starting and ending with a letter or digit"
        )
    # The state machine and Report roles may only touch jobs named <prefix>*: refuse others now,
    # not with AccessDenied after the GPU time is spent.
    if not name.startswith(prefix):
        raise InvalidInputError(
            f"trainingJobName {name!r} must start with {prefix!r} (JOB_NAME_PREFIX, the stack's "
            "training.jobNamePrefix setting): the stack's roles are scoped to those jobs"
        )
    try:
        sagemaker.describe_training_job(TrainingJobName=name)
    except ClientError as error:
        # SageMaker answers a missing job with ValidationException "Requested resource not found".
        if error.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return name
        raise
    raise TrainingJobExistsError(
        f"A training job named {name!r} already exists in this account and region; choose another "
        "trainingJobName or leave it out to get a generated one"
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
    servicequotas: Client,
    sagemaker: Client,
    now: datetime | None = None,
    region: str | None = None,
) -> dict:
    event = event or {}
    if not isinstance(event, Mapping):
        raise InvalidInputError(
            f"The execution input must be a JSON object, not {type(event).__name__}"
        )
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
    instance_types = _json_environment(environ, "INSTANCE_TYPES", list)
    if not instance_types or not all(isinstance(t, str) and t.strip() for t in instance_types):
        raise ConfigurationError(
            "Environment variable INSTANCE_TYPES must be a non-empty JSON list of instance types, "
            'e.g. ["ml.g4dn.xlarge", "ml.g5.xlarge"]'
        )
    preference = [normalize_instance_type(t) for t in instance_types]

    if event.get("trainingJobName"):
        job_name = _check_job_name(sagemaker, event["trainingJobName"], prefix)
    else:
        job_name = make_job_name(prefix, now or datetime.now(UTC))

    manifest = read_manifest(s3, bucket, manifest_key)
    hyperparameters = merge_hyperparameters(
        defaults,
        manifest,
        overrides,
        defaults_prefix="DEFAULT_HYPERPARAMETERS",
        manifest_name=f"s3://{bucket}/{manifest_key}",
        overrides_prefix="hyperparameters",
    )

    quotas = get_training_quotas(servicequotas, preference)
    usage = get_training_usage(sagemaker)
    rows = quota_rows(preference, quotas, usage)
    logger.info("Training quotas: %s", json.dumps(rows))
    instance_type = choose_instance_type(preference, quotas, usage, region=region)

    result = {
        "trainingJobName": job_name,
        "instanceType": instance_type,
        "hyperParameters": hyperparameters,
        "manifest": {
            "key": manifest_key,
            "num_training_samples": int(hyperparameters["num_training_samples"]),
            "num_classes": int(hyperparameters["num_classes"]),
        },
        "quotas": rows,
    }
    logger.info("Prepared %s on %s", job_name, instance_type)
    return result


def handler(event: Any, context: object) -> dict:
    session = boto3.session.Session()
    return prepare(
        event,
        os.environ,
        s3=session.client("s3", config=CLIENT_CONFIG),
        servicequotas=session.client("service-quotas", config=CLIENT_CONFIG),
        sagemaker=session.client("sagemaker", config=CLIENT_CONFIG),
        region=session.region_name,
    )
