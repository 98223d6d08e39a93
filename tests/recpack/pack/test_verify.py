import pytest

from recpack.format import recordio


@pytest.fixture(scope="module")
def packed(birds, tmp_path_factory):
    from recpack.cli import main as run

    out = tmp_path_factory.mktemp("packed")
    assert run(["list", str(out / "ds"), str(birds), "--train-ratio", "0.75"]) == 0
    assert run(["pack", str(out / "ds"), str(birds), "--resize", "64", "--workers", "1"]) == 0
    return out


def test_verify_reports_counts_and_sizes(packed, recpack):
    result = recpack("verify", packed / "ds_train.rec")
    assert "OK, 36 records (index and sequential read agree)" in result.stdout
    assert "records per label: 0: 9, 1: 9, 2: 9, 3: 9" in result.stdout
    assert "image sizes from 64x" in result.stdout


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda rec: rec.write_bytes(rec.read_bytes() + b"\x01\x02\x03\x04junk"), "bad magic"),
        (lambda rec: rec.write_bytes(rec.read_bytes()[:-100]), "truncated record"),
    ],
)
def test_verify_names_the_first_corrupt_offset(packed, tmp_path, recpack, damage, message):
    for suffix in (".rec", ".idx"):
        (tmp_path / f"x{suffix}").write_bytes((packed / f"ds_train{suffix}").read_bytes())
    damage(tmp_path / "x.rec")
    result = recpack("verify", tmp_path / "x.rec", check=False)
    assert result.returncode == 1 and message in result.stderr and "byte offset" in result.stderr


def test_verify_detects_an_image_that_does_not_decode(packed, tmp_path, recpack):
    with recordio.RecordReader(packed / "ds_train.rec") as reader:
        payloads = [payload for _, payload in reader]
    header, image = recordio.unpack(payloads[3])
    payloads[3] = recordio.pack(header.label, header.id, image[: len(image) // 2])
    with open(tmp_path / "x.rec", "wb") as rec, open(tmp_path / "x.idx", "w") as idx:
        writer = recordio.RecordWriter(rec, idx)
        for payload in payloads:
            writer.write(payload, recordio.unpack(payload)[0].id)
    result = recpack("verify", tmp_path / "x.rec", check=False)
    assert (
        result.returncode == 1
        and "record 4 at byte offset" in result.stderr
        and "does not decode" in result.stderr
    )


def test_verify_checks_ids_against_the_index(packed, tmp_path, recpack):
    (tmp_path / "x.rec").write_bytes((packed / "ds_train.rec").read_bytes())
    lines = (packed / "ds_train.idx").read_text().splitlines()
    key, offset = lines[1].split("\t")
    lines[1] = f"999999\t{offset}"
    (tmp_path / "x.idx").write_text("\n".join(lines) + "\n")
    result = recpack("verify", tmp_path / "x.rec", check=False)
    assert result.returncode == 1 and "index key is 999999" in result.stderr


def test_verify_flags_images_smaller_than_the_training_shape(packed, recpack):
    result = recpack("verify", packed / "ds_train.rec")  # packed at --resize 64
    assert "warning: 36 images are smaller than 224 px on a side" in result.stdout
    assert "--resize 224" in result.stdout
    quiet = recpack("verify", packed / "ds_train.rec", "--min-size", "64")
    assert "warning" not in quiet.stdout
