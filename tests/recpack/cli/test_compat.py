"""An im2rec.py command line with the program name replaced, read with the command registry."""

import sys
import types

import pytest

from recpack.cli import main
from recpack.cli.compat import LIST_COMMAND, PACK_COMMAND, im2rec_argv
from recpack.cli.registry import COMMANDS, CommandInfo


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--list", "--recursive", "p", "r"], ["list", "--recursive", "p", "r"]),
        (
            ["--resize", "256", "--num-thread", "2", "p", "r"],
            ["pack", "--resize", "256", "--num-thread", "2", "p", "r"],
        ),
        (["p", "r"], ["pack", "p", "r"]),
        (["--version"], ["--version"]),
        (["frobnicate"], ["frobnicate"]),  # not PREFIX ROOT: argparse names the unknown command
        ([], []),
    ],
)
def test_im2rec_command_lines_become_list_or_pack(argv, expected):
    assert im2rec_argv(argv, COMMANDS) == expected


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_registered_command_is_never_rewritten(command):
    argv = [command, "--resize", "256", "p", "r"]
    assert im2rec_argv(argv, COMMANDS) == argv


def test_list_and_pack_are_registered_commands():
    assert {LIST_COMMAND, PACK_COMMAND} <= set(COMMANDS)


def test_a_newly_registered_command_is_run_not_read_as_an_im2rec_pack(
    monkeypatch, capsys, tmp_path
):
    """Registering a command is the only step: compat and the parser learn it from the registry."""
    command = types.ModuleType("recpack_test_hello")
    command.DESCRIPTION = "say hello to two names"
    command.add_arguments = lambda parser: parser.add_argument("names", nargs="+")
    command.run = lambda args: print("hello " + " and ".join(args.names)) or 0
    monkeypatch.setitem(sys.modules, command.__name__, command)
    monkeypatch.setitem(COMMANDS, "hello", CommandInfo(command.__name__, "say hello"))
    root = str(tmp_path / "ann")
    assert main(["hello", root]) == 0
    assert capsys.readouterr().out == f"hello {root}\n"
    monkeypatch.delitem(COMMANDS, "hello")
    # Unregistered, the same words are an im2rec line: `pack` with PREFIX hello and ROOT ann.
    assert main(["hello", root]) == 1
    assert f"ROOT {root!r} does not exist" in capsys.readouterr().err
