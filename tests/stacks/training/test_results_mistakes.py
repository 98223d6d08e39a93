"""`python -m stacks.training.results` and `make results` as an instructor types them: every mistake
is one `results: error:` line with its exit code (usage 2, others 1) and no traceback; the plot
goes where the user says, or under results/ (ignored by git).

Each row: (arguments, exit code, a substring of the error line, or of stdout when the code is 0).
{tmp} is the working directory, holding lab2.log (a log saved from the console) and notes.txt.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import algorithm_epoch_lines as epoch_lines

REPO = Path(__file__).resolve().parents[3]
UNWRITABLE = "/sys/recpack-results"  # refused even to root, as a read-only place is
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:training-job/birds-20261121-123456-abcd"

ROWS = [
    ([], 2, "the following arguments are required: JOB_NAME_OR_REPORT_JSON"),
    ([""], 2, "no training job given: make results JOB=<training job name, ARN or report.json>"),
    (["lab2.log", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["birds-1", "--endpoint-url", "localhost:5000"], 2, "'localhost:5000' is not a URL: give its scheme, e.g. http://localhost:5000"),
    (["birds-1", "--region", "US-EAST-1"], 2, "'US-EAST-1' is not an AWS region name such as us-east-1"),
    (["{tmp}/missing.json"], 1, "{tmp}/missing.json: no such file (and not a training job name)"),
    (["notes.txt"], 1, "no epoch lines (Epoch[N] Train-accuracy=...) in notes.txt yet"),
    (["s3://workshop"], 1, "s3://workshop: expected s3://BUCKET/KEY"),
    ([ARN], 1, "training job birds-20261121-123456-abcd: Unable to locate credentials"),
    (["lab2.log", "--out", "plot.xyz"], 1, "--out plot.xyz: matplotlib cannot write .xyz files; use one of"),
    (["lab2.log", "--out", "notes.txt/plot.png"], 1, "--out notes.txt/plot.png: cannot write"),
    (["lab2.log", "--out", UNWRITABLE + "/plot.png"], 1, f"--out {UNWRITABLE}/plot.png: cannot write"),
    (["lab2.log"], 0, "plot: results/lab2-accuracy.png"),
    (["lab2.log", "--out", "plots/"], 0, "plot: plots/lab2-accuracy.png"),
    (["lab2.log", "--out", "deeper/accuracy"], 0, "plot: deeper/accuracy.png"),
    (["lab2.log", "--out", "accuracy.svg"], 0, "plot: accuracy.svg"),
]  # fmt: skip


def no_aws_environment(tmp_path):
    """No credentials, profile, region or endpoint from this machine."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.mark.parametrize(
    "argv, code, expected", ROWS, ids=[" ".join(r[0])[:50] or "empty" for r in ROWS]
)
def test_a_mistake_is_one_line_with_its_exit_code(tmp_path, argv, code, expected):
    (tmp_path / "lab2.log").write_text("\n".join(epoch_lines(0, 0.2, 3.0, 0.3)) + "\n")
    (tmp_path / "notes.txt").write_text("my notes")
    completed = subprocess.run(
        [sys.executable, "-m", "stacks.training.results", *(a.format(tmp=tmp_path) for a in argv)],
        cwd=tmp_path,
        env=no_aws_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    expected = expected.format(tmp=tmp_path)
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == code, completed.stderr
    if code == 0:
        assert expected in completed.stdout, completed.stdout + completed.stderr
        assert (tmp_path / expected.removeprefix("plot: ")).is_file()
        return
    errors = [line for line in completed.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("results: error: "), completed.stderr
    assert expected in errors[0], errors[0]
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.xyz"))


def test_make_results_without_job_is_a_usage_error(run_make):
    completed = run_make("results")
    assert completed.returncode == 2  # make's own code for a failed recipe
    assert "results: error: no training job given: make results JOB=" in completed.stderr
    assert "Traceback" not in completed.stderr
