"""The one list of `recpack` commands: name -> the module that defines it, and its one-line help.

A command module (recpack/commands/) has DESCRIPTION, add_arguments(parser) and run(args) -> exit
code. Modules are imported only when their command runs (or its --help is asked for), so
`recpack --help` loads none of them, and none of Pillow, boto3 or matplotlib.
"""

from __future__ import annotations

import importlib

# Not typing.TYPE_CHECKING: importing typing (or dataclasses) would add half again to the time
# `recpack --help` takes. Type checkers read any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Protocol

    class Command(Protocol):
        DESCRIPTION: str

        def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
        def run(self, args: argparse.Namespace) -> int: ...


class CommandInfo:
    __slots__ = ("module", "summary")

    def __init__(self, module: str, summary: str) -> None:
        self.module = module
        self.summary = summary  # shown by `recpack --help`


COMMANDS: dict[str, CommandInfo] = {
    "list": CommandInfo(
        "recpack.commands.list", "write PREFIX*.lst image lists and a label map from ROOT"
    ),
    "pack": CommandInfo("recpack.commands.pack", "pack PREFIX*.lst into .rec + .idx files"),
    "verify": CommandInfo("recpack.commands.verify", "check .rec files record by record"),
    "upload": CommandInfo(
        "recpack.commands.upload",
        "upload PREFIX_train.rec and PREFIX_val.rec as the training channels, with a manifest",
    ),
    "pipeline": CommandInfo(
        "recpack.commands.pipeline",
        "download a raw image archive from S3, list, pack, verify and upload it",
    ),
    "explore": CommandInfo(
        "recpack.commands.explore",
        "write an HTML report of a dataset: images per class, sizes, samples, formats",
    ),
}


def load(name: str) -> Command:
    # A module is checked against the Command protocol only by the tests that run each command.
    command: Command = importlib.import_module(COMMANDS[name].module)
    return command


def name_of(module: str) -> str:
    """The command a module defines."""
    return next(name for name, info in COMMANDS.items() if info.module == module)
