"""`python -m demo` (and `make demo ARGS=...`) as a user types it: every mistake is one
`demo: error:` line with its exit code (usage 2, others 1), no traceback, and nothing of the user's
is removed."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNWRITABLE = "/sys/recpack-demo"  # refused even to root, as a read-only place is


def a_users_folder(path):
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("years of work")
    return path


def run_demo(*args):
    return subprocess.run(
        [sys.executable, "-m", "demo", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv, code, expected",
    [
        (["--bogus"], 2, "demo: error: unrecognized arguments: --bogus"),
        (["--work"], 2, "demo: error: argument --work: expected one argument"),
        (["--work", "{tmp}/notes.txt"], 1, "demo: error: --work '{tmp}/notes.txt' is a file"),
        (["--work", "{tmp}/projects"], 1, "holds files recpack did not create (thesis.tex)"),
        (["--work", UNWRITABLE], 1, f"demo: error: --work '{UNWRITABLE}': cannot create"),
    ],
    ids=["unknown-option", "work-without-value", "work-is-a-file", "work-is-users", "read-only"],
)
def test_mistakes_are_one_line(tmp_path, argv, code, expected):
    (tmp_path / "notes.txt").write_text("mine")
    a_users_folder(tmp_path / "projects")
    result = run_demo(*(arg.format(tmp=tmp_path) for arg in argv))
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and expected.format(tmp=tmp_path) in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "projects" / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in (tmp_path / "projects").iterdir()) == ["thesis.tex"]


def test_make_demo_passes_args_and_a_mistake_stops_it_with_the_demos_line(run_make):
    result = run_make("demo", "ARGS=--bogus")
    assert result.returncode == 2  # make's own code for a failed recipe
    assert "demo: error: unrecognized arguments: --bogus" in result.stderr


def test_demo_steps_never_remove_what_sits_in_a_folder_they_did_not_make(tmp_path):
    from demo import flow

    (tmp_path / "nabirds_sample").mkdir()
    (tmp_path / "nabirds_sample" / "field-notes.txt").write_text("mine")
    with pytest.raises(flow.DemoError, match="in a folder the demo did not make"):
        flow.make_dataset(tmp_path)
    assert (tmp_path / "nabirds_sample" / "field-notes.txt").read_text() == "mine"
