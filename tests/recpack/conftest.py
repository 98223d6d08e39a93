import os
import subprocess
import sys

import pytest

from recpack import synthetic
from recpack.im2rec_engine import im2rec_script


@pytest.fixture(scope="session")
def im2rec():
    """Run MXNet's tools/im2rec.py (the reference) with the given arguments."""
    script = im2rec_script()

    def run(*args, cwd=None):
        completed = subprocess.run([sys.executable, script, *map(str, args)], cwd=cwd,
                                   capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr
        return completed
    return run


@pytest.fixture(scope="session")
def birds(tmp_path_factory):
    """A small folder-per-class dataset: 4 species, portrait and landscape, some PNG."""
    root = tmp_path_factory.mktemp("birds") / "images"
    synthetic.folder_dataset(str(root), per_class=12, seed=7)
    return root


def run_recpack(*args, cwd=None, check=True):
    completed = subprocess.run([sys.executable, "-m", "recpack", *map(str, args)], cwd=cwd,
                               capture_output=True, text=True)
    if check:
        assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


@pytest.fixture
def recpack():
    return run_recpack
