"""The `workshop` settings: defaults from cdk.json, `-c` overrides and one-line errors naming the setting."""

from __future__ import annotations

import json

import pytest

from stacks.config.settings import SettingsError, load_settings, merged_settings

from ..conftest import cdk_json_context, run_cdk


def settings_with(**overrides: str):
    context = cdk_json_context()
    context.update({f"workshop.{key}": value for key, value in overrides.items()})
    return load_settings(context)


def error_for(**overrides: str) -> str:
    with pytest.raises(SettingsError) as raised:
        settings_with(**overrides)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_defaults_are_the_lab_values(lab2_hyperparameters):
    settings = settings_with()
    assert settings.training.hyperparameters == lab2_hyperparameters
    assert settings.training.instance_types == (
        "ml.g4dn.xlarge",
        "ml.g5.xlarge",
        "ml.g4dn.2xlarge",
        "ml.p3.2xlarge",
        "ml.p2.xlarge",
    )
    assert (
        settings.packaging.train_ratio,
        settings.packaging.resize,
        settings.packaging.quality,
    ) == (0.75, 256, 95)
    assert settings.packaging.classes == ()
    assert vars(settings.prefixes) == {
        "raw": "raw/",
        "train": "train/",
        "validation": "validation/",
        "output": "output/",
        "queue": "queue/",
    }
    assert settings.accounts == ()
    assert settings.retain_bucket is False
    assert (settings.training.request_quota_increase, settings.training.require_gpu_quota) == (
        False,
        False,
    )
    assert settings.training.preflight_on_every_deploy is True
    training = settings.training
    assert (training.wait_for_quota_minutes, training.max_attempts) == (60, 6)
    assert (training.spot, training.spot_fallback_to_on_demand) == (False, True)
    assert (training.instance_count, training.start_after_packaging) == (1, False)
    assert (settings.notification_emails, settings.budget_monthly_usd) == ((), 0)


def test_cdk_json_lists_the_defaults():
    # cdk.json shows instructors the current values; a default changed in stacks/config/schema.py
    # alone would leave cdk.json silently overriding it.
    assert load_settings(cdk_json_context()) == load_settings({})


def test_a_setting_left_out_of_cdk_json_takes_its_default():
    context = cdk_json_context()
    del context["workshop"]["training"]["volumeSizeGb"]
    del context["workshop"]["prefixes"]
    settings = load_settings(context)
    assert settings.training.volume_size_gb == 50
    assert settings.prefixes.raw == "raw/"
    assert load_settings({"workshop": {}}) == load_settings({})


def test_an_override_inside_a_table_cdk_json_leaves_out_keeps_the_other_defaults(
    lab2_hyperparameters,
):
    context = cdk_json_context()
    del context["workshop"]["training"]
    context["workshop.training.hyperparameters.epochs"] = "25"
    context["workshop.training.hyperparameters.checkpoint_frequency"] = "25"
    hyperparameters = load_settings(context).training.hyperparameters
    assert hyperparameters == {**lab2_hyperparameters, "epochs": "25", "checkpoint_frequency": "25"}


def test_dotted_overrides_parse_json_values_and_keep_plain_strings():
    settings = settings_with(
        **{
            "training.hyperparameters.epochs": "25",
            "training.hyperparameters.checkpoint_frequency": "25",
            "training.hyperparameters.optimizer": "adam",
            "packaging.classes": '["0752", "0772"]',
            "retainBucket": "true",
            "prefixes.raw": "incoming/",
        }
    )
    assert settings.training.hyperparameters["epochs"] == "25"
    assert settings.training.hyperparameters["optimizer"] == "adam"
    assert settings.packaging.classes == ("0752", "0772")
    assert settings.retain_bucket is True
    assert settings.prefixes.raw == "incoming/"


def test_string_settings_keep_digits_as_typed():
    assert settings_with(**{"training.jobNamePrefix": "2026"}).training.job_name_prefix == "2026"
    assert settings_with(**{"manifestKey": "123"}).manifest_key == "123"


def test_whole_block_as_json_string_is_accepted():
    context = cdk_json_context()
    block = context["workshop"]
    block["stackName"] = "Birds2"
    assert merged_settings({"workshop": json.dumps(block)})["stackName"] == "Birds2"


def test_accounts_give_environments():
    settings = settings_with(
        accounts=json.dumps([{"account": "111111111111", "region": "eu-west-1"}])
    )
    assert [(e.account, e.region) for e in settings.accounts] == [("111111111111", "eu-west-1")]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"bucketName": '"x"'}, "workshop.bucketName: unknown setting"),
        ({"training.gpu": "1"}, "workshop.training.gpu: unknown setting"),
        ({"prefixes.raw.deeper": "1"}, "workshop.prefixes.raw.deeper: unknown setting"),
        (
            {"retainBucket": "yes"},
            "workshop.retainBucket: 'yes' is not valid JSON (Expecting value at column 1); "
            "expected true or false",
        ),
        ({"packaging.resize": '"256"'}, "workshop.packaging.resize: expected an integer"),
        ({"packaging.classes": '"0752"'}, "workshop.packaging.classes: expected a list of strings"),
        (
            {"training.instanceTypes": "[]"},
            "workshop.training.instanceTypes: must list at least one",
        ),
        (
            {"training.instanceTypes": '["g4dn.xlarge"]'},
            "workshop.training.instanceTypes[0]: 'g4dn.xlarge' is not",
        ),
        ({"packaging.resize": "0"}, "workshop.packaging.resize: 0 must be a positive integer"),
        (
            {"training.volumeSizeGb": "-5"},
            "workshop.training.volumeSizeGb: -5 must be a positive integer",
        ),
        (
            {"training.maxRuntimeSeconds": "0"},
            "workshop.training.maxRuntimeSeconds: 0 must be a positive",
        ),
        ({"packaging.trainRatio": "1"}, "workshop.packaging.trainRatio: 1 must be between 0 and 1"),
        ({"packaging.quality": "101"}, "workshop.packaging.quality: 101 must be between 1 and 100"),
        ({"logRetentionDays": "10"}, "workshop.logRetentionDays: 10 is not one of"),
        ({"training.jobNamePrefix": "Birds"}, "workshop.training.jobNamePrefix: 'Birds' must be"),
        ({"prefixes.train": "raw/train/"}, "workshop.prefixes.raw: 'raw/' overlaps prefixes.train"),
        (
            {"prefixes.output": "output"},
            "workshop.prefixes.output: 'output' must be a relative key prefix",
        ),
        (
            {"manifestKey": "raw/manifest.json"},
            "workshop.manifestKey: 'raw/manifest.json' is under prefixes.raw",
        ),
        (
            {"accounts": '[{"account": "1234", "region": "eu-west-1"}]'},
            "workshop.accounts[0].account: '1234'",
        ),
        (
            {"accounts": '[{"account": "111111111111", "region": "mars-1"}]'},
            "workshop.accounts[0].region",
        ),
        (
            {"accounts": '[{"account": "111111111111", "region": "af-south-1"}]'},
            "workshop.accounts[0].region: af-south-1 has no image-classification image",
        ),
        (
            {"accounts": '[{"account": "111111111111"}]'},
            "workshop.accounts[0].region: expected a string",
        ),
        ({"accounts": '{"account": "111111111111"}'}, "workshop.accounts: expected a list"),
        (
            {"training.waitForQuotaMinutes": "-1"},
            "workshop.training.waitForQuotaMinutes: -1 must be between 0 and 1440",
        ),
        (
            {"training.maxAttempts": "21"},
            "workshop.training.maxAttempts: 21 must be between 1 and 20",
        ),
        ({"training.spot": '"yes"'}, "workshop.training.spot: expected true or false"),
        (
            {"training.instanceCount": "0"},
            "workshop.training.instanceCount: 0 must be between 1 and 16",
        ),
        (
            {"training.instanceCount": "2"},
            "workshop.training.instanceCount: 2 needs the hyperparameter kv_store set to "
            "dist_sync or dist_async",
        ),
        (
            {"notificationEmails": '["ana@example"]'},
            "workshop.notificationEmails[0]: 'ana@example' is not an email address",
        ),
        (
            {"notificationEmails": '["Ana <ana@example.com>"]'},
            "workshop.notificationEmails[0]: 'Ana <ana@example.com>' is not an email address",
        ),
        (
            {"notificationEmails": '["a@example.com", "a@example.com"]'},
            "workshop.notificationEmails[1]: 'a@example.com' is listed twice",
        ),
        ({"notificationEmails": '"a@example.com"'}, "workshop.notificationEmails: expected a list"),
        (
            {"budgetMonthlyUsd": "-5"},
            "workshop.budgetMonthlyUsd: -5 must be an integer >= 0",
        ),
        (
            {"budgetMonthlyUsd": "50"},
            "workshop.budgetMonthlyUsd: 50 needs notificationEmails",
        ),
        (
            {
                "budgetMonthlyUsd": "50",
                "notificationEmails": json.dumps([f"t{n}@example.com" for n in range(11)]),
            },
            "workshop.budgetMonthlyUsd: 50 alerts at most 10 email addresses",
        ),
        (
            {"prefixes.queue": "output/queue/"},
            "workshop.prefixes.output: 'output/' overlaps prefixes.queue",
        ),
        ({"seats": "0"}, "workshop.seats: 0 "),
        ({"seats": "13"}, "workshop.seats: 13 "),
        (
            {"seats": "2", "training.jobNamePrefix": "a" * 36},
            "workshop.seats: 2 names jobs <jobNamePrefix>-s01-...: training.jobNamePrefix may "
            "then have at most 35 characters (36 now)",
        ),
        (
            {"seats": "2", "prefixes.queue": "seat-02/queue/"},
            "workshop.prefixes.queue: 'seat-02/queue/' is inside a seat's prefix",
        ),
    ],
)
def test_invalid_settings_name_the_setting(overrides, expected):
    assert error_for(**overrides).startswith(expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"training.hyperparameters.num_layers": "17"},
            "workshop.training.hyperparameters.num_layers = 17: must be one of 18, 34, 50",
        ),
        (
            {"training.hyperparameters.optimizer": "adagrad"},
            "workshop.training.hyperparameters.optimizer = 'adagrad': must be one of sgd",
        ),
        (
            {"training.hyperparameters.checkpoint_frequency": "16"},
            "workshop.training.hyperparameters.checkpoint_frequency = 16: must be no greater than",
        ),
        (
            {"training.hyperparameters.image_shape": '"224,224"'},
            "workshop.training.hyperparameters.image_shape = '224,224': must be 'channels,height,width'",
        ),
        (
            {"training.hyperparameters.mini_batch_size": "0"},
            "workshop.training.hyperparameters.mini_batch_size = 0: must be a whole number >= 1",
        ),
        (
            {"training.hyperparameters.learning_rate": "1.5"},
            "workshop.training.hyperparameters.learning_rate = 1.5: must be a number in [0, 1]",
        ),
        (
            {"training.hyperparameters.num_epochs": "3"},
            "workshop.training.hyperparameters.num_epochs is not a hyperparameter",
        ),
    ],
)
def test_hyperparameters_are_checked_by_the_runtime_validator(overrides, expected):
    assert error_for(**overrides).startswith(expected)


def test_several_bad_hyperparameters_still_give_one_line():
    message = error_for(
        **{
            "training.hyperparameters.num_layers": "17",
            "training.hyperparameters.optimizer": "adagrad",
        }
    )
    assert "num_layers" in message and "optimizer" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # Found by the fuzz test: a key holding a newline is shown with repr.
        ({"training": '{"\\n": null}'}, "workshop.training['\\n']: unknown setting."),
        (
            {"training.hyperparameters": '{"a.b": 1}'},
            "workshop.training.hyperparameters['a.b'] is not",
        ),
        (
            {"training.instanceType": "[]"},
            "workshop.training.instanceType: unknown setting. Did you mean instanceTypes?",
        ),
        (
            {"training.instanceTypes": '["ml.g5.xlarge", "ml.g5.xlarge"]'},
            "workshop.training.instanceTypes[1]: 'ml.g5.xlarge' is listed twice",
        ),
        (
            {
                "accounts": '[{"account": "111111111111", "region": "eu-west-1"}, '
                '{"account": "111111111111", "region": "eu-west-1"}]'
            },
            "workshop.accounts[1]: has the same account and region as [0]",
        ),
        # The whole value must match: `$` alone let a trailing newline through.
        ({"stackName": "Birds\n"}, "workshop.stackName: 'Birds\\n' must be a letter followed"),
        (
            {"packaging.classes": '["a,b"]'},
            "workshop.packaging.classes[0]: 'a,b' must be a non-empty",
        ),
        (
            {"packaging.classes": "[1]"},
            "workshop.packaging.classes[0]: expected a string, got integer 1",
        ),
        (
            {"training.volumeSizeGb": "20000"},
            "workshop.training.volumeSizeGb: 20000 must be a positive integer of at most 16384",
        ),
    ],
)
def test_paths_keys_and_lists_in_messages(overrides, expected):
    assert error_for(**overrides).startswith(expected)


def test_every_problem_is_named_on_the_one_line():
    message = error_for(**{"packaging.quality": "0", "retainBucket": "1"})
    assert message == (
        "workshop.retainBucket: expected true or false, got integer 1; "
        "workshop.packaging.quality: 0 must be between 1 and 100"
    )


def test_cdk_synth_with_a_bad_value_fails_with_one_line_and_no_traceback(tmp_path):
    result = run_cdk(
        "synth",
        "--quiet",
        "--output",
        str(tmp_path / "out"),
        "-c",
        "workshop.training.hyperparameters.num_layers=17",
    )
    assert result.returncode != 0
    assert (
        "Invalid setting workshop.training.hyperparameters.num_layers = 17: must be one of"
        in result.stderr
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_packaging_resize_must_cover_the_training_image_shape():
    with pytest.raises(
        SettingsError,
        match=r"workshop.packaging.resize: 128 is smaller than the training "
        r"image_shape 3,224,224",
    ):
        load_settings({**cdk_json_context(), "workshop.packaging.resize": "128"})
    load_settings(
        {
            **cdk_json_context(),
            "workshop.packaging.resize": "160",
            "workshop.training.hyperparameters.image_shape": "3,160,160",
        }
    )


def test_distributed_training_with_a_kv_store_is_accepted():
    settings = settings_with(
        **{"training.instanceCount": "2", "training.hyperparameters.kv_store": "dist_sync"}
    )
    assert settings.training.instance_count == 2
    assert settings.training.hyperparameters["kv_store"] == "dist_sync"


def test_budget_with_emails_is_accepted():
    settings = settings_with(
        budgetMonthlyUsd="25", notificationEmails='["ana@example.com", "bo@school.edu"]'
    )
    assert settings.budget_monthly_usd == 25
    assert settings.notification_emails == ("ana@example.com", "bo@school.edu")


def test_seats_keep_a_long_job_prefix_and_a_queue_named_like_a_seat_when_there_is_one():
    settings = load_settings(
        {"workshop.training.jobNamePrefix": "a" * 39, "workshop.prefixes.queue": "seat-01/q/"}
    )
    assert settings.seats == 1
    assert load_settings({"workshop.seats": "12", "workshop.training.jobNamePrefix": "a" * 35})
