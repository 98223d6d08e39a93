"""`recpack pack PREFIX ROOT`: every PREFIX*.lst into .rec + .idx, as im2rec.py does without --list."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from .. import defaults
from ..cli.options import add_min_size, add_quality, add_resize, add_workers
from ..cli.output import warn
from ..errors import EXIT_OK

if TYPE_CHECKING:
    from ..image.transform import PackOptions

DESCRIPTION = "Pack every PREFIX*.lst (or one .lst file) into .rec + .idx beside it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "prefix", metavar="PREFIX", help="prefix of the .lst files, a folder, or one .lst file"
    )
    parser.add_argument("root", metavar="ROOT", help="folder the list paths are relative to")
    group = parser.add_argument_group("packing options (im2rec names)")
    add_resize(
        group,
        defaults.RESIZE,
        "shorter side to N pixels, longer side in proportion; 0 keeps the size",
    )
    group.add_argument("--center-crop", action="store_true", help="crop the centre square first")
    add_quality(group, "JPEG quality 1-100, or PNG compression level (clamped to 9)")
    group.add_argument(
        "--encoding",
        choices=defaults.ENCODINGS,
        default=defaults.ENCODING,
        help=f"default: {defaults.ENCODING}",
    )
    group.add_argument(
        "--color",
        type=int,
        choices=defaults.COLORS,
        default=defaults.COLOR,
        help="1: colour (default), 0: greyscale, -1: the file's own channels",
    )
    group.add_argument(
        "--pass-through", action="store_true", help="pack the files' bytes unchanged"
    )
    group.add_argument(
        "--pack-label", action="store_true", help="pack every label column (multi-label)"
    )
    add_workers(group, "worker processes", im2rec_name=True)
    group.add_argument(
        "--on-error",
        choices=["skip", "fail"],
        default="skip",
        help="bad images: 'skip' names them and goes on (default); 'fail' stops with no output",
    )
    add_min_size(
        group,
        0,
        "warn about packed images smaller than this on a side, the training image_shape; "
        "0: no check",
    )
    group.add_argument(
        "--engine",
        choices=["recpack", "im2rec"],
        default="recpack",
        help="'im2rec' runs MXNet's own tools/im2rec.py (needs: pip install 'recpack[im2rec]')",
    )


def pack_options_from(args: argparse.Namespace) -> PackOptions:
    from ..image.transform import PackOptions

    return PackOptions(
        resize=args.resize,
        center_crop=args.center_crop,
        quality=args.quality,
        encoding=args.encoding,
        color=args.color,
        pass_through=args.pass_through,
    )


def run(args: argparse.Namespace) -> int:
    if args.engine == "im2rec":
        from ..pack.im2rec_engine import run_im2rec

        return run_im2rec(args)
    from ..pack.packer import SKIPPED_SUFFIX, pack_lists

    results = pack_lists(
        args.prefix,
        args.root,
        pack_options_from(args),
        workers=args.workers,
        pack_label=args.pack_label,
        fail_fast=args.on_error == "fail",
        min_side=args.min_size,
        warn=warn,
    )
    skipped = sum(len(r.skipped) for r in results)
    if skipped:
        tables = [os.path.splitext(r.list_path)[0] + SKIPPED_SUFFIX for r in results if r.skipped]
        warn(f"{skipped} images skipped; see " + ", ".join(tables))
    return EXIT_OK
