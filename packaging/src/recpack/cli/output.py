"""How the command line speaks: one line per error or warning, prefixed with the program's name."""

from __future__ import annotations

import sys

PROG = "recpack"


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)
