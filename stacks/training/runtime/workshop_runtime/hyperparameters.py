"""Hyperparameters of the SageMaker built-in Image Classification (MXNet) algorithm.

Checks the values before a training job is created, because a bad value otherwise fails the job
minutes later on a billed GPU instance. Used by the Prepare Lambda and, at synth time, by the CDK
settings validation: keep `validate_hyperparameters` and `merge_hyperparameters` stable.

Values arrive as JSON types (cdk.json) or strings (Step Functions execution input); the result is
the API form, every value a string, whole numbers without ".0".
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "ALGORITHM_HYPERPARAMETERS",
    "DATASET_COUNT_KEYS",
    "LAB2_DEFAULTS",
    "HyperparameterError",
    "ManifestConflictError",
    "merge_hyperparameters",
    "validate_hyperparameters",
]

# The values lab 2 typed into the console (seeds/lab2-train-model.md).
LAB2_DEFAULTS: dict[str, object] = {
    "num_classes": 4,
    "num_training_samples": 335,
    "epochs": 15,
    "checkpoint_frequency": 15,
    "augmentation_type": "crop",
    "image_shape": "3,224,224",
    "learning_rate": 0.1,
    "lr_scheduler_factor": 0.1,
    "mini_batch_size": 24,
    "num_layers": 152,
    "optimizer": "sgd",
    "use_pretrained_model": 0,
}

# The .rec files decide these two; the manifest written by `recpack upload` carries them.
DATASET_COUNT_KEYS = ("num_training_samples", "num_classes")

# Algorithm defaults that cross-field checks need when the key is absent (IC-Hyperparameter doc).
_DEFAULT_EPOCHS = 30
_DEFAULT_IMAGE_SHAPE = (3, 224, 224)
_DEFAULT_NUM_LAYERS = 152

_NUM_LAYERS = (18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110)
# CreateTrainingJob limits each HyperParameters value to 2500 characters.
_API_VALUE_MAX = 2500
# Only these depths have pretrained ImageNet weights, and only at 224x224.
_PRETRAINED_NUM_LAYERS = (18, 34, 50, 101, 152, 200)
_PRETRAINED_IMAGE_SIDES = (224, 224)


class HyperparameterError(ValueError):
    """One or more hyperparameters the algorithm would reject.

    `problems` holds one message per bad key; `key` is the first bad key (with the prefix).
    """

    def __init__(self, problems: Sequence[str], key: str | None = None):
        self.problems = list(problems)
        self.key = key
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} invalid hyperparameters:\n" + "\n".join(
                f"- {problem}" for problem in self.problems
            )
        super().__init__(message)


class ManifestConflictError(HyperparameterError):
    """An override of num_training_samples/num_classes disagrees with the packaged data."""


class _Invalid(Exception):
    """Internal: a single value is wrong; the text says what is allowed."""


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _format_number(number: float) -> str:
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _as_int(value: object) -> int:
    number = _parse_int(value)
    # Beyond ~2500 digits str() itself refuses, and the API would refuse the value anyway.
    if number.bit_length() > 8000:
        raise _Invalid("is too large")
    return number


def _parse_int(value: object) -> int:
    # bool is an int subclass: `true` for epochs is a mistake, not 1.
    if isinstance(value, bool):
        raise _Invalid("must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Invalid("must be a whole number")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise _Invalid("must be a whole number") from None
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise _Invalid("must be a whole number")
    raise _Invalid(f"must be a whole number, not a {type(value).__name__}")


def _as_float(value: object) -> float:
    if isinstance(value, bool):
        raise _Invalid("must be a number, not true/false")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise _Invalid("must be a finite number") from None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _Invalid("must be a number") from None
    else:
        raise _Invalid(f"must be a number, not a {type(value).__name__}")
    if not math.isfinite(number):
        raise _Invalid("must be a finite number")
    return number


def _int_at_least(minimum: int) -> Callable[[object], str]:
    def check(value: object) -> str:
        number = _as_int(value)
        if number < minimum:
            raise _Invalid(f"must be a whole number >= {minimum}")
        return str(number)

    return check


def _unit_interval(value: object) -> str:
    number = _as_float(value)
    if not 0.0 <= number <= 1.0:
        raise _Invalid("must be a number in [0, 1]")
    return _format_number(number)


def _one_of(*allowed: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if isinstance(value, str) and value in allowed:
            return value
        raise _Invalid("must be one of " + ", ".join(allowed))

    return check


def _num_layers(value: object) -> str:
    try:
        number = _as_int(value)
    except _Invalid:
        number = None
    if number not in _NUM_LAYERS:
        raise _Invalid(
            "must be one of 18, 34, 50, 101, 152, 200 (large images, pretrained weights) "
            "or 20, 32, 44, 56, 110 (small images)"
        )
    return str(number)


def _flag_0_1(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    try:
        number = _as_int(value)
    except _Invalid:
        number = None
    if number not in (0, 1):
        raise _Invalid("must be 0 or 1")
    return str(number)


def _true_false(value: object) -> str:
    # The algorithm documents the Python spellings True/False, unlike its 0/1 flags.
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return "True" if value.strip().lower() == "true" else "False"
    raise _Invalid("must be True or False")


def _int_parts(value: object, separator_hint: str) -> list[int]:
    if isinstance(value, str):
        parts: list[object] = value.split(",")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [value]
    else:
        raise _Invalid(separator_hint)
    numbers = []
    for part in parts:
        try:
            numbers.append(_as_int(part))
        except _Invalid:
            raise _Invalid(separator_hint) from None
    return numbers


def _image_shape_parts(value: object) -> tuple[int, int, int]:
    hint = "must be 'channels,height,width' with channels 1 or 3 and positive height and width, e.g. '3,224,224'"
    if isinstance(value, int) and not isinstance(value, bool):
        raise _Invalid(hint)
    numbers = _int_parts(value, hint)
    if len(numbers) != 3 or numbers[0] not in (1, 3) or numbers[1] < 1 or numbers[2] < 1:
        raise _Invalid(hint)
    return numbers[0], numbers[1], numbers[2]


def _image_shape(value: object) -> str:
    return ",".join(str(number) for number in _image_shape_parts(value))


def _lr_scheduler_steps(value: object) -> list[int]:
    hint = "must be a comma-separated list of increasing positive epoch numbers, e.g. '10,20'"
    numbers = _int_parts(value, hint)
    if not numbers or any(number < 1 for number in numbers):
        raise _Invalid(hint)
    # MXNet's MultiFactorScheduler refuses a schedule that does not strictly increase.
    if any(later <= earlier for earlier, later in zip(numbers, numbers[1:], strict=False)):
        raise _Invalid(hint)
    return numbers


def _lr_scheduler_step(value: object) -> str:
    return ",".join(str(number) for number in _lr_scheduler_steps(value))


# Every hyperparameter the algorithm accepts (IC-Hyperparameter in the SageMaker developer guide).
_CHECKS: dict[str, Callable[[object], str]] = {
    "num_classes": _int_at_least(2),
    "num_training_samples": _int_at_least(1),
    "augmentation_type": _one_of("crop", "crop_color", "crop_color_transform"),
    "beta_1": _unit_interval,
    "beta_2": _unit_interval,
    "checkpoint_frequency": _int_at_least(1),
    "early_stopping": _true_false,
    "early_stopping_min_epochs": _int_at_least(1),
    "early_stopping_patience": _int_at_least(1),
    "early_stopping_tolerance": _unit_interval,
    "epochs": _int_at_least(1),
    "eps": _unit_interval,
    "gamma": _unit_interval,
    "image_shape": _image_shape,
    "kv_store": _one_of("dist_sync", "dist_async"),
    "learning_rate": _unit_interval,
    "lr_scheduler_factor": _unit_interval,
    "lr_scheduler_step": _lr_scheduler_step,
    "mini_batch_size": _int_at_least(1),
    "momentum": _unit_interval,
    "multi_label": _flag_0_1,
    "num_layers": _num_layers,
    "optimizer": _one_of("sgd", "adam", "rmsprop", "nag"),
    "precision_dtype": _one_of("float32", "float16"),
    "resize": _int_at_least(1),
    "top_k": _int_at_least(2),
    "use_pretrained_model": _flag_0_1,
    "use_weighted_loss": _flag_0_1,
    "weight_decay": _unit_interval,
}

ALGORITHM_HYPERPARAMETERS = frozenset(_CHECKS)
_CROSS_FIELD_KEYS = frozenset(
    {
        "epochs",
        "image_shape",
        "num_layers",
        "checkpoint_frequency",
        "resize",
        "use_pretrained_model",
    }
)


def _name(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _cross_field_problems(
    values: Mapping[str, str], name_of: Callable[[str], str]
) -> list[tuple[str, str]]:
    """Rules between keys, on already normalized values; absent keys take the algorithm default."""
    problems: list[tuple[str, str]] = []
    epochs = int(values.get("epochs", _DEFAULT_EPOCHS))
    epochs_text = (
        f"{name_of('epochs')} = {epochs}" if "epochs" in values else f"the default epochs {epochs}"
    )
    shape = (
        tuple(int(part) for part in values["image_shape"].split(","))
        if "image_shape" in values
        else _DEFAULT_IMAGE_SHAPE
    )
    num_layers = int(values.get("num_layers", _DEFAULT_NUM_LAYERS))

    if "checkpoint_frequency" in values and int(values["checkpoint_frequency"]) > epochs:
        key = "checkpoint_frequency"
        problems.append(
            (key, f"{name_of(key)} = {values[key]}: must be no greater than {epochs_text}")
        )
    if "resize" in values and int(values["resize"]) < max(shape[1], shape[2]):
        # The random crop of image_shape needs an image at least that large.
        key = "resize"
        problems.append(
            (
                key,
                f"{name_of(key)} = {values[key]}: must be at least the image_shape height and "
                f"width ({shape[1]}x{shape[2]}): images smaller than image_shape fail the job",
            )
        )
    if values.get("use_pretrained_model") == "1":
        key = "use_pretrained_model"
        if num_layers not in _PRETRAINED_NUM_LAYERS:
            problems.append(
                (
                    key,
                    f"{name_of(key)} = 1: needs num_layers in 18, 34, 50, 101, 152, 200 "
                    f"(pretrained weights exist only for those), not {num_layers}",
                )
            )
        if (shape[1], shape[2]) != _PRETRAINED_IMAGE_SIDES:
            problems.append(
                (
                    key,
                    f"{name_of(key)} = 1: needs image_shape height and width 224x224 "
                    f"(the pretrained models' input), not {shape[1]}x{shape[2]}",
                )
            )
    return problems


def validate_hyperparameters(
    params: Mapping[str, object],
    *,
    setting_prefix: str = "hyperparameters",
    require_dataset_counts: bool = False,
) -> dict[str, str]:
    """Check `params` against the algorithm's rules and return the API form (all strings).

    `setting_prefix` names where the values came from, for the messages (e.g.
    "training.hyperparameters"). `require_dataset_counts` also demands num_training_samples and
    num_classes, which a job cannot start without; settings that leave them to the manifest pass
    without it. Raises HyperparameterError listing every bad key; nothing else.
    """
    return _validate(
        params,
        setting_prefix,
        lambda key: _name(setting_prefix, key),
        require_dataset_counts=require_dataset_counts,
    )


def _validate(
    params: Mapping[str, object],
    setting_prefix: str,
    name_of: Callable[[str], str],
    *,
    require_dataset_counts: bool,
) -> dict[str, str]:
    if not isinstance(params, Mapping):
        raise HyperparameterError(
            [f"{setting_prefix} must be a mapping of name to value, not a {type(params).__name__}"],
            key=setting_prefix,
        )
    problems: list[tuple[str, str]] = []
    normalized: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            problems.append(
                (str(key), f"{setting_prefix} has a key {_describe(key)} that is not a string")
            )
            continue
        check = _CHECKS.get(key)
        if check is None:
            close = difflib.get_close_matches(key, list(_CHECKS), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            problems.append(
                (
                    key,
                    f"{name_of(key)} is not a hyperparameter of the SageMaker Image "
                    f"Classification algorithm.{hint} Known: {', '.join(sorted(_CHECKS))}",
                )
            )
            continue
        if value is None:
            problems.append(
                (key, f"{name_of(key)} has no value; remove it to use the algorithm's default")
            )
            continue
        try:
            text = check(value)
            if len(text) > _API_VALUE_MAX:
                raise _Invalid(f"is longer than the {_API_VALUE_MAX} characters the API accepts")
            normalized[key] = text
        except _Invalid as invalid:
            problems.append((key, f"{name_of(key)} = {_describe(value)}: {invalid}"))

    if require_dataset_counts:
        for key in DATASET_COUNT_KEYS:
            if key not in params:
                problems.append((key, f"{name_of(key)} is required by the algorithm and missing"))

    # A cross-field rule on a value that failed its own check would only repeat the problem.
    bad_keys = {key for key, _ in problems}
    if not bad_keys & _CROSS_FIELD_KEYS:
        problems.extend(_cross_field_problems(normalized, name_of))

    if problems:
        raise HyperparameterError([message for _, message in problems], key=name_of(problems[0][0]))
    return normalized


def merge_hyperparameters(
    defaults: Mapping[str, object],
    manifest: Mapping[str, object],
    overrides: Mapping[str, object] | None,
    *,
    defaults_prefix: str = "DEFAULT_HYPERPARAMETERS",
    manifest_name: str = "manifest",
    overrides_prefix: str = "hyperparameters",
) -> dict[str, str]:
    """Merge defaults < manifest counts < overrides, validate, and return the API form.

    The counts come from the packaged .rec files (the manifest); an override that disagrees with
    them is refused because a wrong num_training_samples/num_classes fails or skews the job.
    """
    default_values = validate_hyperparameters(defaults, setting_prefix=defaults_prefix)
    if not isinstance(manifest, Mapping):
        raise HyperparameterError(
            [f"{manifest_name} must be a JSON object, not a {type(manifest).__name__}"],
            key=manifest_name,
        )
    counts = {key: manifest[key] for key in DATASET_COUNT_KEYS if key in manifest}
    manifest_values = validate_hyperparameters(
        counts, setting_prefix=manifest_name, require_dataset_counts=True
    )
    override_values = validate_hyperparameters(overrides or {}, setting_prefix=overrides_prefix)

    conflicts = [
        f"{_name(overrides_prefix, key)} = {override_values[key]} disagrees with {manifest_name} "
        f"{key} = {manifest_values[key]}, counted from the packaged .rec files; a wrong count fails "
        f"or skews the training job. Remove the override, or repackage the images if the data changed"
        for key in DATASET_COUNT_KEYS
        if key in override_values and override_values[key] != manifest_values[key]
    ]
    if conflicts:
        first = next(
            key
            for key in DATASET_COUNT_KEYS
            if key in override_values and override_values[key] != manifest_values[key]
        )
        raise ManifestConflictError(conflicts, key=_name(overrides_prefix, first))

    merged = {**default_values, **manifest_values, **override_values}
    sources = {key: defaults_prefix for key in default_values}
    sources.update({key: manifest_name for key in manifest_values})
    sources.update({key: overrides_prefix for key in override_values})
    return _validate(
        merged,
        overrides_prefix,
        lambda key: _name(sources.get(key, overrides_prefix), key),
        require_dataset_counts=True,
    )
