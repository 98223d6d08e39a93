"""Faults of the machine stop the run; only an image's own defects are skipped and tabled.

Real faults, made the ways that work as root too (root reads any file, so chmod proves nothing
here): a class folder replaced by a file, ROOT and the working directory removed under a running
pack, the open-file limit lowered in a subprocess, EIO and MemoryError injected into the workers.
"""

import builtins
import errno
import os
import shutil
import subprocess
import sys

import pytest

from recpack import synthetic
from recpack.cli import main
from recpack.pack import workers
from recpack.pack.packer import MISSING_AT_START

SUFFIXES = (".rec", ".idx", ".skipped.tsv")


@pytest.fixture
def listed(tmp_path):
    """images/ (4 species x 6) listed into ds_train.lst and ds_val.lst; returns (prefix, root)."""
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=6, seed=9, png_share=0)
    prefix = tmp_path / "ds"
    assert main(["list", str(prefix), str(root), "--train-ratio", "0.75"]) == 0
    return prefix, root


def no_output(folder):
    return not [
        p.name for p in folder.iterdir() if p.name.endswith(SUFFIXES) or "recpack-tmp" in p.name
    ]


def one_error_line(err):
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("recpack: error: ") and "skipped" not in err


def test_a_class_folder_replaced_by_a_file_stops_the_run(listed, tmp_path, capsys):
    prefix, root = listed
    shutil.rmtree(root / "0772")
    (root / "0772").write_text("the folder is gone, a file took its name")
    capsys.readouterr()
    assert main(["pack", str(prefix), str(root), "--workers", "2", "--min-size", "0"]) == 1
    err = capsys.readouterr().err
    assert one_error_line(err), err
    assert f"folder {root / '0772'} is not a folder" in err and f"ROOT {str(root)!r}" in err
    assert no_output(tmp_path)


@pytest.mark.parametrize("worker_count", ["1", "2"])
def test_an_io_error_reading_an_image_stops_the_run(
    listed, tmp_path, capsys, monkeypatch, worker_count
):
    prefix, root = listed
    real_open = builtins.open

    def failing_open(file, *args, **kwargs):  # the disk fails on one image
        if str(file).endswith("0794_0003.jpg"):
            raise OSError(errno.EIO, "Input/output error", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing_open)  # forked workers inherit it
    capsys.readouterr()
    code = main(["pack", str(prefix), str(root), "--workers", worker_count, "--min-size", "0"])
    err = capsys.readouterr().err
    assert code == 1 and one_error_line(err), err
    assert "0794_0003.jpg: Input/output error (EIO)" in err
    assert no_output(tmp_path)


def test_running_out_of_memory_stops_the_run(listed, tmp_path, capsys, monkeypatch):
    prefix, root = listed
    real_transform = workers.transform

    def transform(path, options):
        if path.endswith("0842_0001.jpg"):
            raise MemoryError
        return real_transform(path, options)

    monkeypatch.setattr(workers, "transform", transform)
    capsys.readouterr()
    assert main(["pack", str(prefix), str(root), "--workers", "2", "--min-size", "0"]) == 1
    err = capsys.readouterr().err
    assert one_error_line(err) and "out of memory while packing 0842/0842_0001.jpg" in err, err
    assert no_output(tmp_path)


def test_too_many_open_files_stops_the_run(listed, tmp_path):
    prefix, root = listed
    # Two descriptors above what is open once everything is imported: the .rec and the .idx fit,
    # the first image does not.
    script = (
        "import os, resource, sys\n"
        "from recpack.cli import main\n"
        "from recpack.image import transform\n"
        "import recpack.commands.pack, recpack.pack.packer\n"
        "transform.preload()\n"
        "limit = len(os.listdir('/proc/self/fd')) + 2\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        f"sys.exit(main(['pack', {str(prefix)!r}, {str(root)!r}, '--workers', '1', '--min-size', '0']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 1 and one_error_line(result.stderr), result.stderr
    assert "Too many open files (EMFILE): too many open files: raise the limit" in result.stderr
    assert no_output(tmp_path)


def recpack_command(*args):
    return [sys.executable, "-m", "recpack", *map(str, args)]


def test_root_removed_during_the_run_stops_it(tmp_path, linked_dataset, when_writing):
    root = linked_dataset(tmp_path / "images")
    assert main(["list", str(tmp_path / "ds"), str(root)]) == 0
    process, err = when_writing(
        recpack_command("pack", tmp_path / "ds", root, "--resize", "256"),
        ".ds.rec.recpack-tmp.*",
        tmp_path,
        lambda running: running.poll() is None and shutil.rmtree(root),
    )
    assert process.returncode == 1 and one_error_line(err), err
    assert "is missing (was it moved or removed" in err
    assert no_output(tmp_path)


def test_the_working_directory_removed_under_a_running_pack_stops_it(
    tmp_path, linked_dataset, when_writing
):
    work = tmp_path / "work"
    linked_dataset(work / "images")
    assert main(["list", str(work / "ds"), str(work / "images")]) == 0
    process, err = when_writing(
        recpack_command("pack", "ds", "images", "--resize", "256", "--workers", "2"),
        ".ds.rec.recpack-tmp.*",
        work,
        lambda running: running.poll() is None and shutil.rmtree(work),
        cwd=work,
    )
    assert process.returncode == 1 and one_error_line(err), err
    # rm -rf takes the images before the folder itself: either is what the run met first.
    assert "the working directory was removed during the run" in err or (
        "folder images is missing" in err
    )


def test_a_wrong_root_stops_early_naming_root_and_the_first_missing_file(tmp_path, capsys):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=10, seed=4, png_share=0)
    assert main(["list", str(tmp_path / "ds"), str(root)]) == 0
    elsewhere = tmp_path / "elsewhere"
    for folder in root.iterdir():  # the class folders are there, the photos are not
        (elsewhere / folder.name).mkdir(parents=True)
    capsys.readouterr()
    assert main(["pack", str(tmp_path / "ds"), str(elsewhere), "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert one_error_line(err), err  # not a line per image first
    first = (tmp_path / "ds.lst").read_text().splitlines()[0].split("\t")[-1]
    assert f"the first {MISSING_AT_START} images of {tmp_path / 'ds.lst'} are missing" in err
    assert f"ROOT {str(elsewhere)!r} (the first: {elsewhere / first})" in err
    assert no_output(tmp_path)


def test_a_few_missing_files_among_found_ones_are_image_defects(listed, tmp_path, capsys):
    prefix, root = listed
    order = [line.split("\t")[-1] for line in (tmp_path / "ds_train.lst").read_text().splitlines()]
    os.remove(root / order[0])  # the very first, and one later: the folder is fine
    os.remove(root / order[5])
    capsys.readouterr()
    assert main(["pack", str(prefix), str(root), "--workers", "2", "--min-size", "0"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {order[0]}" in err and f"skipped {order[5]}" in err
    table = (tmp_path / "ds_train.skipped.tsv").read_text()
    assert table.count("file not found") == 2


def test_an_unreadable_class_folder_stops_listing(tmp_path, capsys, monkeypatch):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=3, seed=2)
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("0794"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["list", str(tmp_path / "ds"), str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"recpack: error: cannot read folder {root / '0794'}: Permission denied")
    assert not (tmp_path / "ds.lst").exists()
