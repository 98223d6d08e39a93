"""The `recpack` command line.

`recpack list|pack|verify|upload|pipeline ...`; an im2rec command line also works with the program
name replaced: `recpack --list --recursive PREFIX ROOT` lists, `recpack --resize 256 PREFIX ROOT` packs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import RecpackError

PROG = "recpack"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _bounded_int(low: int, high: int | None = None):
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


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1")
    return value


def _class_tokens(values: Sequence[str]) -> list[str]:
    tokens = []
    for value in values or ():
        tokens.extend(t.strip() for t in value.split(",") if t.strip())
    return tokens


# --- list ----------------------------------------------------------------------------------------


def add_list_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("listing options (im2rec names)")
    group.add_argument(
        "--exts",
        nargs="+",
        default=[".jpeg", ".jpg", ".png"],
        metavar="EXT",
        help="image extensions to list, compared case-insensitively (default: .jpeg .jpg .png)",
    )
    group.add_argument(
        "--train-ratio",
        type=_ratio,
        default=1.0,
        metavar="R",
        help="share of each class for training; 1.0 writes one PREFIX.lst (default: 1.0)",
    )
    group.add_argument(
        "--test-ratio",
        type=_ratio,
        default=0.0,
        metavar="R",
        help="share for PREFIX_test.lst (default: 0)",
    )
    group.add_argument(
        "--seed", type=int, default=100, help="shuffle seed (default: 100, as im2rec)"
    )
    group.add_argument(
        "--no-shuffle", dest="shuffle", action="store_false", help="keep listing order"
    )
    group.add_argument(
        "--no-stratify",
        dest="stratify",
        action="store_false",
        help="split the shuffled whole instead of each class (im2rec's split, line for line)",
    )
    group.add_argument(
        "--classes",
        action="append",
        metavar="ID_OR_NAME[,...]",
        help="only these classes: class ids, folder names or names from classes.txt "
        "(comma-separated, repeatable)",
    )
    group.add_argument(
        "--split",
        choices=["ratio", "official"],
        default="ratio",
        help="'official' uses train_test_split.txt of NABirds/CUB (train and val lists)",
    )
    group.add_argument(
        "--chunks", type=_bounded_int(1), default=1, help="number of chunks (im2rec)"
    )
    group.add_argument(
        "--recursive",
        action="store_true",
        help="accepted for im2rec compatibility; recpack always lists class folders recursively",
    )
    group.add_argument("--list", dest="im2rec_list", action="store_true", help=argparse.SUPPRESS)


def run_list(args) -> int:
    from .dataset.discovery import discover
    from .dataset.lists import write_lists
    from .dataset.split import SplitOptions

    dataset = discover(args.root, args.exts, _class_tokens(args.classes))
    for message in dataset.warnings:
        _warn(message)
    options = SplitOptions(
        train_ratio=args.train_ratio,
        test_ratio=args.test_ratio,
        seed=args.seed,
        shuffle=args.shuffle,
        stratify=args.stratify,
        chunks=args.chunks,
        official=args.split == "official",
    )
    outcome = write_lists(args.prefix, dataset, options)
    for message in outcome.warnings:
        _warn(message)
    print(outcome.describe())
    return EXIT_OK


# --- pack ----------------------------------------------------------------------------------------


def add_pack_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("packing options (im2rec names)")
    group.add_argument(
        "--resize",
        type=_bounded_int(0),
        default=0,
        metavar="N",
        help="shorter side to N pixels, longer side in proportion (default: 0, keep size)",
    )
    group.add_argument("--center-crop", action="store_true", help="crop the centre square first")
    group.add_argument(
        "--quality",
        type=_bounded_int(1, 100),
        default=95,
        help="JPEG quality 1-100, or PNG compression level (clamped to 9) (default: 95)",
    )
    group.add_argument("--encoding", choices=[".jpg", ".png"], default=".jpg", help="default: .jpg")
    group.add_argument(
        "--color",
        type=int,
        choices=[-1, 0, 1],
        default=1,
        help="1: colour (default), 0: greyscale, -1: the file's own channels",
    )
    group.add_argument(
        "--pass-through", action="store_true", help="pack the files' bytes unchanged"
    )
    group.add_argument(
        "--pack-label", action="store_true", help="pack every label column (multi-label)"
    )
    group.add_argument(
        "--workers",
        "--num-thread",
        dest="workers",
        type=_bounded_int(1),
        default=0,
        metavar="N",
        help="worker processes (default: all cores)",
    )
    group.add_argument(
        "--on-error",
        choices=["skip", "fail"],
        default="skip",
        help="bad images: 'skip' names them and goes on (default); 'fail' stops with no output",
    )
    group.add_argument(
        "--engine",
        choices=["recpack", "im2rec"],
        default="recpack",
        help="'im2rec' runs MXNet's own tools/im2rec.py (needs: pip install 'recpack[im2rec]')",
    )


def pack_options_from(args):
    from .image.transform import PackOptions

    return PackOptions(
        resize=args.resize,
        center_crop=args.center_crop,
        quality=args.quality,
        encoding=args.encoding,
        color=args.color,
        pass_through=args.pass_through,
    )


def run_pack(args) -> int:
    if args.engine == "im2rec":
        from .pack.im2rec_engine import run_im2rec

        return run_im2rec(args)
    from .pack.packer import pack_lists

    results = pack_lists(
        args.prefix,
        args.root,
        pack_options_from(args),
        workers=args.workers,
        pack_label=args.pack_label,
        fail_fast=args.on_error == "fail",
        warn=_warn,
    )
    skipped = sum(len(r.skipped) for r in results)
    if skipped:
        _warn(
            f"{skipped} images skipped; see "
            + ", ".join(
                os.path.splitext(r.list_path)[0] + ".skipped.tsv" for r in results if r.skipped
            )
        )
    return EXIT_OK


# --- verify --------------------------------------------------------------------------------------


def run_verify(args) -> int:
    from .aws import manifest as manifests
    from .pack.verify import verify

    manifest = manifests.load(args.manifest, args.endpoint_url) if args.manifest else None
    for path in args.files:
        result = verify(path, min_side=args.min_size)
        print(result.describe())
        if manifest is not None:
            print(manifests.check(result, manifest, args.manifest))
    return EXIT_OK


# --- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Package images into MXNet RecordIO for SageMaker's Image Classification algorithm, "
        "compatible with MXNet's im2rec.py.",
        epilog="An im2rec.py command line works with the program name replaced, e.g. "
        "'recpack --list --recursive --train-ratio 0.75 birds images/'. "
        "Run 'recpack COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser(
        "list",
        help="write PREFIX*.lst image lists and a label map from ROOT",
        description="Write image lists (PREFIX.lst, or PREFIX_train/_val/_test.lst) and "
        "PREFIX_labels.tsv from a folder-per-class or NABirds/CUB dataset.",
    )
    p.add_argument("prefix", metavar="PREFIX", help="path prefix of the .lst files to write")
    p.add_argument(
        "root", metavar="ROOT", help="folder holding the images (paths in lists are relative to it)"
    )
    add_list_options(p)
    p.set_defaults(run=run_list)

    p = commands.add_parser(
        "pack",
        help="pack PREFIX*.lst into .rec + .idx files",
        description="Pack every PREFIX*.lst (or one .lst file) into .rec + .idx beside it.",
    )
    p.add_argument(
        "prefix", metavar="PREFIX", help="prefix of the .lst files, a folder, or one .lst file"
    )
    p.add_argument("root", metavar="ROOT", help="folder the list paths are relative to")
    add_pack_options(p)
    p.set_defaults(run=run_pack)

    p = commands.add_parser(
        "verify",
        help="check .rec files record by record",
        description="Read each .rec through its .idx and sequentially, decode every image, "
        "and print counts per label and the image size range.",
    )
    p.add_argument("files", metavar="FILE.rec", nargs="+")
    p.add_argument(
        "--min-size",
        type=_bounded_int(0),
        default=224,
        metavar="PX",
        help="warn about images smaller than this on a side: the training image_shape (default: 224)",
    )
    p.add_argument(
        "--manifest",
        metavar="PATH_OR_S3_URI",
        help="also check each file's record count and SHA-256 against this manifest.json",
    )
    p.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="S3 endpoint for an s3:// manifest (default: $AWS_ENDPOINT_URL or AWS)",
    )
    p.set_defaults(run=run_verify)

    from .cloud_cli import add_cloud_commands

    add_cloud_commands(commands)
    from .explore_cli import add_explore_command

    add_explore_command(commands)
    return parser


def _im2rec_compat(argv: list[str]) -> list[str]:
    """Rewrite an im2rec.py command line (no subcommand) as `list` or `pack`."""
    subcommands = {"list", "pack", "verify", "upload", "pipeline", "explore"}
    if not argv or argv[0] in subcommands or argv[0] in ("-h", "--help", "--version"):
        return argv
    if sum(1 for a in argv if not a.startswith("-")) < 2:
        return argv  # not PREFIX ROOT: let argparse name the unknown command
    if "--list" in argv:
        return ["list"] + [a for a in argv if a != "--list"]
    return ["pack"] + argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = _im2rec_compat(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except RecpackError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted; no output was written at the final paths")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except (
        OSError
    ) as exc:  # the system refused (disk full, read-only folder): its words, not a traceback
        _error(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
