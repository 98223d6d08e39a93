"""The README's settings table is the one generated from the spec table."""

from __future__ import annotations

import subprocess
import sys

from stacks.config import docs
from stacks.config.schema import SETTINGS
from stacks.training.runtime.workshop_runtime.specs import leaves

from ..conftest import REPO


def test_readme_settings_table_matches_the_specs():
    readme = (REPO / "README.md").read_text()
    assert docs.readme_with_table(readme) == readme, (
        "README.md's settings table is out of date: run "
        ".venv/bin/python -m stacks.config.docs --write"
    )


def test_every_setting_has_a_row_with_its_default_and_meaning():
    table = docs.settings_table()
    for name, spec in leaves(SETTINGS):
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{name}` |")]
        assert spec.doc and spec.doc.split("`")[0] in row


def test_the_command_prints_the_table():
    result = subprocess.run(
        [sys.executable, "-m", "stacks.config.docs"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == docs.settings_table()
