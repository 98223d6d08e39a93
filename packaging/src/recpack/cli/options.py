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


def ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1")
    return value


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


def add_train_ratio(parser: Arguments, default: float, help: str = "") -> None:
    parser.add_argument(
        "--train-ratio",
        type=ratio,
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


def add_endpoint_url(parser: Arguments, help: str) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help=_with_default(help, "$AWS_ENDPOINT_URL or AWS"),
    )


def add_bucket_options(parser: Arguments) -> None:
    """The workshop bucket and its layout, as `recpack upload` and `recpack pipeline` take them."""
    parser.add_argument("--bucket", required=True, help="the workshop bucket")
    parser.add_argument(
        "--train-prefix",
        default=defaults.TRAIN_PREFIX,
        help=_with_default("train channel prefix", defaults.TRAIN_PREFIX),
    )
    parser.add_argument(
        "--validation-prefix",
        default=defaults.VALIDATION_PREFIX,
        help=_with_default("validation channel prefix", defaults.VALIDATION_PREFIX),
    )
    parser.add_argument(
        "--manifest-key",
        default=defaults.MANIFEST_KEY,
        help=_with_default("manifest object key", defaults.MANIFEST_KEY),
    )
    add_endpoint_url(parser, "S3 endpoint, e.g. a local emulator")


def add_source_key(parser: Arguments, help: str) -> None:
    parser.add_argument("--source-key", default="", help=help)
