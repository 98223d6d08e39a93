"""`recpack pipeline --bucket BUCKET`: the packaging build in one command (what CodeBuild runs).

pipeline_arguments() renders option values back into this command's arguments through the same
option definitions, so the CDK stack's buildspec never spells an option name itself.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .. import defaults
from ..cli.options import (
    add_bucket_options,
    add_classes,
    add_quality,
    add_resize,
    add_seed,
    add_source_key,
    add_train_ratio,
    add_workers,
    class_tokens,
    key_prefix,
)
from ..cli.output import PROG, warn
from ..cli.registry import name_of
from ..cli.render import OptionValue, render_options
from ..errors import EXIT_OK

if TYPE_CHECKING:
    from ..aws.pipeline import PipelineSettings

NAME = name_of(__name__)
DESCRIPTION = (
    "The packaging build in one command: take the raw archive (.zip, .tar, .tar.gz, .tgz) "
    "named by --source-key, or the newest under --raw-prefix, and publish the training channels."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bucket_options(parser)
    add_source_key(parser, "archive key (default: the newest archive under --raw-prefix)")
    parser.add_argument(
        "--raw-prefix",
        type=key_prefix,
        default=defaults.RAW_PREFIX,
        help=f"where raw archives are uploaded (default: {defaults.RAW_PREFIX})",
    )
    add_train_ratio(
        parser,
        defaults.PIPELINE_TRAIN_RATIO,
        "share of each class for training; the rest is the validation channel",
        one_list=False,
    )
    add_resize(parser, defaults.PIPELINE_RESIZE)
    add_quality(parser)
    add_classes(parser, "only these classes")
    add_seed(parser, "split seed")
    add_workers(parser)
    parser.add_argument(
        "--work-dir",
        default=defaults.PIPELINE_WORK_DIR,
        help="scratch folder: a new or empty one, or one an earlier run made (recpack marks "
        "it and clears only what it wrote there); a folder holding other files is refused "
        f"(default: ./{defaults.PIPELINE_WORK_DIR})",
    )


def settings_from(args: argparse.Namespace) -> PipelineSettings:
    from ..aws.pipeline import PipelineSettings

    return PipelineSettings(
        bucket=args.bucket,
        source_key=args.source_key or "",
        raw_prefix=args.raw_prefix,
        train_prefix=args.train_prefix,
        validation_prefix=args.validation_prefix,
        manifest_key=args.manifest_key,
        train_ratio=args.train_ratio,
        resize=args.resize,
        quality=args.quality,
        classes=tuple(class_tokens(args.classes)),
        seed=args.seed,
        workers=args.workers,
        work_dir=args.work_dir,
        endpoint_url=args.endpoint_url,
    )


def pipeline_arguments(**values: OptionValue) -> list[str]:
    """`recpack pipeline`'s arguments for these option values, keyed like PipelineSettings' fields
    (bucket, source_key, raw_prefix, ..., classes, work_dir, endpoint_url):
    ["pipeline", "--bucket", ..., ...], to follow the program name.

    Options are rendered in the order `recpack pipeline --help` lists them; one left out (or None)
    is not rendered, so the command's default applies. Each value is checked by its option's own
    type (ValueError names the option); an unknown option or a missing --bucket is a TypeError.
    A list of classes becomes one --classes per item. The values are not shell-quoted."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {NAME}", add_help=False)
    add_arguments(parser)
    return [NAME, *render_options(parser, values)]


def run(args: argparse.Namespace) -> int:
    from ..aws.pipeline import run_pipeline

    run_pipeline(settings_from(args), warn=warn)
    return EXIT_OK
