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
    assert pipeline_arguments(bucket="birds") == ["pipeline", "--bucket", "birds"]
    assert parsed(pipeline_arguments(bucket="birds")) == PipelineSettings(bucket="birds")


def test_each_class_is_its_own_classes_option():
    arguments = pipeline_arguments(bucket="birds", classes=["0752", "Northern Cardinal"])
    assert arguments[-4:] == ["--classes", "0752", "--classes", "Northern Cardinal"]


def test_a_value_starting_with_a_dash_stays_a_value():
    arguments = pipeline_arguments(bucket="birds", seed=-3, classes=["-x"], train_prefix="-t/")
    assert "--train-prefix=-t/" in arguments and "--seed=-3" in arguments
    assert parsed(arguments) == PipelineSettings(
        bucket="birds", seed=-3, classes=("-x",), train_prefix="-t/"
    )


@pytest.mark.parametrize(
    "values, error, message",
    [
        ({"bucket": "bk1", "quality": 101}, ValueError, "--quality: 101 is out of range (1..100)"),
        ({"bucket": "bk1", "train_ratio": 1.5}, ValueError, "--train-ratio: 1.5 is outside (0, 1)"),
        ({"bucket": "bk1", "train_ratio": 1.0}, ValueError, "--train-ratio: 1 is outside (0, 1)"),
        ({"bucket": "bk1", "workers": 0}, ValueError, "--workers: 0 is below 1"),
        ({"bucket": "bk1", "resize": "big"}, ValueError, "--resize: 'big' is not a whole number"),
        ({"bucket": "bk1", "quality": [90, 95]}, ValueError, "--quality takes one value"),
        ({"bucket": "bk1", "colour": 1}, TypeError, "no such option: colour"),
        ({"quality": 90}, TypeError, "--bucket is required"),
        (
            {"bucket": "s3://bk1/"},
            ValueError,
            "--bucket: 's3://bk1/': give the bucket's name alone",
        ),
        ({"bucket": "bk1", "endpoint_url": "localhost:5000"}, ValueError, "http://localhost:5000"),
        ({"bucket": "bk1", "source_key": "s3://bk1/raw/a.zip"}, ValueError, "alone: raw/a.zip"),
    ],
)
def test_values_the_parser_would_refuse_are_refused_here(values, error, message):
    with pytest.raises(error) as caught:
        pipeline_arguments(**values)
    assert message in str(caught.value)


class_token = st.from_regex(r"[A-Za-z0-9_-]([A-Za-z0-9_ -]*[A-Za-z0-9_-])?", fullmatch=True)
# Values the options accept: a key or prefix inside the bucket (not an s3:// URL), a bucket name.
key_text = st.text().filter(lambda t: "://" not in t and not t.lower().startswith(("arn:", "s3:")))
optional_text = st.none() | key_text
buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True)
endpoints = st.from_regex(
    r"https?://[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?(:[0-9]{1,5})?", fullmatch=True
)


@given(
    bucket=buckets,
    source_key=optional_text,
    raw_prefix=optional_text,
    train_prefix=optional_text,
    validation_prefix=optional_text,
    manifest_key=optional_text,
    train_ratio=st.none() | st.floats(0, 1, exclude_min=True, exclude_max=True),
    resize=st.none() | st.integers(0, 10_000),
    quality=st.none() | st.integers(1, 100),
    classes=st.none() | st.lists(class_token, max_size=4),
    seed=st.none() | st.integers(-(2**63), 2**63),
    workers=st.none() | st.integers(1, 512),
    work_dir=st.none() | st.text(),
    endpoint_url=st.none() | endpoints,
)
def test_parsing_the_arguments_gives_back_the_values(**values):
    given_values = {name: value for name, value in values.items() if value is not None}
    expected = PipelineSettings(
        **{**given_values, "classes": tuple(given_values.get("classes", ()))}
    )
    if "endpoint_url" not in given_values:  # its default comes from the environment
        expected.endpoint_url = (
            build_parser(["pipeline"]).parse_args(["pipeline", "--bucket", "b1k"]).endpoint_url
        )
    assert parsed(pipeline_arguments(**values)) == expected
