"""Hyperparameters of the SageMaker built-in Image Classification (MXNet) algorithm, as a spec table.

Checks the values before a training job is created, because a bad value otherwise fails the job
minutes later on a billed GPU instance. Used by the Prepare Lambda and, at synth time, by the
settings (`workshop.training.hyperparameters`): keep `validate_hyperparameters`,
`merge_hyperparameters` and `HYPERPARAMETERS` stable.

Values arrive as JSON types (cdk.json) or strings (Step Functions execution input); the result is
the API form, every value a string, whole numbers without ".0". A new hyperparameter is one entry
in HYPERPARAMETERS (and a Rule there if it depends on another).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .specs import (
    API,
    Bool,
    Choice,
    Fields,
    Flag,
    Int,
    IntList,
    Number,
    Rule,
    SpecError,
    Values,
    join_path,
    validate,
)

__all__ = [
    "ALGORITHM_HYPERPARAMETERS",
    "DATASET_COUNT_KEYS",
    "HYPERPARAMETERS",
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

# Only these depths have pretrained ImageNet weights, and only at 224x224.
_PRETRAINED_NUM_LAYERS = (18, 34, 50, 101, 152, 200)
_PRETRAINED_SIDES = (224, 224)
_UNIT = Number(minimum=0, maximum=1)


def _image_shape_ok(shape: tuple[int, ...]) -> bool:
    return shape[0] in (1, 3) and shape[1] >= 1 and shape[2] >= 1


def _increasing_epochs(steps: tuple[int, ...]) -> bool:
    # MXNet's MultiFactorScheduler refuses a schedule that does not strictly increase.
    return (
        bool(steps) and steps[0] >= 1 and all(b > a for a, b in zip(steps, steps[1:], strict=False))
    )


def _sides(values: Values) -> str:
    _, height, width = values["image_shape"]
    return f"{height}x{width}"


# Every hyperparameter the algorithm accepts (IC-Hyperparameter in the SageMaker developer guide).
# A `default` is the algorithm's own, used only by the rules when the key is absent.
HYPERPARAMETERS = Fields(
    dialect=API,
    fill_defaults=False,
    unknown=(
        "{path} is not a hyperparameter of the SageMaker Image Classification algorithm."
        "{did_you_mean} Known: {known}"
    ),
    missing="{path} is required by the algorithm and missing",
    no_value="{path} has no value; remove it to use the algorithm's default",
    # CreateTrainingJob limits each HyperParameters value to 2500 characters.
    max_text=2500,
    fields={
        "num_classes": Int(minimum=2),
        "num_training_samples": Int(minimum=1),
        "augmentation_type": Choice(values=("crop", "crop_color", "crop_color_transform")),
        "beta_1": _UNIT,
        "beta_2": _UNIT,
        "checkpoint_frequency": Int(minimum=1),
        "early_stopping": Bool(),
        "early_stopping_min_epochs": Int(minimum=1),
        "early_stopping_patience": Int(minimum=1),
        "early_stopping_tolerance": _UNIT,
        "epochs": Int(minimum=1, default=30),
        "eps": _UNIT,
        "gamma": _UNIT,
        "image_shape": IntList(
            length=3,
            single=False,
            holds=_image_shape_ok,
            reason="must be 'channels,height,width' with channels 1 or 3 and positive height "
            "and width, e.g. '3,224,224'",
            default="3,224,224",
        ),
        "kv_store": Choice(values=("dist_sync", "dist_async")),
        "learning_rate": _UNIT,
        "lr_scheduler_factor": _UNIT,
        "lr_scheduler_step": IntList(
            holds=_increasing_epochs,
            reason="must be a comma-separated list of increasing positive epoch numbers, "
            "e.g. '10,20'",
        ),
        "mini_batch_size": Int(minimum=1),
        "momentum": _UNIT,
        "multi_label": Flag(),
        "num_layers": Choice(
            values=(18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110),
            reason="must be one of 18, 34, 50, 101, 152, 200 (large images, pretrained weights) "
            "or 20, 32, 44, 56, 110 (small images)",
            default=152,
        ),
        "optimizer": Choice(values=("sgd", "adam", "rmsprop", "nag")),
        "precision_dtype": Choice(values=("float32", "float16")),
        "resize": Int(minimum=1),
        "top_k": Int(minimum=2),
        "use_pretrained_model": Flag(),
        "use_weighted_loss": Flag(),
        "weight_decay": _UNIT,
    },
    rules=(
        Rule(
            at="checkpoint_frequency",
            needs=("epochs",),
            holds=lambda v: v["checkpoint_frequency"] <= v["epochs"],
            explain=lambda v: f"must be no greater than {v.describe('epochs')}",
        ),
        Rule(
            # The random crop of image_shape needs an image at least that large.
            at="resize",
            needs=("image_shape",),
            holds=lambda v: v["resize"] >= max(v["image_shape"][1:]),
            explain=lambda v: f"must be at least the image_shape height and width "
            f"({_sides(v)}): images smaller than image_shape fail the job",
        ),
        Rule(
            at="use_pretrained_model",
            needs=("num_layers",),
            holds=lambda v: v["use_pretrained_model"] == 0
            or v["num_layers"] in _PRETRAINED_NUM_LAYERS,
            explain=lambda v: "needs num_layers in 18, 34, 50, 101, 152, 200 "
            f"(pretrained weights exist only for those), not {v['num_layers']}",
        ),
        Rule(
            at="use_pretrained_model",
            needs=("image_shape",),
            holds=lambda v: v["use_pretrained_model"] == 0
            or tuple(v["image_shape"][1:]) == _PRETRAINED_SIDES,
            explain=lambda v: "needs image_shape height and width 224x224 "
            f"(the pretrained models' input), not {_sides(v)}",
        ),
    ),
)

ALGORITHM_HYPERPARAMETERS = frozenset(HYPERPARAMETERS.fields)


class HyperparameterError(ValueError):
    """One or more hyperparameters the algorithm would reject.

    `problems` holds one message per problem; `key` names the first one (with the prefix).
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

    @classmethod
    def from_spec_error(cls, error: SpecError) -> HyperparameterError:
        return cls([problem.message for problem in error.problems], key=error.problems[0].path)


class ManifestConflictError(HyperparameterError):
    """An override of num_training_samples/num_classes disagrees with the packaged data."""


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
    without it. Raises HyperparameterError listing every problem; nothing else.
    """
    try:
        result: dict[str, str] = validate(
            HYPERPARAMETERS,
            params,
            root=setting_prefix,
            require=DATASET_COUNT_KEYS if require_dataset_counts else (),
        )
    except SpecError as error:
        raise HyperparameterError.from_spec_error(error) from None
    return result


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

    conflicting = [
        key
        for key in DATASET_COUNT_KEYS
        if key in override_values and override_values[key] != manifest_values[key]
    ]
    if conflicting:
        raise ManifestConflictError(
            [
                f"{join_path(overrides_prefix, key)} = {override_values[key]} disagrees with "
                f"{manifest_name} {key} = {manifest_values[key]}, counted from the packaged .rec "
                "files; a wrong count fails or skews the training job. Remove the override, or "
                "repackage the images if the data changed"
                for key in conflicting
            ],
            key=join_path(overrides_prefix, conflicting[0]),
        )

    merged = {**default_values, **manifest_values, **override_values}
    sources = {key: defaults_prefix for key in default_values}
    sources.update({key: manifest_name for key in manifest_values})
    sources.update({key: overrides_prefix for key in override_values})
    try:
        result: dict[str, str] = validate(
            HYPERPARAMETERS,
            merged,
            root=overrides_prefix,
            name_of=lambda key: join_path(sources.get(key, overrides_prefix), key),
            require=DATASET_COUNT_KEYS,
        )
    except SpecError as error:
        raise HyperparameterError.from_spec_error(error) from None
    return result
