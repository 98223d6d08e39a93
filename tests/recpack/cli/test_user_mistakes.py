"""The mistakes people make with `recpack`, typed as they type them (a subprocess each): every one is
a single `recpack: error:` line naming what is at fault and what to do, with the documented exit
code (usage mistakes 2, others 1), and no traceback. Files other tools save (CRLF, a byte order
mark, Windows paths) are read, and a genuine im2rec.py command line still works.

Each row: (arguments, exit code, a substring of the error line, or of stdout when the code is 0).
Placeholders: {tmp} a scratch folder (the working directory), {root} a dataset, {prefix} its
lists (ds_train.lst, ds_val.lst, ds_labels.tsv), {rec} a packed ds_train.rec.
"""

import json
import subprocess
import sys

import pytest

from recpack import synthetic

UNWRITABLE = "/sys/recpack-test"  # refused even to root, as a read-only place is

ROWS = [
    # --- commands and options -------------------------------------------------------------------
    (["lsit", "birds", "{root}"], 2, "unknown command 'lsit' (did you mean 'list'?)"),
    (["pakc", "{prefix}", "{root}"], 2, "unknown command 'pakc' (did you mean 'pack'?)"),
    (["verfy", "{rec}"], 2, "unknown command 'verfy' (did you mean 'verify'?)"),
    (["frobnicate"], 2, "unknown command 'frobnicate' (commands: list, pack, verify"),
    (["--verison"], 2, "unknown option '--verison' (did you mean '--version'?)"),
    (["pack", "{prefix}", "{root}", "--reszie", "256"], 2, "unknown option '--reszie' (did you mean '--resize'?)"),
    (["list", "{tmp}/p", "{root}", "--train-ration=0.7"], 2, "(did you mean '--train-ratio'?)"),
    (["list", "{tmp}/p", "{root}", "extra"], 2, "unexpected argument: extra"),
    (["list", "{tmp}/p"], 2, "the following arguments are required: ROOT"),
    # --- a genuine im2rec.py command line still works -------------------------------------------
    (["--list", "--recursive", "--train-ratio", "0.75", "{tmp}/im2rec", "{root}"], 0, "wrote {tmp}/im2rec_train.lst"),
    (["--resize", "224", "--num-thread", "2", "{prefix}", "{root}"], 0, "ds_train.rec: 16 records"),
    (["{prefix}", "{root}", "--quality", "90", "--resize", "224"], 0, "ds_val.rec: 8 records"),
    # --- paths ----------------------------------------------------------------------------------
    (["list", "{tmp}/p", "{tmp}/nowhere"], 1, "ROOT '{tmp}/nowhere' does not exist"),
    (["list", "{tmp}/p", "{tmp}/notes.txt"], 1, "ROOT '{tmp}/notes.txt' is not a folder"),
    (["list", "{tmp}/out/", "{root}"], 1, "PREFIX '{tmp}/out/' names a folder, not a file name prefix"),
    (["list", "{tmp}/notes.txt/p", "{root}"], 1, "cannot create its folder {tmp}/notes.txt"),
    (["list", UNWRITABLE + "/p", "{root}"], 1, f"cannot create its folder {UNWRITABLE}"),
    (["pack", "{tmp}/none", "{root}"], 1, "no list file matches {tmp}/none*.lst; create one first"),
    (["pack", "{prefix}", "{tmp}/nowhere"], 1, "ROOT '{tmp}/nowhere' does not exist"),
    (["verify", "{tmp}/none.rec"], 1, "{tmp}/none.rec: no such file"),
    (["upload", "{tmp}/none", "--bucket", "birds"], 1, "none_train.rec not found; make it with 'recpack list"),
    (["upload", "{tmp}/whole", "--bucket", "birds"], 1, "whole.lst has no train/validation split: list again"),
    (["explore", "{root}", "--out", "{tmp}/notes.txt"], 1, "--out '{tmp}/notes.txt' is a file, not a folder"),
    (["explore", "{root}", "--out", UNWRITABLE], 1, f"--out '{UNWRITABLE}': cannot create or read the folder"),
    (["explore", "."], 1, "the report would be written inside ROOT '.'"),
    (["pipeline", "--bucket", "birds", "--work-dir", "{tmp}/notes.txt"], 1, "--work-dir '{tmp}/notes.txt' is a file"),
    # --- buckets, keys and URLs in the forms people paste them ----------------------------------
    (["upload", "{prefix}", "--bucket", "s3://birds-workshop/"], 2, "give the bucket's name alone: --bucket birds-workshop"),
    (["upload", "{prefix}", "--bucket", "birds-workshop/train/"], 2, "alone: --bucket birds-workshop (key prefixes are"),
    (["upload", "{prefix}", "--bucket", "arn:aws:s3:::birds-workshop"], 2, "alone: --bucket birds-workshop"),
    (["upload", "{prefix}", "--bucket", "https://birds-workshop.s3.amazonaws.com"], 2, "give the bucket's name alone"),
    (["upload", "{prefix}", "--bucket", "Birds_Workshop"], 2, "'Birds_Workshop' is not an S3 bucket name"),
    (["upload", "{prefix}", "--bucket", "birds", "--endpoint-url", "localhost:5000"], 2, "'localhost:5000' is not a URL: give its scheme, e.g. http://localhost:5000"),
    (["upload", "{prefix}", "--bucket", "birds", "--train-prefix", "s3://birds/train/"], 2, "give the key prefix inside the bucket alone"),
    (["pipeline", "--bucket", "birds", "--source-key", "s3://birds/raw/b.zip"], 2, "give the key inside the bucket alone: raw/b.zip"),
    (["verify", "{rec}", "--manifest", "s3://birds"], 1, "s3://birds: expected s3://BUCKET/KEY"),
    (["verify", "{rec}", "--manifest", "birds/manifest.json"], 1, "no such file (a manifest in S3 is given as s3://BUCKET/KEY)"),
    # --- files saved by other tools and platforms -----------------------------------------------
    (["pack", "{tmp}/crlf.lst", "{root}", "--min-size", "0"], 0, "crlf.rec: 2 records, 0 skipped"),
    (["pack", "{tmp}/bom.lst", "{root}", "--min-size", "0"], 0, "bom.rec: 2 records, 0 skipped"),
    (["pack", "{tmp}/windows.lst", "{root}", "--min-size", "0"], 0, "windows.rec: 2 records, 0 skipped"),
    (["pack", "{tmp}/absolute.lst", "{root}"], 1, "absolute.lst:1: path 'C:\\\\birds\\\\0752\\\\0752_0000.jpg': absolute paths are not allowed"),
    (["verify", "{rec}", "--manifest", "{tmp}/package.json"], 1, "not a recpack manifest (no 'train' and 'validation' entries)"),
    (["verify", "{rec}", "--manifest", "{tmp}/notes.txt"], 1, "not valid JSON"),
    # --- values out of range --------------------------------------------------------------------
    (["pack", "{prefix}", "{root}", "--quality", "101"], 2, "argument --quality: 101 is out of range (1..100)"),
    (["pack", "{prefix}", "{root}", "--workers", "0"], 2, "argument --workers/--num-thread: 0 is below 1"),
    (["pack", "{prefix}", "{root}", "--min-size", "-1"], 2, "argument --min-size: -1 is below 0"),
    (["pack", "{prefix}", "{root}", "--resize", "big"], 2, "argument --resize: 'big' is not a whole number"),
    (["list", "{tmp}/p", "{root}", "--train-ratio", "0"], 2, "argument --train-ratio: 0 is outside (0, 1]"),
    (["list", "{tmp}/p", "{root}", "--test-ratio", "1"], 2, "argument --test-ratio: 1 is outside [0, 1)"),
    (["pipeline", "--bucket", "birds", "--train-ratio", "1"], 2, "argument --train-ratio: 1 is outside (0, 1)"),
    (["explore", "{root}", "--thumbnail-size", "4"], 2, "argument --thumbnail-size: 4 is out of range (16..1024)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A working folder with a dataset, its lists and a packed train .rec, and odd files."""
    tmp = tmp_path_factory.mktemp("mistakes")
    root = tmp / "images"
    synthetic.folder_dataset(str(root), per_class=6, seed=21, png_share=0)
    for command in (
        ["list", tmp / "ds", root, "--train-ratio", "0.75"],
        ["pack", tmp / "ds", root, "--resize", "224"],
        ["list", tmp / "whole", root],
    ):
        completed = subprocess.run(
            [sys.executable, "-m", "recpack", *map(str, command)], capture_output=True
        )
        assert completed.returncode == 0, completed.stderr
    (tmp / "notes.txt").write_text("my notes")
    (tmp / "package.json").write_text(json.dumps({"name": "not-a-manifest", "version": "1.0.0"}))
    lines = ["0\t0.000000\t0752/0752_0000.jpg", "1\t1.000000\t0772/0772_0000.jpg"]
    (tmp / "crlf.lst").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (tmp / "bom.lst").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    (tmp / "windows.lst").write_text(
        "\r\n".join(line.replace("/", "\\") for line in lines) + "\r\n"
    )
    (tmp / "absolute.lst").write_text("0\t0\tC:\\birds\\0752\\0752_0000.jpg\n")
    return tmp


@pytest.mark.parametrize("argv, code, expected", ROWS, ids=[" ".join(row[0])[:60] for row in ROWS])
def test_a_mistake_is_one_line_with_its_exit_code(place, argv, code, expected):
    values = {
        "tmp": place,
        "root": place / "images",
        "prefix": place / "ds",
        "rec": place / "ds_train.rec",
    }
    arguments = [argument.format(**values) for argument in argv]
    completed = subprocess.run(
        [sys.executable, "-m", "recpack", *arguments], cwd=place, capture_output=True, text=True
    )
    expected = expected.format(**values)
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == code, completed.stderr
    if code == 0:
        assert expected in completed.stdout, completed.stdout + completed.stderr
        return
    errors = [line for line in completed.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("recpack: error: "), completed.stderr
    assert expected in errors[0], errors[0]
