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
from .compat import TOP_LEVEL_OPTIONS, im2rec_argv, mistyped_command
from .output import PROG, error
from .registry import COMMANDS, load

TYPE_CHECKING = False  # as in registry.py: importing typing would slow down `recpack --help`
if TYPE_CHECKING:
    from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with every usage mistake as one `recpack: error:` line (a command's own
    parser would say `recpack pack: error:`) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}\n")


def _unknown_arguments(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """What is wrong with arguments no option took, with the option probably meant."""
    import difflib

    known = [flag for action in parser._actions for flag in action.option_strings]
    for argument in extra:
        if argument.startswith("-") and argument != "-":
            flag = argument.split("=", 1)[0]
            close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; see '{parser.prog} --help'"
            return f"unknown option {flag!r}{hint}"
    return f"unexpected argument{'s' if len(extra) > 1 else ''}: {' '.join(extra)}"


def build_parser(load_commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. Every command is listed; only those in `load_commands` (all when
    None) get their options, so building the parser for one command imports no other."""
    parser = _Parser(
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


def _parse(argv: list[str]) -> argparse.Namespace:
    typo = mistyped_command(argv, COMMANDS)
    if typo:
        build_parser(()).error(typo)
    arguments = im2rec_argv(argv, COMMANDS)
    chosen = arguments[:1] if arguments and arguments[0] in COMMANDS else []
    parser = build_parser(chosen)
    if arguments and not chosen and arguments[0] not in TOP_LEVEL_OPTIONS:
        parser.error(_unknown_arguments(parser, arguments[:1]))  # `recpack --verison`
    args, extra = parser.parse_known_args(arguments)
    if extra:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        subparsers.choices[args.command].error(
            _unknown_arguments(subparsers.choices[args.command], extra)
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        code: int = args.run(args)
    except (RecpackError, KeyboardInterrupt, OSError) as exc:
        return exit_code(exc)
    return code
