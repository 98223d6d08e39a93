"""SIGKILL at any moment leaves each final path absent or complete, and the next run cleans up."""

import signal
import subprocess
import sys
import time

import pytest


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    """Enough (empty) image files that listing takes a noticeable time: list never decodes pixels."""
    root = tmp_path_factory.mktemp("many") / "images"
    for class_no in range(40):
        folder = root / f"class_{class_no:03d}"
        folder.mkdir(parents=True)
        for image_no in range(400):
            (folder / f"{image_no:05d}.jpg").touch()
    return root


def _list_command(prefix, root):
    return [
        sys.executable,
        "-m",
        "recpack",
        "list",
        str(prefix),
        str(root),
        "--train-ratio",
        "0.8",
        "--test-ratio",
        "0.1",
    ]


def test_killed_list_runs_never_leave_partial_lists_or_label_maps(many_files, tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    started = time.monotonic()
    subprocess.run(_list_command(reference / "ds", many_files), check=True, capture_output=True)
    duration = time.monotonic() - started
    names = ["ds_train.lst", "ds_val.lst", "ds_test.lst", "ds_labels.tsv"]
    expected = {name: (reference / name).read_bytes() for name in names}

    work = tmp_path / "work"
    work.mkdir()
    for attempt in range(12):
        process = subprocess.Popen(
            _list_command(work / "ds", many_files),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(
            duration * (0.3 + attempt * 0.07)
        )  # spread the kills across the run, into the writes
        process.send_signal(signal.SIGKILL)
        process.wait()
        for name in names:
            path = work / name
            assert not path.exists() or path.read_bytes() == expected[name], (
                f"partial {name} after kill {attempt}"
            )
    subprocess.run(_list_command(work / "ds", many_files), check=True, capture_output=True)
    assert {name: (work / name).read_bytes() for name in names} == expected
    assert not list(work.glob(".*recpack-tmp*"))


def test_a_killed_pack_keeps_the_previous_complete_rec(tmp_path, linked_dataset, kill_when_writing):
    root = linked_dataset(tmp_path / "images")
    subprocess.run(
        [sys.executable, "-m", "recpack", "list", str(tmp_path / "ds"), str(root)], check=True
    )
    pack = [
        sys.executable,
        "-m",
        "recpack",
        "pack",
        str(tmp_path / "ds"),
        str(root),
        "--resize",
        "200",
    ]
    subprocess.run(pack, check=True, capture_output=True)
    previous = (tmp_path / "ds.rec").read_bytes(), (tmp_path / "ds.idx").read_bytes()
    process = kill_when_writing(pack + ["--quality", "80"], ".ds.rec.recpack-tmp.*", tmp_path)
    assert process.returncode == -signal.SIGKILL, (
        "the run ended before it could be killed mid-write"
    )
    assert ((tmp_path / "ds.rec").read_bytes(), (tmp_path / "ds.idx").read_bytes()) == previous
