"""The one list of `recpack` commands: name -> the module that defines it, and its one-line help.

A command module (recpack/commands/) has DESCRIPTION, add_arguments(parser) and run(args) -> exit
code. Modules are imported only when their command runs (or its --help is asked for), so
`recpack --help` loads none of them, and none of Pillow, boto3 or matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Protocol, cast


class Command(Protocol):
    DESCRIPTION: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class CommandInfo:
    module: str
    summary: str  # shown by `recpack --help`


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
    return cast(Command, importlib.import_module(COMMANDS[name].module))


def name_of(module: str) -> str:
    """The command a module defines."""
    return next(name for name, info in COMMANDS.items() if info.module == module)
