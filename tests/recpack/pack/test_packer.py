import os
import signal
import subprocess
import sys

import pytest
from PIL import Image

from recpack import synthetic
from recpack.format import recordio
from recpack.image.transform import PackOptions, output_size


@pytest.mark.parametrize(
    "size, options, expected",
    [
        ((1200, 800), PackOptions(resize=256), (384, 256)),
        ((800, 1201), PackOptions(resize=256), (256, 384)),  # floor(256 * 1201 / 800) = 384
        ((1000, 999), PackOptions(resize=256), (256, 256)),
        ((100, 50), PackOptions(resize=256), (512, 256)),  # upscaled, as im2rec does
        ((1200, 800), PackOptions(resize=224, center_crop=True), (224, 224)),
        ((1200, 800), PackOptions(center_crop=True), (800, 800)),
        ((640, 480), PackOptions(), (640, 480)),
    ],
)
def test_output_size_is_im2recs(size, options, expected):
    assert output_size(*size, options) == expected


def read_ids(rec):
    with recordio.RecordReader(rec) as reader:
        return [recordio.unpack(payload)[0].id for _, payload in reader]


def test_output_bytes_do_not_depend_on_worker_count(birds, tmp_path, recpack):
    recpack("list", tmp_path / "ds", birds, "--train-ratio", "0.75")
    digests = set()
    for workers in (1, 2, 5):
        recpack("pack", tmp_path / "ds", birds, "--resize", "128", "--workers", str(workers))
        digests.add(
            (
                (tmp_path / "ds_train.rec").read_bytes(),
                (tmp_path / "ds_train.idx").read_bytes(),
                (tmp_path / "ds_val.rec").read_bytes(),
            )
        )
    assert len(digests) == 1
    order = [
        int(line.split("\t")[0]) for line in (tmp_path / "ds_train.lst").read_text().splitlines()
    ]
    assert read_ids(tmp_path / "ds_train.rec") == order


@pytest.fixture
def with_bad_images(tmp_path):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=3, classes=["wren"], seed=2, png_share=0)
    good = root / "wren" / "wren_0000.jpg"
    data = good.read_bytes()
    (root / "wren" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "wren" / "empty.jpg").write_bytes(b"")
    (root / "wren" / "text.jpg").write_text("not an image")
    (root / "wren" / "locked.jpg").write_bytes(data)
    os.chmod(root / "wren" / "locked.jpg", 0)
    yield root
    os.chmod(root / "wren" / "locked.jpg", 0o644)


def test_bad_images_are_skipped_named_and_tabled(with_bad_images, tmp_path, recpack):
    root = with_bad_images
    recpack("list", tmp_path / "ds", root, "--no-shuffle", "--allow-single-class")
    result = recpack("pack", tmp_path / "ds", root, "--resize", "64", "--workers", "2")
    reasons = {
        line.split("\t")[1]: line.split("\t")[2]
        for line in (tmp_path / "ds.skipped.tsv").read_text().splitlines()[1:]
    }
    expected = {
        "wren/truncated.jpg": "truncated",
        "wren/empty.jpg": "empty file",
        "wren/text.jpg": "not an image",
    }
    if os.geteuid() != 0:  # root reads mode-0 files
        expected["wren/locked.jpg"] = "permission denied"
    for path, reason in expected.items():
        assert reason in reasons[path]
        assert f"skipped {path}" in result.stderr
    assert f"{len(reasons)} skipped" in result.stdout
    assert len(read_ids(tmp_path / "ds.rec")) == 7 - len(reasons)


def test_on_error_fail_stops_and_leaves_no_output(with_bad_images, tmp_path, recpack):
    recpack("list", tmp_path / "ds", with_bad_images, "--allow-single-class")
    result = recpack("pack", tmp_path / "ds", with_bad_images, "--on-error", "fail", check=False)
    assert result.returncode == 1 and "--on-error fail" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["ds.lst", "ds_labels.tsv"]


def test_malformed_list_is_rejected_before_packing(birds, tmp_path, recpack):
    (tmp_path / "ds.lst").write_text(
        "0\t0.000000\t0752/0752_0000.jpg\n1\tzero\t0752/0752_0001.jpg\n"
    )
    result = recpack("pack", tmp_path / "ds", birds, check=False)
    assert result.returncode == 1
    assert f"{tmp_path / 'ds.lst'}:2: label 'zero'" in result.stderr
    assert not (tmp_path / "ds.rec").exists()


def test_one_list_file_or_a_missing_prefix(birds, tmp_path, recpack):
    recpack("list", tmp_path / "ds", birds, "--train-ratio", "0.5")
    recpack("pack", tmp_path / "ds_val.lst", birds, "--resize", "32")
    assert (tmp_path / "ds_val.rec").exists() and not (tmp_path / "ds_train.rec").exists()
    result = recpack("pack", tmp_path / "nothing", birds, check=False)
    assert result.returncode == 1 and "no list file matches" in result.stderr


def test_pass_through_packs_the_file_bytes(birds, tmp_path, recpack):
    recpack("list", tmp_path / "ds", birds, "--no-shuffle")
    recpack("pack", tmp_path / "ds", birds, "--pass-through")
    first = (tmp_path / "ds.lst").read_text().splitlines()[0].split("\t")[2]
    with recordio.RecordReader(tmp_path / "ds.rec") as reader:
        _, payload = next(iter(reader))
    assert recordio.unpack(payload)[1] == (birds / first).read_bytes()


def test_pass_through_still_refuses_truncated_files(with_bad_images, tmp_path, recpack):
    recpack("list", tmp_path / "ds", with_bad_images, "--allow-single-class")
    recpack("pack", tmp_path / "ds", with_bad_images, "--pass-through")
    assert "truncated.jpg" in (tmp_path / "ds.skipped.tsv").read_text()


def test_pack_label_writes_every_label_column(birds, tmp_path, recpack):
    image = sorted((birds / "0752").iterdir())[0].relative_to(birds)
    (tmp_path / "ml.lst").write_text(f"5\t1.000000\t0.000000\t3.000000\t{image}\n")
    recpack("pack", tmp_path / "ml", birds, "--pack-label", "--resize", "32")
    with recordio.RecordReader(tmp_path / "ml.rec") as reader:
        header, _ = recordio.unpack(next(iter(reader))[1])
    assert (header.flag, header.label, header.id) == (3, (1.0, 0.0, 3.0), 5)
    recpack("pack", tmp_path / "ml", birds, "--resize", "32")
    with recordio.RecordReader(tmp_path / "ml.rec") as reader:
        header, _ = recordio.unpack(next(iter(reader))[1])
    assert (header.flag, header.label) == (0, 1.0)


def test_decompression_bombs_become_a_skip_reason(tmp_path, recpack):
    root = tmp_path / "images" / "wren"
    root.mkdir(parents=True)
    Image.new("L", (12000, 8000)).save(
        root / "bomb.png", optimize=True
    )  # 96 MP > Pillow's 89 MP limit
    synthetic.save(synthetic.photo(64, 48, 1), str(root / "ok.jpg"))
    recpack("list", tmp_path / "ds", tmp_path / "images", "--allow-single-class")
    recpack("pack", tmp_path / "ds", tmp_path / "images", "--resize", "32")
    assert "decompression bomb" in (tmp_path / "ds.skipped.tsv").read_text()


def test_a_killed_run_leaves_no_partial_file_and_the_rerun_cleans_up(
    tmp_path, recpack, linked_dataset, kill_when_writing
):
    root = linked_dataset(tmp_path / "images")
    recpack("list", tmp_path / "ds", root)
    process = kill_when_writing(
        [
            sys.executable,
            "-m",
            "recpack",
            "pack",
            str(tmp_path / "ds"),
            str(root),
            "--resize",
            "256",
            "--workers",
            "2",
        ],
        ".ds.rec.recpack-tmp.*",
        tmp_path,
    )
    assert process.returncode == -signal.SIGKILL, (
        "the run ended before it could be killed mid-write"
    )
    assert not (tmp_path / "ds.rec").exists() and not (tmp_path / "ds.idx").exists()
    assert list(tmp_path.glob(".ds.rec.recpack-tmp.*"))
    recpack("pack", tmp_path / "ds", root, "--resize", "256")
    assert not list(tmp_path.glob(".*recpack-tmp*"))
    first = (tmp_path / "ds.rec").read_bytes()
    recpack("pack", tmp_path / "ds", root, "--resize", "256", "--workers", "1")
    assert (tmp_path / "ds.rec").read_bytes() == first


def test_without_fork_a_spawned_pool_gives_the_same_bytes(birds, tmp_path, monkeypatch):
    """Windows has no fork: recpack falls back to spawned workers with identical output."""
    import multiprocessing

    from recpack.cli import main
    from recpack.pack import packer

    assert main(["list", str(tmp_path / "ds"), str(birds), "--train-ratio", "0.75"]) == 0
    assert main(["pack", str(tmp_path / "ds"), str(birds), "--resize", "96", "--workers", "2"]) == 0
    forked = (tmp_path / "ds_train.rec").read_bytes(), (tmp_path / "ds_train.idx").read_bytes()
    monkeypatch.setattr(packer, "_fork_available", lambda: False)
    spawned_pools = []
    real_get_context = multiprocessing.get_context
    monkeypatch.setattr(
        multiprocessing,
        "get_context",
        lambda method=None: spawned_pools.append(method) or real_get_context(method),
    )
    assert main(["pack", str(tmp_path / "ds"), str(birds), "--resize", "96", "--workers", "2"]) == 0
    assert "spawn" in spawned_pools
    assert (
        (tmp_path / "ds_train.rec").read_bytes(),
        (tmp_path / "ds_train.idx").read_bytes(),
    ) == forked


def test_a_fifo_in_the_list_is_skipped_not_waited_on(birds, tmp_path, recpack):
    root = tmp_path / "images"
    (root / "wren").mkdir(parents=True)
    os.mkfifo(root / "wren" / "pipe.jpg")
    synthetic.save(synthetic.photo(64, 48, 1), str(root / "wren" / "ok.jpg"))
    (tmp_path / "ds.lst").write_text("0\t0.000000\twren/pipe.jpg\n1\t0.000000\twren/ok.jpg\n")
    result = subprocess.run(
        [sys.executable, "-m", "recpack", "pack", str(tmp_path / "ds"), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "not a regular file" in (tmp_path / "ds.skipped.tsv").read_text()


def test_an_unreadable_file_is_skipped_with_its_reason_even_as_root(birds, tmp_path, monkeypatch):
    """Root reads mode-0 files, so the permission error is injected where recpack opens the file."""
    from recpack.cli import main
    from recpack.image import transform as imaging

    assert main(["list", str(tmp_path / "ds"), str(birds), "--no-shuffle"]) == 0
    victim = (tmp_path / "ds.lst").read_text().splitlines()[0].split("\t")[2]
    pil = imaging._pil()
    real_open = pil.open

    def guarded_open(path, *args, **kwargs):
        if str(path).endswith(victim):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(pil, "open", guarded_open)
    assert main(["pack", str(tmp_path / "ds"), str(birds), "--resize", "32", "--workers", "1"]) == 0
    assert f"{victim}\tpermission denied" in (tmp_path / "ds.skipped.tsv").read_text()


@pytest.mark.parametrize("failure, exit_code", [("killed", -signal.SIGKILL), ("bug", 1)])
def test_a_worker_that_dies_stops_the_run_with_its_exit_code_and_no_output(
    birds, tmp_path, monkeypatch, capsys, failure, exit_code
):
    """An out-of-memory kill or a bug in a worker: a one-line error, exit 1, no .rec, the others stopped."""
    from recpack.cli import main
    from recpack.pack import workers

    assert main(["list", str(tmp_path / "ds"), str(birds), "--no-shuffle"]) == 0
    victim = (tmp_path / "ds.lst").read_text().splitlines()[5].split("\t")[2]
    real_pack_one = workers._pack_one

    def dying_pack_one(entry, check_only=False):  # runs in the forked workers
        if entry.path == victim:
            if failure == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            raise AssertionError("a bug outside the per-image error handling")
        return real_pack_one(entry, check_only)

    monkeypatch.setattr(workers, "_pack_one", dying_pack_one)
    assert main(["pack", str(tmp_path / "ds"), str(birds), "--resize", "32", "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert f"a worker process ended (exit code {exit_code}) while packing" in err
    assert not (tmp_path / "ds.rec").exists() and not (tmp_path / "ds.idx").exists()
    assert not [name for name in os.listdir(tmp_path) if "recpack-tmp" in name]


def test_a_full_disk_is_one_line_exit_1_and_no_output(birds, tmp_path, monkeypatch, capsys):
    import errno

    from recpack.cli import main

    assert main(["list", str(tmp_path / "ds"), str(birds), "--no-shuffle"]) == 0

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        os, "write", full_disk
    )  # one worker: every write is the .rec's, in this process
    assert main(["pack", str(tmp_path / "ds"), str(birds), "--resize", "32", "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert (
        f"cannot write {tmp_path / 'ds'}.rec and .idx: No space left on device; no output was written"
        in err
    )
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["ds.lst", "ds_labels.tsv"]
