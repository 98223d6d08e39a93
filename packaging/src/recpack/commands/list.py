"""`recpack list PREFIX ROOT`: image lists and a label map, as `im2rec.py --list --recursive` does."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .. import defaults
from ..cli.options import (
    add_classes,
    add_exts,
    add_seed,
    add_train_ratio,
    bounded_int,
    class_tokens,
    share,
)
from ..cli.output import warn
from ..errors import EXIT_OK

if TYPE_CHECKING:
    from ..cli.options import Arguments

DESCRIPTION = (
    "Write image lists (PREFIX.lst, or PREFIX_train/_val/_test.lst) and "
    "PREFIX_labels.tsv from a folder-per-class or NABirds/CUB dataset."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prefix", metavar="PREFIX", help="path prefix of the .lst files to write")
    parser.add_argument(
        "root", metavar="ROOT", help="folder holding the images (paths in lists are relative to it)"
    )
    add_list_options(parser.add_argument_group("listing options (im2rec names)"))
    parser.add_argument(
        "--allow-single-class",
        action="store_true",
        help="list a dataset of one class (a test set that is not trained on); training needs "
        "at least 2 classes, so this is refused otherwise",
    )


def add_list_options(group: Arguments) -> None:
    add_exts(group, "image extensions to list, compared case-insensitively")
    add_train_ratio(
        group,
        defaults.TRAIN_RATIO,
        "share of each class for training; 1.0 writes one PREFIX.lst",
    )
    group.add_argument(
        "--test-ratio",
        type=share(one=False),
        default=defaults.TEST_RATIO,
        metavar="R",
        help=f"share for PREFIX_test.lst (default: {defaults.TEST_RATIO:g})",
    )
    add_seed(group, "shuffle seed, as im2rec's")
    group.add_argument(
        "--no-shuffle", dest="shuffle", action="store_false", help="keep listing order"
    )
    group.add_argument(
        "--no-stratify",
        dest="stratify",
        action="store_false",
        help="split the shuffled whole instead of each class (im2rec's split, line for line)",
    )
    add_classes(
        group,
        "only these classes: class ids, folder names or names from classes.txt "
        "(comma-separated, repeatable)",
    )
    group.add_argument(
        "--split",
        choices=["ratio", "official"],
        default="ratio",
        help="'official' uses train_test_split.txt of NABirds/CUB (train and val lists)",
    )
    group.add_argument(
        "--chunks", type=bounded_int(1), default=defaults.CHUNKS, help="number of chunks (im2rec)"
    )
    group.add_argument(
        "--recursive",
        action="store_true",
        help="accepted for im2rec compatibility; recpack always lists class folders recursively",
    )
    group.add_argument("--list", dest="im2rec_list", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from ..dataset.discovery import discover
    from ..dataset.lists import write_lists
    from ..dataset.split import SplitOptions

    dataset = discover(args.root, args.exts, class_tokens(args.classes))
    for message in dataset.warnings:
        warn(message)
    options = SplitOptions(
        train_ratio=args.train_ratio,
        test_ratio=args.test_ratio,
        seed=args.seed,
        shuffle=args.shuffle,
        stratify=args.stratify,
        chunks=args.chunks,
        official=args.split == "official",
    )
    outcome = write_lists(args.prefix, dataset, options, allow_single_class=args.allow_single_class)
    for message in outcome.warnings:
        warn(message)
    print(outcome.describe())
    return EXIT_OK
