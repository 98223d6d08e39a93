import os
import subprocess
import sys

import pytest

from recpack import synthetic
from recpack.pack.im2rec_engine import im2rec_script


@pytest.fixture(scope="session")
def im2rec():
    """Run MXNet's tools/im2rec.py (the reference) with the given arguments."""
    script = im2rec_script()

    def run(*args, cwd=None):
        completed = subprocess.run(
            [sys.executable, script, *map(str, args)], cwd=cwd, capture_output=True, text=True
        )
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
    completed = subprocess.run(
        [sys.executable, "-m", "recpack", *map(str, args)], cwd=cwd, capture_output=True, text=True
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    return completed


@pytest.fixture
def recpack():
    return run_recpack


def _linked_dataset(root, images=600, size=(1200, 800)):
    """`images` hard links to one ~1 MP photo in two classes: big enough that packing takes about a
    second here, instant to create."""

    source = root.parent / "source.jpg"
    synthetic.save(synthetic.large_photo(*size, seed=3), str(source), quality=90)
    for number in range(images):
        folder = root / ("a" if number % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        os.link(source, folder / f"{number:05d}.jpg")
    return root


def _when_writing(command, temporary_glob, folder, act, cwd=None, timeout=60):
    """Start `command`; as soon as a temporary output holds bytes, call act(process), then wait for
    the process to end. Returns the process and what it wrote on stderr."""
    import time

    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if any(path.stat().st_size > 0 for path in folder.glob(temporary_glob)):
            break
        time.sleep(0.002)
    act(process)
    _, err = process.communicate(timeout=120)
    return process, err


def _kill_when_writing(command, temporary_glob, folder, timeout=60):
    """Start `command`, SIGKILL it as soon as a temporary output holds bytes; return the process."""
    import signal

    process, _ = _when_writing(
        command,
        temporary_glob,
        folder,
        lambda running: running.send_signal(signal.SIGKILL),
        timeout=timeout,
    )
    return process


@pytest.fixture
def linked_dataset():
    return _linked_dataset


@pytest.fixture
def kill_when_writing():
    return _kill_when_writing


@pytest.fixture
def when_writing():
    return _when_writing
