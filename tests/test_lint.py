"""pyflakes' checks (ruff's F rules) over all our Python: undefined names, unused imports, dead variables."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_pyflakes_findings():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "F",
            "--no-cache",
            "packaging",
            "tests",
            "stacks",
            "demo",
            "bench",
            "app.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
