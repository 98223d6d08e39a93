"""The command-line framework: parsing, shared options, the command registry, the im2rec
compatibility, and errors mapped to exit codes. The commands themselves are in recpack/commands/."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
