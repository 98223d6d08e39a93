"""`recpack explore` argument parsing; the work is in explore.py, imported only when it runs."""

from __future__ import annotations

import os


def run_explore(args) -> int:
    from .cli import _class_tokens, _warn
    from .explore.report import REPORT_NAME, explore
    from .explore.summary import summary_lines

    exploration = explore(
        args.root,
        args.out,
        min_size=args.min_size,
        min_per_class=args.min_per_class,
        samples=args.samples,
        thumbnail_size=args.thumbnail_size,
        seed=args.seed,
        exts=args.exts,
        classes=_class_tokens(args.classes),
    )
    for message in exploration.dataset.warnings:
        _warn(message)
    for line in summary_lines(exploration):
        print(line)
    print(f"report: {os.path.join(args.out, REPORT_NAME)}")
    return 0


def add_explore_command(commands) -> None:
    from .cli import _bounded_int

    p = commands.add_parser(
        "explore",
        help="write an HTML report of a dataset: images per class, sizes, samples, formats",
        description="Explore a folder-per-class or NABirds/CUB dataset: images per class (flagging classes too "
        "small to split), width/height and aspect-ratio distributions (flagging images smaller than "
        "the training shape), sample thumbnails per class, the label/class id/name table, file "
        "formats and modes, and unreadable files. Reads image headers only, except for the samples. "
        "Needs matplotlib: pip install 'recpack[explore]'.",
    )
    p.add_argument(
        "root", metavar="ROOT", help="folder holding the class folders, or the NABirds/CUB folder"
    )
    p.add_argument(
        "--out",
        default="recpack-explore",
        metavar="DIR",
        help="folder for index.html and its figures (default: ./recpack-explore)",
    )
    p.add_argument(
        "--min-size",
        type=_bounded_int(1),
        default=224,
        metavar="PX",
        help="training shape side: images with a smaller side are flagged (default: 224)",
    )
    p.add_argument(
        "--min-per-class",
        type=_bounded_int(1),
        default=2,
        metavar="N",
        help="classes with fewer images are flagged as too small to split into train and "
        "validation (default: 2)",
    )
    p.add_argument(
        "--samples",
        type=_bounded_int(0),
        default=6,
        metavar="N",
        help="sample thumbnails per class; 0 for none (default: 6)",
    )
    p.add_argument(
        "--thumbnail-size",
        type=_bounded_int(16, 1024),
        default=160,
        metavar="PX",
        help="longest side of a thumbnail (default: 160)",
    )
    p.add_argument("--seed", type=int, default=100, help="which samples are shown (default: 100)")
    p.add_argument(
        "--exts",
        nargs="+",
        default=[".jpeg", ".jpg", ".png"],
        metavar="EXT",
        help="image extensions, as for 'recpack list' (default: .jpeg .jpg .png)",
    )
    p.add_argument(
        "--classes", action="append", metavar="ID_OR_NAME[,...]", help="only these classes"
    )
    p.set_defaults(run=run_explore)
