import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.training.runtime.workshop_runtime.hyperparameters import (
    ALGORITHM_HYPERPARAMETERS,
    LAB2_DEFAULTS,
    HyperparameterError,
    ManifestConflictError,
    merge_hyperparameters,
    validate_hyperparameters,
)

MANIFEST = {
    "schema": 1,
    "num_training_samples": 335,
    "num_classes": 4,
    "num_validation_samples": 112,
}


def rejected(params, **kwargs) -> HyperparameterError:
    with pytest.raises(HyperparameterError) as caught:
        validate_hyperparameters(params, **kwargs)
    return caught.value


def test_lab2_defaults_are_exactly_the_lab_values_in_api_form(lab2_hyperparameters):
    assert validate_hyperparameters(LAB2_DEFAULTS) == lab2_hyperparameters


def test_json_types_and_strings_give_the_same_api_form():
    from_json = json.loads('{"epochs": 25.0, "top_k": 2, "learning_rate": 1, "eps": 1e-8}')
    from_strings = {"epochs": "25", "top_k": " 2 ", "learning_rate": "1.0", "eps": "0.00000001"}
    expected = {"epochs": "25", "top_k": "2", "learning_rate": "1", "eps": "1e-08"}
    assert validate_hyperparameters(from_json) == expected
    assert validate_hyperparameters(from_strings) == expected


def test_every_documented_hyperparameter_is_known():
    documented = {
        "num_classes",
        "num_training_samples",
        "augmentation_type",
        "beta_1",
        "beta_2",
        "checkpoint_frequency",
        "early_stopping",
        "early_stopping_min_epochs",
        "early_stopping_patience",
        "early_stopping_tolerance",
        "epochs",
        "eps",
        "gamma",
        "image_shape",
        "kv_store",
        "learning_rate",
        "lr_scheduler_factor",
        "lr_scheduler_step",
        "mini_batch_size",
        "momentum",
        "multi_label",
        "num_layers",
        "optimizer",
        "precision_dtype",
        "resize",
        "top_k",
        "use_pretrained_model",
        "use_weighted_loss",
        "weight_decay",
    }
    assert ALGORITHM_HYPERPARAMETERS == documented


def test_valid_values_of_every_kind_are_accepted_and_normalized():
    params = {
        "augmentation_type": "crop_color_transform",
        "beta_1": 0.9,
        "beta_2": "0.999",
        "early_stopping": True,
        "early_stopping_min_epochs": 10,
        "early_stopping_patience": "5",
        "early_stopping_tolerance": 0,
        "gamma": 0.9,
        "image_shape": "3, 224, 224",
        "kv_store": "dist_sync",
        "lr_scheduler_step": "10, 20",
        "momentum": 0.9,
        "multi_label": False,
        "optimizer": "adam",
        "precision_dtype": "float16",
        "resize": 256,
        "use_weighted_loss": "1",
        "weight_decay": 0.0001,
    }
    assert validate_hyperparameters(params) == {
        "augmentation_type": "crop_color_transform",
        "beta_1": "0.9",
        "beta_2": "0.999",
        "early_stopping": "True",
        "early_stopping_min_epochs": "10",
        "early_stopping_patience": "5",
        "early_stopping_tolerance": "0",
        "gamma": "0.9",
        "image_shape": "3,224,224",
        "kv_store": "dist_sync",
        "lr_scheduler_step": "10,20",
        "momentum": "0.9",
        "multi_label": "0",
        "optimizer": "adam",
        "precision_dtype": "float16",
        "resize": "256",
        "use_weighted_loss": "1",
        "weight_decay": "0.0001",
    }


def test_grey_images_and_lr_schedule_lists_from_json_are_accepted():
    assert validate_hyperparameters({"image_shape": [1, 28, 28], "lr_scheduler_step": [5, 10]}) == {
        "image_shape": "1,28,28",
        "lr_scheduler_step": "5,10",
    }


def test_early_stopping_accepts_lower_case_and_writes_the_documented_spelling():
    assert validate_hyperparameters({"early_stopping": "false"}) == {"early_stopping": "False"}


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("num_classes", 1, ">= 2"),
        ("num_classes", "four", "whole number"),
        ("num_training_samples", 0, ">= 1"),
        ("epochs", 0, ">= 1"),
        ("epochs", 2.5, "whole number"),
        ("epochs", True, "not true/false"),
        ("mini_batch_size", -1, ">= 1"),
        ("num_layers", 16, "18, 34, 50, 101, 152, 200"),
        ("optimizer", "SGD", "sgd, adam, rmsprop, nag"),
        ("augmentation_type", "flip", "crop, crop_color, crop_color_transform"),
        ("precision_dtype", "float64", "float32, float16"),
        ("kv_store", "device", "dist_sync, dist_async"),
        ("image_shape", "224,224", "channels,height,width"),
        ("image_shape", "2,224,224", "channels 1 or 3"),
        ("image_shape", "3,0,224", "positive height and width"),
        ("image_shape", 224, "channels,height,width"),
        ("learning_rate", 1.5, "[0, 1]"),
        ("learning_rate", "nan", "finite"),
        ("momentum", -0.1, "[0, 1]"),
        ("weight_decay", 2, "[0, 1]"),
        ("beta_1", 1.01, "[0, 1]"),
        ("beta_2", "x", "number"),
        ("eps", 3, "[0, 1]"),
        ("gamma", -1, "[0, 1]"),
        ("lr_scheduler_factor", 10, "[0, 1]"),
        ("early_stopping_tolerance", 1.5, "[0, 1]"),
        ("early_stopping_min_epochs", 0, ">= 1"),
        ("early_stopping_patience", 0, ">= 1"),
        ("lr_scheduler_step", "10,x", "increasing positive epoch numbers"),
        ("lr_scheduler_step", "20,10", "increasing positive epoch numbers"),
        ("lr_scheduler_step", "0,10", "increasing positive epoch numbers"),
        ("top_k", 1, ">= 2"),
        ("use_pretrained_model", 2, "0 or 1"),
        ("multi_label", "yes", "0 or 1"),
        ("use_weighted_loss", -1, "0 or 1"),
        ("early_stopping", 1, "True or False"),
        ("early_stopping", "yes", "True or False"),
        ("resize", 0, ">= 1"),
        ("checkpoint_frequency", 0, ">= 1"),
    ],
)
def test_each_rule_names_the_key_the_value_and_what_is_allowed(key, value, allowed):
    error = rejected({key: value}, setting_prefix="training.hyperparameters")
    message = str(error)
    assert error.key == f"training.hyperparameters.{key}"
    assert f"training.hyperparameters.{key} = {value!r}" in message
    assert allowed in message


def test_unknown_key_suggests_the_close_known_one():
    message = str(rejected({"epoch": 10}))
    assert "hyperparameters.epoch is not a hyperparameter" in message
    assert "Did you mean epochs?" in message


def test_a_key_that_is_not_a_plain_name_is_shown_with_repr():
    message = str(rejected({"\n": 1, "a.b": 2}))
    assert "hyperparameters['\\n'] is not a hyperparameter" in message
    assert "hyperparameters['a.b'] is not a hyperparameter" in message


def test_none_value_is_refused_rather_than_sent_as_the_string_none():
    assert "has no value" in str(rejected({"top_k": None}))


def test_every_bad_key_is_reported_at_once():
    error = rejected({"epochs": 0, "optimizer": "fast", "top_k": 1})
    assert len(error.problems) == 3
    assert error.key == "hyperparameters.epochs"


def test_checkpoint_frequency_may_not_exceed_epochs_given_or_default():
    assert "no greater than hyperparameters.epochs = 10" in str(
        rejected({"epochs": 10, "checkpoint_frequency": 11})
    )
    assert "no greater than the default epochs 30" in str(rejected({"checkpoint_frequency": 31}))
    assert (
        validate_hyperparameters({"epochs": 10, "checkpoint_frequency": 10})["checkpoint_frequency"]
        == "10"
    )


def test_resize_must_cover_the_image_shape():
    assert "at least the image_shape height and width (224x224)" in str(rejected({"resize": 200}))
    assert "(250x300)" in str(rejected({"resize": 256, "image_shape": "3,250,300"}))
    assert validate_hyperparameters({"resize": 224})["resize"] == "224"


def test_pretrained_model_needs_a_pretrained_depth_and_224_images():
    message = str(rejected({"use_pretrained_model": 1, "num_layers": 20, "image_shape": "3,32,32"}))
    assert "num_layers in 18, 34, 50, 101, 152, 200" in message
    assert "224x224" in message
    assert (
        validate_hyperparameters({"use_pretrained_model": 1, "num_layers": 18})["num_layers"]
        == "18"
    )


def test_cross_field_rules_are_skipped_when_a_value_is_already_invalid():
    error = rejected({"epochs": "many", "checkpoint_frequency": 40})
    assert len(error.problems) == 1


def test_dataset_counts_are_required_only_on_request():
    assert validate_hyperparameters({"epochs": 5}) == {"epochs": "5"}
    message = str(rejected({"epochs": 5}, require_dataset_counts=True))
    assert "hyperparameters.num_training_samples is required" in message
    assert "hyperparameters.num_classes is required" in message


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"learning_rate": 10**400}, "finite"),
        ({"epochs": 10**3000}, "too large"),
        ({"epochs": "9" * 5000}, "whole number"),
        ({"lr_scheduler_step": ",".join(str(n) for n in range(1, 700))}, "2500 characters"),
    ],
)
def test_values_the_api_cannot_take_are_refused_not_crashed_on(params, expected):
    assert expected in str(rejected(params))


def test_non_string_key_is_reported():
    assert "key 5 that is not a string" in str(rejected({5: 1}))


def test_not_a_mapping_is_a_hyperparameter_error():
    assert "must be a mapping" in str(rejected(["epochs", 5]))


def test_merge_precedence_defaults_then_manifest_then_overrides():
    defaults = {**LAB2_DEFAULTS, "num_classes": 9, "num_training_samples": 9}
    merged = merge_hyperparameters(defaults, MANIFEST, {"epochs": "25", "top_k": 2})
    assert merged["num_classes"] == "4"
    assert merged["num_training_samples"] == "335"
    assert merged["epochs"] == "25"
    assert merged["top_k"] == "2"
    assert merged["optimizer"] == "sgd"


def test_merge_accepts_an_override_equal_to_the_manifest_counts():
    merged = merge_hyperparameters(LAB2_DEFAULTS, MANIFEST, {"num_training_samples": "335"})
    assert merged["num_training_samples"] == "335"


@pytest.mark.parametrize("key", ["num_training_samples", "num_classes"])
def test_merge_refuses_an_override_that_disagrees_with_the_manifest(key):
    with pytest.raises(ManifestConflictError) as caught:
        merge_hyperparameters(LAB2_DEFAULTS, MANIFEST, {key: 300})
    message = str(caught.value)
    assert f"hyperparameters.{key} = 300 disagrees with manifest {key} = {MANIFEST[key]}" in message
    assert "Remove the override" in message


def test_merge_names_where_a_conflicting_value_came_from():
    with pytest.raises(HyperparameterError) as caught:
        merge_hyperparameters(LAB2_DEFAULTS, MANIFEST, {"epochs": 5})
    assert str(caught.value) == (
        "DEFAULT_HYPERPARAMETERS.checkpoint_frequency = 15: must be no greater than "
        "hyperparameters.epochs = 5"
    )


def test_merge_refuses_a_manifest_without_counts():
    with pytest.raises(HyperparameterError) as caught:
        merge_hyperparameters(LAB2_DEFAULTS, {"schema": 1}, {})
    assert "manifest.num_training_samples is required" in str(caught.value)


def test_merge_reports_bad_defaults_with_their_own_prefix():
    with pytest.raises(HyperparameterError) as caught:
        merge_hyperparameters(
            {"optimizer": "fast"}, MANIFEST, None, defaults_prefix="cdk.json training"
        )
    assert caught.value.key == "cdk.json training.optimizer"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(sorted(ALGORITHM_HYPERPARAMETERS)) | st.text(max_size=20) | st.integers()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=8), st.booleans())
def test_validate_raises_only_hyperparameter_error_and_returns_strings(params, require_counts):
    try:
        result = validate_hyperparameters(params, require_dataset_counts=require_counts)
    except HyperparameterError as error:
        assert error.problems
        # One line each: a key with a newline is shown with repr.
        assert all(isinstance(problem, str) and "\n" not in problem for problem in error.problems)
    else:
        assert set(result) == set(params)
        assert all(isinstance(value, str) for value in result.values())
        # The API form validates to itself.
        assert validate_hyperparameters(result) == result


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "epochs": st.integers(-2, 60) | st.text(max_size=4),
            "checkpoint_frequency": st.integers(-2, 60),
            "image_shape": st.sampled_from(["3,224,224", "1,28,28", "3,300,200", "x"]),
            "resize": st.integers(-1, 400),
            "use_pretrained_model": st.sampled_from([0, 1, "1", True, 2]),
            "num_layers": st.sampled_from([18, 20, 152, 7]),
        },
    )
)
def test_cross_field_combinations_raise_only_hyperparameter_error(params):
    try:
        validate_hyperparameters(params)
    except HyperparameterError:
        pass
