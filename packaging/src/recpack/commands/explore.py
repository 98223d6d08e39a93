"""`recpack explore ROOT`: an HTML report of a dataset; the work is in recpack/explore/, imported
only when it runs (it needs matplotlib)."""

from __future__ import annotations

import argparse
import os

from .. import defaults
from ..cli.options import add_classes, add_exts, add_min_size, add_seed, bounded_int, class_tokens
from ..cli.output import warn
from ..errors import EXIT_OK

DESCRIPTION = (
    "Explore a folder-per-class or NABirds/CUB dataset: images per class (flagging classes too "
    "small to split), width/height and aspect-ratio distributions (flagging images smaller than "
    "the training shape), sample thumbnails per class, the label/class id/name table, file "
    "formats and modes, and unreadable files. Reads image headers only, except for the samples. "
    "Needs matplotlib: pip install 'recpack[explore]'."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "root", metavar="ROOT", help="folder holding the class folders, or the NABirds/CUB folder"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder for index.html and its figures: a new or empty one, or an earlier report "
        f"(default: ./{defaults.EXPLORE_OUT}, refused when that is inside ROOT)",
    )
    add_min_size(parser, 1, "training shape side: images with a smaller side are flagged")
    parser.add_argument(
        "--min-per-class",
        type=bounded_int(1),
        default=defaults.EXPLORE_MIN_PER_CLASS,
        metavar="N",
        help="classes with fewer images are flagged as too small to split into train and "
        f"validation (default: {defaults.EXPLORE_MIN_PER_CLASS})",
    )
    parser.add_argument(
        "--samples",
        type=bounded_int(0),
        default=defaults.EXPLORE_SAMPLES,
        metavar="N",
        help=f"sample thumbnails per class; 0 for none (default: {defaults.EXPLORE_SAMPLES})",
    )
    parser.add_argument(
        "--thumbnail-size",
        type=bounded_int(16, 1024),
        default=defaults.EXPLORE_THUMBNAIL_SIZE,
        metavar="PX",
        help=f"longest side of a thumbnail (default: {defaults.EXPLORE_THUMBNAIL_SIZE})",
    )
    add_seed(parser, "which samples are shown")
    add_exts(parser, "image extensions, as for 'recpack list'")
    add_classes(parser, "only these classes")


def run(args: argparse.Namespace) -> int:
    from ..explore.report import REPORT_NAME, explore
    from ..explore.summary import summary_lines

    out = args.out or defaults.EXPLORE_OUT
    exploration = explore(
        args.root,
        out,
        min_size=args.min_size,
        min_per_class=args.min_per_class,
        samples=args.samples,
        thumbnail_size=args.thumbnail_size,
        seed=args.seed,
        exts=args.exts,
        classes=class_tokens(args.classes),
        out_chosen=args.out is not None,
    )
    for message in exploration.dataset.warnings:
        warn(message)
    for line in summary_lines(exploration):
        print(line)
    print(f"report: {os.path.join(out, REPORT_NAME)}")
    return EXIT_OK
