"""im2rec.py's command line, accepted with the program name replaced.

im2rec.py has no subcommands: `im2rec.py --list ... PREFIX ROOT` lists and `im2rec.py ... PREFIX
ROOT` packs. Anything that does not start with a registered command name is read that way.
"""

from __future__ import annotations

import os
from collections.abc import Collection

LIST_COMMAND, PACK_COMMAND = "list", "pack"
TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")


def im2rec_argv(argv: list[str], commands: Collection[str]) -> list[str]:
    """`argv` as a recpack command line: unchanged when it names one of `commands`, else `list`
    (with im2rec's --list) or `pack` in front of an im2rec.py command line."""
    if not argv or argv[0] in commands or argv[0] in TOP_LEVEL_OPTIONS:
        return argv
    if sum(1 for a in argv if not a.startswith("-")) < 2:
        return argv  # not PREFIX ROOT: let argparse name the unknown command
    if "--list" in argv:
        return [LIST_COMMAND] + [a for a in argv if a != "--list"]
    return [PACK_COMMAND, *argv]


def mistyped_command(argv: list[str], commands: Collection[str]) -> str | None:
    """Why `argv` is neither a command nor an im2rec.py command line, or None when it is one of
    them: a first word close to a command name ('lsit') that names no file and no list is a typo,
    not an im2rec PREFIX."""
    if not argv or argv[0].startswith("-") or argv[0] in commands:
        return None
    import difflib
    import glob

    word = argv[0]
    if os.path.exists(word) or glob.glob(glob.escape(word) + "*.lst") or "--list" in argv:
        return None  # an im2rec PREFIX: lists to pack, or lists to write
    close = difflib.get_close_matches(word, list(commands), n=1, cutoff=0.6)
    if close:
        return f"unknown command {word!r} (did you mean {close[0]!r}?)"
    if sum(1 for a in argv if not a.startswith("-")) < 2:
        return f"unknown command {word!r} (commands: {', '.join(commands)})"
    return None
