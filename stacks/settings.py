"""The `workshop` settings: schema, defaults (in cdk.json), `-c` overrides and synth-time validation.

Settings come from the `workshop` block of cdk.json. Any context key `workshop.a.b=value` (from
`cdk -c`) overrides one leaf; the value is parsed as JSON when it parses, else taken as a string, so
`-c workshop.training.hyperparameters.epochs=25` and `-c 'workshop.accounts=[...]'` both work.
Every error names the setting by its dotted path and fits on one line.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stacks.log_retention import RETENTION_BY_DAYS
from stacks.training.runtime.workshop_runtime.hyperparameters import (
    HyperparameterError,
    validate_hyperparameters,
)

ROOT = "workshop"

# Account hosting the built-in image-classification image per region (docs: "Docker registry paths").
IMAGE_CLASSIFICATION_ACCOUNTS: dict[str, str] = {
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "eu-central-1": "813361260812",
    "eu-north-1": "669576153137",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-south-1": "991648021394",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ca-central-1": "469771592824",
    "sa-east-1": "855470959533",
}


class SettingsError(ValueError):
    """A `workshop` setting is missing, unknown or invalid; the message names it."""


@dataclass(frozen=True)
class Prefixes:
    raw: str
    train: str
    validation: str
    output: str


@dataclass(frozen=True)
class Environment:
    account: str
    region: str


@dataclass(frozen=True)
class PackagingSettings:
    train_ratio: float
    resize: int
    quality: int
    classes: tuple[str, ...]
    build_timeout_minutes: int


@dataclass(frozen=True)
class TrainingSettings:
    instance_types: tuple[str, ...]
    job_name_prefix: str
    max_runtime_seconds: int
    volume_size_gb: int
    request_quota_increase: bool
    require_gpu_quota: bool
    preflight_on_every_deploy: bool
    hyperparameters: dict[str, str]


@dataclass(frozen=True)
class WorkshopSettings:
    stack_name: str
    accounts: tuple[Environment, ...]
    retain_bucket: bool
    prefixes: Prefixes
    manifest_key: str
    noncurrent_version_expiration_days: int
    abort_incomplete_multipart_upload_days: int
    log_retention_days: int
    packaging: PackagingSettings
    training: TrainingSettings


# Expected shape of the `workshop` block: a nested dict of leaf kinds. `hyperparameters` is an open
# mapping checked by the algorithm's own validator.
_SCHEMA: dict[str, Any] = {
    "stackName": "str",
    "accounts": "accounts",
    "retainBucket": "bool",
    "prefixes": {"raw": "str", "train": "str", "validation": "str", "output": "str"},
    "manifestKey": "str",
    "noncurrentVersionExpirationDays": "int",
    "abortIncompleteMultipartUploadDays": "int",
    "logRetentionDays": "int",
    "packaging": {
        "trainRatio": "number",
        "resize": "int",
        "quality": "int",
        "classes": "str_list",
        "buildTimeoutMinutes": "int",
    },
    "training": {
        "instanceTypes": "str_list",
        "jobNamePrefix": "str",
        "maxRuntimeSeconds": "int",
        "volumeSizeGb": "int",
        "requestQuotaIncrease": "bool",
        "requireGpuQuota": "bool",
        "preflightOnEveryDeploy": "bool",
        "hyperparameters": "mapping",
    },
}

# CloudWatch Logs only accepts these retention periods.
_LOG_RETENTION_DAYS = tuple(RETENTION_BY_DAYS)
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z][a-z0-9-]*\.[0-9]*x?large$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,100}$")
# Job names are at most 63 characters and Prepare appends a timestamp. Lower case because IAM
# matches the training-job ARN, which SageMaker writes in lower case.
_JOB_NAME_PREFIX = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,38}$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


def load_settings(context: Mapping[str, Any]) -> WorkshopSettings:
    """Build validated settings from the app's whole context (cdk.json plus `-c` values)."""
    raw = merged_settings(context)
    _check_shape(raw, _SCHEMA, ROOT)
    return _to_settings(raw)


def merged_settings(context: Mapping[str, Any]) -> dict[str, Any]:
    """The `workshop` block with every `workshop.x.y` override applied, before validation."""
    block = context.get(ROOT)
    if isinstance(block, str):
        # `-c workshop='{...}'` arrives as a string.
        block = _parse_json(block, ROOT)
    if not isinstance(block, dict):
        raise SettingsError(f"{ROOT}: missing from cdk.json context (expected an object)")
    merged = copy.deepcopy(block)
    for key in sorted(k for k in context if k.startswith(ROOT + ".")):
        _override(merged, key, context[key])
    return merged


def _parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path}: not valid JSON ({error.msg})") from None


def _schema_kind(names: list[str]) -> Any:
    node: Any = _SCHEMA
    for name in names:
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
    return node


def _override(settings: dict[str, Any], dotted: str, value: Any) -> None:
    names = dotted.split(".")[1:]
    if not all(names):
        raise SettingsError(f"{dotted}: empty name in the setting path")
    # A string setting keeps `-c` text as typed, so a prefix like "2026" stays a string.
    if isinstance(value, str) and _schema_kind(names) != "str":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass  # a plain string such as an optimizer name
    node = settings
    for depth, name in enumerate(names[:-1]):
        child = node.get(name)
        if not isinstance(child, dict):
            where = ".".join([ROOT, *names[: depth + 1]])
            raise SettingsError(f"{dotted}: unknown setting ({where} is not a group of settings)")
        node = child
    node[names[-1]] = value


def _check_shape(value: Any, schema: Any, path: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise SettingsError(f"{path}: expected an object, got {_describe(value)}")
        unknown = sorted(set(value) - set(schema))
        if unknown:
            raise SettingsError(
                f"{path}.{unknown[0]}: unknown setting (known: {', '.join(sorted(schema))})"
            )
        missing = sorted(set(schema) - set(value))
        if missing:
            raise SettingsError(f"{path}.{missing[0]}: missing (set it in cdk.json)")
        for name, child in schema.items():
            _check_shape(value[name], child, f"{path}.{name}")
        return
    checks = {
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str_list": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "mapping": lambda v: isinstance(v, dict),
        "accounts": lambda v: isinstance(v, list),
    }
    expected = {
        "str": "a string",
        "bool": "true or false",
        "int": "an integer",
        "number": "a number",
        "str_list": "a list of strings",
        "mapping": "an object",
        "accounts": 'a list of {"account", "region"} objects',
    }
    if not checks[schema](value):
        raise SettingsError(f"{path}: expected {expected[schema]}, got {_describe(value)}")


def _describe(value: Any) -> str:
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    shown = json.dumps(value)
    return f"{kind} {shown if len(shown) <= 40 else shown[:37] + '...'}"


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise SettingsError(f"{path}: {message}")


def _positive(value: int, path: str) -> int:
    _require(value > 0, f"{ROOT}.{path}", f"{value} must be a positive integer")
    return value


def _to_settings(raw: dict[str, Any]) -> WorkshopSettings:
    stack_name = raw["stackName"]
    _require(
        bool(_STACK_NAME.match(stack_name)),
        f"{ROOT}.stackName",
        f"{stack_name!r} must start with a letter and hold only letters, digits and hyphens",
    )

    prefixes = Prefixes(
        **{name: raw["prefixes"][name] for name in ("raw", "train", "validation", "output")}
    )
    _check_prefixes(prefixes)
    manifest_key = raw["manifestKey"]
    _require(
        bool(manifest_key) and not manifest_key.startswith("/"),
        f"{ROOT}.manifestKey",
        f"{manifest_key!r} must be a non-empty object key",
    )
    _require(
        not manifest_key.startswith(prefixes.raw),
        f"{ROOT}.manifestKey",
        f"{manifest_key!r} is under prefixes.raw ({prefixes.raw}); writing it would trigger the build again",
    )

    retention = raw["logRetentionDays"]
    _require(
        retention in _LOG_RETENTION_DAYS,
        f"{ROOT}.logRetentionDays",
        f"{retention} is not one of {', '.join(map(str, _LOG_RETENTION_DAYS))}",
    )

    packaging, training = _check_packaging(raw["packaging"]), _check_training(raw["training"])
    _check_resize_covers_image_shape(packaging, training)

    return WorkshopSettings(
        stack_name=stack_name,
        accounts=_check_accounts(raw["accounts"]),
        retain_bucket=raw["retainBucket"],
        prefixes=prefixes,
        manifest_key=manifest_key,
        noncurrent_version_expiration_days=_positive(
            raw["noncurrentVersionExpirationDays"], "noncurrentVersionExpirationDays"
        ),
        abort_incomplete_multipart_upload_days=_positive(
            raw["abortIncompleteMultipartUploadDays"], "abortIncompleteMultipartUploadDays"
        ),
        log_retention_days=retention,
        packaging=packaging,
        training=training,
    )


def _check_resize_covers_image_shape(
    packaging: PackagingSettings, training: TrainingSettings
) -> None:
    # The build packs with the shorter side at `resize`; the algorithm fails on images smaller
    # than image_shape, which would only show after a GPU instance started.
    shape = training.hyperparameters.get("image_shape", "3,224,224")
    side = max(int(v) for v in shape.split(",")[1:])
    _require(
        packaging.resize >= side,
        f"{ROOT}.packaging.resize",
        f"{packaging.resize} is smaller than the training image_shape {shape} "
        f"(workshop.training.hyperparameters.image_shape); use {side} or more",
    )


def _check_prefixes(prefixes: Prefixes) -> None:
    values = vars(prefixes)
    for name, prefix in values.items():
        _require(
            bool(_PREFIX.match(prefix)),
            f"{ROOT}.prefixes.{name}",
            f"{prefix!r} must be a relative key prefix ending in '/', such as 'raw/'",
        )
    for name, prefix in values.items():
        for other_name, other in values.items():
            if name != other_name and other.startswith(prefix):
                raise SettingsError(
                    f"{ROOT}.prefixes.{name}: {prefix!r} overlaps prefixes.{other_name} ({other!r}); "
                    "each prefix needs its own permissions"
                )


def _check_accounts(accounts: list[Any]) -> tuple[Environment, ...]:
    environments = []
    for index, entry in enumerate(accounts):
        path = f"{ROOT}.accounts[{index}]"
        _require(
            isinstance(entry, dict),
            path,
            f'expected {{"account", "region"}}, got {_describe(entry)}',
        )
        unknown = sorted(set(entry) - {"account", "region"})
        _require(
            not unknown,
            f"{path}.{unknown[0] if unknown else ''}",
            "unknown setting (known: account, region)",
        )
        for name in ("account", "region"):
            _require(
                isinstance(entry.get(name), str),
                f"{path}.{name}",
                f"expected a string, got {_describe(entry.get(name))}",
            )
        account, region = entry["account"], entry["region"]
        _require(
            bool(_ACCOUNT.match(account)),
            f"{path}.account",
            f"{account!r} is not a 12-digit account id",
        )
        _require(bool(_REGION.match(region)), f"{path}.region", f"{region!r} is not a region name")
        _require(
            region in IMAGE_CLASSIFICATION_ACCOUNTS,
            f"{path}.region",
            f"{region} has no image-classification image in this app "
            f"(supported: {', '.join(sorted(IMAGE_CLASSIFICATION_ACCOUNTS))})",
        )
        environment = Environment(account=account, region=region)
        _require(environment not in environments, path, f"{account}/{region} is listed twice")
        environments.append(environment)
    return tuple(environments)


def _check_packaging(raw: dict[str, Any]) -> PackagingSettings:
    path = f"{ROOT}.packaging"
    ratio = raw["trainRatio"]
    _require(
        0 < ratio < 1,
        f"{path}.trainRatio",
        f"{ratio} must be between 0 and 1 (exclusive): "
        "training needs both a train and a validation channel",
    )
    quality = raw["quality"]
    _require(1 <= quality <= 100, f"{path}.quality", f"{quality} must be between 1 and 100")
    classes = raw["classes"]
    for index, name in enumerate(classes):
        _require(
            bool(name.strip()) and "," not in name,
            f"{path}.classes[{index}]",
            f"{name!r} must be a non-empty class id or name without commas",
        )
    timeout = raw["buildTimeoutMinutes"]
    _require(
        5 <= timeout <= 2160, f"{path}.buildTimeoutMinutes", f"{timeout} must be between 5 and 2160"
    )
    return PackagingSettings(
        train_ratio=float(ratio),
        resize=_positive(raw["resize"], "packaging.resize"),
        quality=quality,
        classes=tuple(classes),
        build_timeout_minutes=timeout,
    )


def _check_training(raw: dict[str, Any]) -> TrainingSettings:
    path = f"{ROOT}.training"
    instance_types = raw["instanceTypes"]
    _require(bool(instance_types), f"{path}.instanceTypes", "must list at least one instance type")
    for index, instance_type in enumerate(instance_types):
        _require(
            bool(_INSTANCE_TYPE.match(instance_type)),
            f"{path}.instanceTypes[{index}]",
            f"{instance_type!r} is not a SageMaker instance type such as 'ml.g4dn.xlarge'",
        )
    _require(
        len(set(instance_types)) == len(instance_types),
        f"{path}.instanceTypes",
        "lists a type twice",
    )
    prefix = raw["jobNamePrefix"]
    _require(
        bool(_JOB_NAME_PREFIX.match(prefix)),
        f"{path}.jobNamePrefix",
        f"{prefix!r} must be 1-39 lower-case letters, digits or inner hyphens (job names are at most 63 characters)",
    )
    max_runtime = _positive(raw["maxRuntimeSeconds"], "training.maxRuntimeSeconds")
    _require(
        max_runtime <= 28 * 24 * 3600, f"{path}.maxRuntimeSeconds", f"{max_runtime} exceeds 28 days"
    )
    volume = _positive(raw["volumeSizeGb"], "training.volumeSizeGb")
    _require(volume <= 16384, f"{path}.volumeSizeGb", f"{volume} exceeds 16384 GB")
    return TrainingSettings(
        instance_types=tuple(instance_types),
        job_name_prefix=prefix,
        max_runtime_seconds=max_runtime,
        volume_size_gb=volume,
        request_quota_increase=raw["requestQuotaIncrease"],
        require_gpu_quota=raw["requireGpuQuota"],
        preflight_on_every_deploy=raw["preflightOnEveryDeploy"],
        hyperparameters=check_hyperparameters(raw["hyperparameters"]),
    )


def check_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    """Validate the default hyperparameters with the same function the Prepare Lambda uses."""
    try:
        # The manifest supplies num_training_samples/num_classes at run time, so they may be absent.
        return validate_hyperparameters(
            hyperparameters, setting_prefix=f"{ROOT}.training.hyperparameters"
        )
    except HyperparameterError as error:
        raise SettingsError("; ".join(error.problems)) from None
