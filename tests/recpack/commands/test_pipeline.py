"""pipeline_arguments(): option values back into `recpack pipeline` arguments, for the buildspec."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recpack import defaults
from recpack.aws.pipeline import PipelineSettings
from recpack.cli import build_parser
from recpack.commands.pipeline import pipeline_arguments, settings_from


def parsed(arguments):
    return settings_from(build_parser(["pipeline"]).parse_args(arguments))


def test_the_buildspec_command_of_today():
    arguments = pipeline_arguments(
        bucket="$BUCKET",
        source_key="$SOURCE_KEY",
        raw_prefix=defaults.RAW_PREFIX,
        train_prefix=defaults.TRAIN_PREFIX,
        validation_prefix=defaults.VALIDATION_PREFIX,
        manifest_key=defaults.MANIFEST_KEY,
        train_ratio=0.75,
        resize=256,
        quality=95,
    )
    assert arguments == [
        "pipeline",
        "--bucket", "$BUCKET",
        "--train-prefix", "train/",
        "--validation-prefix", "validation/",
        "--manifest-key", "manifest.json",
        "--source-key", "$SOURCE_KEY",
        "--raw-prefix", "raw/",
        "--train-ratio", "0.75",
        "--resize", "256",
        "--quality", "95",
    ]  # fmt: skip


def test_options_left_out_keep_their_defaults():
    assert pipeline_arguments(bucket="b") == ["pipeline", "--bucket", "b"]
    assert parsed(pipeline_arguments(bucket="b")) == PipelineSettings(bucket="b")


def test_each_class_is_its_own_classes_option():
    arguments = pipeline_arguments(bucket="b", classes=["0752", "Northern Cardinal"])
    assert arguments[-4:] == ["--classes", "0752", "--classes", "Northern Cardinal"]


def test_a_value_starting_with_a_dash_stays_a_value():
    arguments = pipeline_arguments(bucket="-odd-", seed=-3, classes=["-x"])
    assert "--bucket=-odd-" in arguments and "--seed=-3" in arguments
    assert parsed(arguments) == PipelineSettings(bucket="-odd-", seed=-3, classes=("-x",))


@pytest.mark.parametrize(
    "values, error, message",
    [
        ({"bucket": "b", "quality": 101}, ValueError, "--quality: 101 is out of range (1..100)"),
        ({"bucket": "b", "train_ratio": 1.5}, ValueError, "--train-ratio: 1.5 is outside 0..1"),
        ({"bucket": "b", "workers": 0}, ValueError, "--workers: 0 is below 1"),
        ({"bucket": "b", "resize": "big"}, ValueError, "--resize: 'big' is not a whole number"),
        ({"bucket": "b", "quality": [90, 95]}, ValueError, "--quality takes one value"),
        ({"bucket": "b", "colour": 1}, TypeError, "no such option: colour"),
        ({"quality": 90}, TypeError, "--bucket is required"),
    ],
)
def test_values_the_parser_would_refuse_are_refused_here(values, error, message):
    with pytest.raises(error) as caught:
        pipeline_arguments(**values)
    assert message in str(caught.value)


class_token = st.from_regex(r"[A-Za-z0-9_-]([A-Za-z0-9_ -]*[A-Za-z0-9_-])?", fullmatch=True)
optional_text = st.none() | st.text()


@given(
    bucket=st.text(),
    source_key=optional_text,
    raw_prefix=optional_text,
    train_prefix=optional_text,
    validation_prefix=optional_text,
    manifest_key=optional_text,
    train_ratio=st.none() | st.floats(0, 1),
    resize=st.none() | st.integers(0, 10_000),
    quality=st.none() | st.integers(1, 100),
    classes=st.none() | st.lists(class_token, max_size=4),
    seed=st.none() | st.integers(-(2**63), 2**63),
    workers=st.none() | st.integers(1, 512),
    work_dir=optional_text,
    endpoint_url=optional_text,
)
def test_parsing_the_arguments_gives_back_the_values(**values):
    given_values = {name: value for name, value in values.items() if value is not None}
    expected = PipelineSettings(
        **{**given_values, "classes": tuple(given_values.get("classes", ()))}
    )
    if "endpoint_url" not in given_values:  # its default comes from the environment
        expected.endpoint_url = (
            build_parser(["pipeline"]).parse_args(["pipeline", "--bucket", "b"]).endpoint_url
        )
    assert parsed(pipeline_arguments(**values)) == expected
