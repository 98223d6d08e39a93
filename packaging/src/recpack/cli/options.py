"""Option types and every option more than one command takes, each defined once.

A command adds a shared option with add_<option>(parser, ...) and gives only what differs: its
default and the words of its help. Names, types, metavars and checks come from here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import defaults

if TYPE_CHECKING:  # Protocol classes cost start-up time; only the type checker needs them
    from typing import Protocol

    class Arguments(Protocol):
        """An ArgumentParser or one of its argument groups."""

        def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action: ...


# --- types ---------------------------------------------------------------------------------------


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"{value} is out of range ({low}..{high})"
                if high is not None
                else f"{value} is below {low}"
            )
        return value

    return parse


def share(*, zero: bool = True, one: bool = True) -> Callable[[str], float]:
    """A share between 0 and 1; `zero` and `one` say whether the ends themselves are allowed."""
    interval = f"{'[' if zero else '('}0, 1{']' if one else ')'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (0.0 <= value <= 1.0) or (value == 0 and not zero) or (value == 1 and not one):
            raise argparse.ArgumentTypeError(f"{value:g} is outside {interval}")
        return value

    return parse


def class_tokens(values: Sequence[str] | None) -> list[str]:
    """The class ids and names of repeated, comma-separated --classes values."""
    tokens: list[str] = []
    for value in values or ():
        tokens.extend(t.strip() for t in value.split(",") if t.strip())
    return tokens


def _with_default(text: str, default: object) -> str:
    return f"{text} (default: {default})" if text else f"default: {default}"


# --- listing -------------------------------------------------------------------------------------


def add_exts(parser: Arguments, help: str) -> None:
    parser.add_argument(
        "--exts",
        nargs="+",
        default=list(defaults.IMAGE_EXTENSIONS),
        metavar="EXT",
        help=_with_default(help, " ".join(defaults.IMAGE_EXTENSIONS)),
    )


def add_classes(parser: Arguments, help: str) -> None:
    parser.add_argument("--classes", action="append", metavar="ID_OR_NAME[,...]", help=help)


def add_seed(parser: Arguments, help: str) -> None:
    parser.add_argument(
        "--seed", type=int, default=defaults.SEED, help=_with_default(help, defaults.SEED)
    )


def add_train_ratio(
    parser: Arguments, default: float, help: str = "", *, one_list: bool = True
) -> None:
    """--train-ratio, above 0; 1 (one list, no validation) only where `one_list` allows it."""
    parser.add_argument(
        "--train-ratio",
        type=share(zero=False, one=one_list),
        default=default,
        metavar="R",
        help=_with_default(help, default),
    )


# --- packing -------------------------------------------------------------------------------------


def add_resize(parser: Arguments, default: int, help: str = "") -> None:
    parser.add_argument(
        "--resize",
        type=bounded_int(0),
        default=default,
        metavar="N",
        help=_with_default(help, default),
    )


def add_quality(parser: Arguments, help: str = "") -> None:
    parser.add_argument(
        "--quality",
        type=bounded_int(1, 100),
        default=defaults.QUALITY,
        help=_with_default(help, defaults.QUALITY),
    )


def add_workers(parser: Arguments, help: str = "", *, im2rec_name: bool = False) -> None:
    """--workers; with `im2rec_name` also under im2rec's name for it, --num-thread."""
    parser.add_argument(
        "--workers",
        *(["--num-thread"] if im2rec_name else []),
        dest="workers",
        type=bounded_int(1),
        default=defaults.WORKERS,
        metavar="N",
        help=_with_default(help, "all cores"),
    )


def add_min_size(parser: Arguments, low: int, help: str) -> None:
    parser.add_argument(
        "--min-size",
        type=bounded_int(low),
        default=defaults.TRAINING_SIDE,
        metavar="PX",
        help=_with_default(help, defaults.TRAINING_SIDE),
    )


# --- S3 ------------------------------------------------------------------------------------------

_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"


def bucket_name(text: str) -> str:
    """A bucket's name, refusing the other forms people paste (s3:// URLs, ARNs, bucket/prefix)
    with the name they meant."""
    import re

    if re.fullmatch(r"\$(\w+|\{\w+\})", text):
        return text  # a shell variable, for a command line written for a buildspec
    name = text.strip()
    for form in ("s3://", "arn:aws:s3:::", "https://", "http://"):
        if name.lower().startswith(form):
            name = name[len(form) :]
            break
    meant, _, key = name.strip("/").partition("/")
    if name != text:
        within = (
            f" (the key part {key!r} is not used: channels go under --train-prefix and --validation-prefix)"
            if key
            else ""
        )
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the bucket's name alone: --bucket {meant}{within}"
        )
    if key:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the bucket's name alone: --bucket {meant} (key prefixes are "
            "--train-prefix, --validation-prefix and --raw-prefix)"
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an S3 bucket name (3-63 lower-case letters, digits, dots and "
            "hyphens, starting and ending with a letter or digit)"
        )
    return name


def endpoint_url(text: str) -> str:
    """An http(s) URL; `localhost:5000` gets the form it needs."""
    from urllib.parse import urlsplit

    source = f" (from ${_ENDPOINT_VARIABLE})" if text == os.environ.get(_ENDPOINT_VARIABLE) else ""
    if "://" not in text:
        raise argparse.ArgumentTypeError(
            f"{text!r}{source} is not a URL: give its scheme, e.g. http://{text}"
        )
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r}{source} is not an http:// or https:// URL with a host"
        )
    return text


def key_prefix(text: str) -> str:
    """A key prefix inside the bucket, refusing an s3:// URL in its place."""
    if "://" in text or text.lower().startswith("arn:"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the key prefix inside the bucket alone, e.g. train/ (the bucket is "
            "--bucket)"
        )
    return text


def object_key(text: str) -> str:
    """An object key inside the bucket, refusing an s3:// URL in its place."""
    if text.lower().startswith("s3://"):
        _, _, key = text[5:].partition("/")
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the key inside the bucket alone: {key or 'raw/birds.zip'} "
            "(the bucket is --bucket)"
        )
    return text


def add_endpoint_url(parser: Arguments, help: str) -> None:
    parser.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        default=os.environ.get(_ENDPOINT_VARIABLE) or None,
        metavar="URL",
        help=_with_default(help, f"${_ENDPOINT_VARIABLE} or AWS"),
    )


def add_bucket_options(parser: Arguments) -> None:
    """The workshop bucket and its layout, as `recpack upload` and `recpack pipeline` take them."""
    parser.add_argument(
        "--bucket", required=True, type=bucket_name, help="the workshop bucket's name"
    )
    parser.add_argument(
        "--train-prefix",
        type=key_prefix,
        default=defaults.TRAIN_PREFIX,
        help=_with_default("train channel prefix", defaults.TRAIN_PREFIX),
    )
    parser.add_argument(
        "--validation-prefix",
        type=key_prefix,
        default=defaults.VALIDATION_PREFIX,
        help=_with_default("validation channel prefix", defaults.VALIDATION_PREFIX),
    )
    parser.add_argument(
        "--manifest-key",
        type=object_key,
        default=defaults.MANIFEST_KEY,
        help=_with_default("manifest object key", defaults.MANIFEST_KEY),
    )
    add_endpoint_url(parser, "S3 endpoint, e.g. a local emulator")


def add_source_key(parser: Arguments, help: str) -> None:
    parser.add_argument("--source-key", type=object_key, default="", help=help)
