"""im2rec.py's command line, accepted with the program name replaced.

im2rec.py has no subcommands: `im2rec.py --list ... PREFIX ROOT` lists and `im2rec.py ... PREFIX
ROOT` packs. Anything that does not start with a registered command name is read that way.
"""

from __future__ import annotations

from collections.abc import Collection

LIST_COMMAND, PACK_COMMAND = "list", "pack"
_TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")


def im2rec_argv(argv: list[str], commands: Collection[str]) -> list[str]:
    """`argv` as a recpack command line: unchanged when it names one of `commands`, else `list`
    (with im2rec's --list) or `pack` in front of an im2rec.py command line."""
    if not argv or argv[0] in commands or argv[0] in _TOP_LEVEL_OPTIONS:
        return argv
    if sum(1 for a in argv if not a.startswith("-")) < 2:
        return argv  # not PREFIX ROOT: let argparse name the unknown command
    if "--list" in argv:
        return [LIST_COMMAND] + [a for a in argv if a != "--list"]
    return [PACK_COMMAND, *argv]
