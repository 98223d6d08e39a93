"""The command line as a user types it: help, usage mistakes, exit codes, and what it imports."""

import errno
import subprocess
import sys

import pytest

from recpack.cli import main
from recpack.cli.main import exit_code
from recpack.cli.registry import COMMANDS
from recpack.errors import RecpackError

HEAVY = ("PIL", "boto3", "botocore", "matplotlib")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, recpack):
    result = recpack(command, "--help")
    assert "usage: recpack " + command in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["pack", "p", "r", "--quality", "101"], "out of range (1..100)"),
        (["pack", "p", "r", "--color", "2"], "invalid choice"),
        (["pack", "p", "r", "--workers", "0"], "below 1"),
        (["list", "p"], "required: ROOT"),
        (["frobnicate"], "unknown command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args, message, recpack):
    result = recpack(*args, check=False)
    assert result.returncode == 2 and message in result.stderr


def test_main_returns_exit_codes_in_process(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "missing.rec")]) == 1
    assert "recpack: error:" in capsys.readouterr().err


def imported_after(code):
    """Top-level packages imported by running `code` in a fresh interpreter."""
    probe = code + "\nimport sys; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split()), result


def test_help_imports_no_command_and_no_heavy_library():
    modules, _ = imported_after(
        "import sys, contextlib, io\n"
        "from recpack.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "assert not [m for m in sys.modules if m.startswith('recpack.commands.')], sys.modules"
    )
    assert not modules & set(HEAVY)


def test_the_packing_parent_imports_neither_pillow_boto3_nor_matplotlib(birds, tmp_path):
    prefix = tmp_path / "ds"
    modules, result = imported_after(
        "from recpack.cli import main\n"
        f"assert main(['list', {str(prefix)!r}, {str(birds)!r}]) == 0\n"
        f"assert main(['pack', {str(prefix)!r}, {str(birds)!r}, '--resize', '32', '--workers', '2']) == 0"
    )
    assert (tmp_path / "ds.rec").stat().st_size > 0, result.stderr
    assert not modules & set(HEAVY)  # nor Pillow: the workers decode


@pytest.mark.parametrize(
    "exc, code, message",
    [
        (RecpackError("ROOT 'x' does not exist"), 1, "recpack: error: ROOT 'x' does not exist\n"),
        (KeyboardInterrupt(), 130, "recpack: error: interrupted; no output was written"),
        (BrokenPipeError(), 1, ""),  # the reader went away: nothing more to say
        (
            OSError(errno.ENOSPC, "No space left on device", "/out/ds.rec"),
            1,
            "recpack: error: /out/ds.rec: No space left on device\n",
        ),
    ],
)
def test_every_error_has_one_exit_code_and_one_line(exc, code, message, capsys):
    assert exit_code(exc) == code
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == (1 if message else 0)


def test_a_bug_is_not_hidden_behind_an_exit_code():
    with pytest.raises(ZeroDivisionError):
        exit_code(ZeroDivisionError("a bug"))
