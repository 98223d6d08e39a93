"""The `recpack` command line: parse, run the command, turn every error into its exit code.

`recpack list|pack|verify|upload|pipeline|explore ...`; an im2rec command line also works with the
program name replaced: `recpack --list --recursive PREFIX ROOT` lists, `recpack --resize 256 PREFIX
ROOT` packs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Sequence

from .. import __version__
from ..errors import EXIT_ERROR, EXIT_INTERRUPTED, RecpackError
from .compat import im2rec_argv
from .output import PROG, error
from .registry import COMMANDS, load


def build_parser(load_commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. Every command is listed; only those in `load_commands` (all when
    None) get their options, so building the parser for one command imports no other."""
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
    for name, info in COMMANDS.items():
        subparser = commands.add_parser(name, help=info.summary)
        if load_commands is None or name in load_commands:
            command = load(name)
            subparser.description = command.DESCRIPTION
            command.add_arguments(subparser)
            subparser.set_defaults(run=command.run)
    return parser


def exit_code(exc: BaseException) -> int:
    """The one place an error becomes a message and an exit code; raises what is not ours to map."""
    if isinstance(exc, RecpackError):
        error(str(exc))
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        error("interrupted; no output was written at the final paths")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):  # the reader went away (`recpack ... | head`)
        return EXIT_ERROR
    if isinstance(exc, OSError):  # the system refused (disk full, read-only folder): its words
        error(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
        return EXIT_ERROR
    raise exc


def main(argv: Sequence[str] | None = None) -> int:
    arguments = im2rec_argv(list(sys.argv[1:] if argv is None else argv), COMMANDS)
    chosen = arguments[:1] if arguments and arguments[0] in COMMANDS else []
    args = build_parser(chosen).parse_args(arguments)
    try:
        code: int = args.run(args)
    except (RecpackError, KeyboardInterrupt, OSError) as exc:
        return exit_code(exc)
    return code
