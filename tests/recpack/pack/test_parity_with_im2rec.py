"""recpack against the reference: MXNet 1.9.1's tools/im2rec.py run on the same images."""

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from recpack import synthetic
from recpack.format import recordio

pytestmark = pytest.mark.oracle


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def records(rec_path):
    """{id: (header, decoded image as OpenCV reads it)} for every record of a .rec."""
    out = {}
    with recordio.RecordReader(rec_path) as reader:
        for _, payload in reader:
            header, data = recordio.unpack(payload)
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            out[header.id] = (header, image)
    return out


def assert_same_images(ours_rec, theirs_rec, min_psnr=30.0):
    ours, theirs = records(ours_rec), records(theirs_rec)
    assert ours.keys() == theirs.keys()
    worst = float("inf")
    for key, (their_header, their_image) in theirs.items():
        our_header, our_image = ours[key]
        assert our_header == their_header
        assert our_image.shape == their_image.shape, key
        worst = min(worst, psnr(our_image, their_image))
    assert worst >= min_psnr, f"worst PSNR {worst:.1f} dB"
    return worst


def test_no_stratify_lists_are_im2rec_lists_line_for_line(birds, tmp_path, im2rec, recpack):
    im2rec(
        "--list",
        "--recursive",
        "--train-ratio",
        "0.75",
        "--test-ratio",
        "0.1",
        tmp_path / "ref",
        birds,
    )
    recpack(
        "list",
        tmp_path / "ours",
        birds,
        "--train-ratio",
        "0.75",
        "--test-ratio",
        "0.1",
        "--no-stratify",
    )
    for split in ("train", "val", "test"):
        assert (tmp_path / f"ours_{split}.lst").read_bytes() == (
            tmp_path / f"ref_{split}.lst"
        ).read_bytes()


def test_im2rec_command_line_works_with_the_program_name_replaced(birds, tmp_path, im2rec, recpack):
    im2rec("--list", "--recursive", tmp_path / "ref", birds)
    recpack("--list", "--recursive", "--no-stratify", tmp_path / "ours", birds)
    assert (tmp_path / "ours.lst").read_bytes() == (tmp_path / "ref.lst").read_bytes()
    recpack("--resize", "64", "--num-thread", "2", tmp_path / "ours", birds)
    assert (tmp_path / "ours.rec").stat().st_size > 0


@pytest.mark.parametrize(
    "options",
    [
        ["--resize", "256"],
        ["--resize", "96", "--center-crop"],
        ["--resize", "600"],  # upscaling, which im2rec does too
        ["--center-crop"],
        ["--resize", "128", "--color", "0"],
        ["--resize", "128", "--encoding", ".png", "--quality", "3"],
    ],
    ids=["resize256", "crop96", "upscale600", "crop-only", "grey", "png"],
)
def test_packed_images_match_im2rec(birds, tmp_path, im2rec, recpack, options):
    recpack("list", tmp_path / "ds", birds, "--train-ratio", "0.75")
    shutil.copy(tmp_path / "ds_train.lst", tmp_path / "ref_train.lst")
    im2rec(*options, "--num-thread", "2", tmp_path / "ref", birds)
    recpack("pack", tmp_path / "ds", birds, *options)
    assert_same_images(tmp_path / "ds_train.rec", tmp_path / "ref_train.rec")


_XMP_ROTATED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


def _exif_rotated(path, orientation, image_format="JPEG", **save_options):
    image = synthetic.photo(300, 200, seed=orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, image_format, exif=exif, **save_options)


def _special_images(folder):
    """Images whose orientation, colour model or bit depth im2rec (OpenCV) treats specially."""
    folder.mkdir(parents=True)
    for orientation in (3, 6, 8):
        _exif_rotated(folder / f"exif{orientation}.jpg", orientation, quality=92)
    # OpenCV turns PNGs and TIFFs (Pillow turns TIFFs itself) but not WebPs, and never reads XMP's.
    _exif_rotated(folder / "exif6.png", 6, "PNG")
    _exif_rotated(folder / "exif6.tif", 6, "TIFF")
    _exif_rotated(folder / "exif7.webp", 7, "WEBP", lossless=True)
    synthetic.photo(300, 200, seed=5).save(folder / "xmp6.jpg", quality=92, xmp=_XMP_ROTATED)
    camera = Image.Exif()
    camera[0x010F] = "Canon"  # EXIF without an orientation, beside XMP with one
    synthetic.photo(300, 200, seed=6).save(
        folder / "xmp6_exif.jpg", quality=92, xmp=_XMP_ROTATED, exif=camera
    )
    base = synthetic.photo(280, 210, seed=3)
    base.convert("L").save(folder / "grey.jpg", quality=92)
    base.convert("CMYK").save(folder / "cmyk.jpg", quality=92)
    grey16 = np.asarray(base.convert("L"), dtype=np.uint16) * 257 + 100
    cv2.imwrite(str(folder / "grey16.png"), grey16)
    rgb16 = np.asarray(base, dtype=np.uint16)[:, :, ::-1] * 257
    cv2.imwrite(str(folder / "rgb16.png"), rgb16)
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    rgba.save(folder / "rgba.png")
    palette = base.quantize(64)
    palette.info["transparency"] = 0
    palette.save(folder / "palette.png", transparency=0)
    synthetic.photo(90, 60, seed=4).save(folder / "tiny.jpg", quality=92)
    Image.new("1", (120, 80), 1).save(folder / "bilevel.png")
    base.save(folder / "progressive.jpg", quality=90, progressive=True)


@pytest.mark.parametrize(
    "options",
    [["--resize", "100"], ["--resize", "100", "--color", "0"], []],
    ids=["colour", "grey", "full-size"],
)
def test_orientation_colour_model_and_bit_depth_follow_opencv(tmp_path, im2rec, recpack, options):
    root = tmp_path / "special"
    _special_images(root / "all")
    recpack(
        "list",
        tmp_path / "ds",
        root,
        "--no-shuffle",
        "--allow-single-class",
        "--exts",
        ".jpg",
        ".png",
        ".tif",
        ".webp",
    )
    shutil.copy(tmp_path / "ds.lst", tmp_path / "ref.lst")
    im2rec(*options, tmp_path / "ref", root)
    recpack("pack", tmp_path / "ds", root, *options)
    assert_same_images(tmp_path / "ds.rec", tmp_path / "ref.rec")


def test_mxnet_reads_our_files_and_we_read_mxnets(birds, tmp_path, recpack):
    import mxnet as mx

    recpack("list", tmp_path / "ds", birds, "--train-ratio", "0.75")
    recpack("pack", tmp_path / "ds", birds, "--resize", "256")
    entries = {
        int(line.split("\t")[0]): float(line.split("\t")[1])
        for line in (tmp_path / "ds_train.lst").read_text().splitlines()
    }
    reader = mx.recordio.MXIndexedRecordIO(
        str(tmp_path / "ds_train.idx"), str(tmp_path / "ds_train.rec"), "r"
    )
    assert sorted(reader.keys) == sorted(entries)
    for key in reader.keys:
        header, image = mx.recordio.unpack_img(reader.read_idx(key))
        assert header.id == key and header.label == entries[key]
        assert min(image.shape[:2]) == 256
    reader.close()

    # The algorithm reads training data this way.
    iterator = mx.io.ImageRecordIter(
        path_imgrec=str(tmp_path / "ds_train.rec"),
        data_shape=(3, 224, 224),
        batch_size=1,
        shuffle=False,
    )
    labels = []
    for batch in iterator:
        labels.extend(batch.label[0].asnumpy()[: batch.data[0].shape[0] - batch.pad].tolist())
    order = [
        float(line.split("\t")[1]) for line in (tmp_path / "ds_train.lst").read_text().splitlines()
    ]
    assert labels == order

    # And the other way: records MXNet wrote, including payloads holding the magic word.
    writer = mx.recordio.MXIndexedRecordIO(str(tmp_path / "mx.idx"), str(tmp_path / "mx.rec"), "w")
    payloads = {
        0: b"plain",
        1: recordio.MAGIC_BYTES * 3 + b"xy",
        2: b"ab" + recordio.MAGIC_BYTES + b"cd" * 9,
        3: b"",
        4: b"\0" * 4 + recordio.MAGIC_BYTES,
    }
    for key, payload in payloads.items():
        writer.write_idx(key, payload)
    writer.close()
    index = dict(recordio.read_index(tmp_path / "mx.idx"))
    with recordio.RecordReader(tmp_path / "mx.rec") as ours:
        for key, payload in payloads.items():
            assert ours.read_at(index[key])[0] == payload
    # ...and our writer produces MXNet's exact bytes for them.
    with open(tmp_path / "ours.rec", "wb") as rec, open(tmp_path / "ours.idx", "w") as idx:
        writer = recordio.RecordWriter(rec, idx)
        for key, payload in payloads.items():
            writer.write(payload, key)
    assert (tmp_path / "ours.rec").read_bytes() == (tmp_path / "mx.rec").read_bytes()
    assert (tmp_path / "ours.idx").read_text() == (tmp_path / "mx.idx").read_text()


def test_multi_label_records_match_mxnet_pack(tmp_path):
    import mxnet as mx

    header = mx.recordio.IRHeader(0, [1.0, 2.5, 3.0], 42, 0)
    assert recordio.pack([1.0, 2.5, 3.0], 42, b"img") == mx.recordio.pack(header, b"img")
    assert recordio.pack(7.0, 9, b"img") == mx.recordio.pack(
        mx.recordio.IRHeader(0, 7.0, 9, 0), b"img"
    )
    parsed, body = recordio.unpack(mx.recordio.pack(header, b"img"))
    assert (
        parsed.flag == 3 and parsed.label == (1.0, 2.5, 3.0) and parsed.id == 42 and body == b"img"
    )


def test_engine_im2rec_runs_mxnets_tool_with_the_same_arguments(birds, tmp_path, recpack):
    recpack("list", tmp_path / "ds", birds, "--train-ratio", "0.75")
    recpack(
        "pack", tmp_path / "ds", birds, "--resize", "64", "--engine", "im2rec", "--workers", "2"
    )
    shutil.copy(tmp_path / "ds_train.rec", tmp_path / "by_im2rec.rec")
    recpack("pack", tmp_path / "ds", birds, "--resize", "64")
    assert_same_images(tmp_path / "ds_train.rec", tmp_path / "by_im2rec.rec")


def test_resized_images_are_closer_to_a_full_resolution_resize_than_im2recs(
    tmp_path, im2rec, recpack
):
    """Quality guard for recpack's shortcuts (DCT-scaled decode, cubic interpolation for the last
    shrink): on sharp thin lines, where aliasing shows, each image is at least as close to a
    full-resolution Lanczos resize as im2rec.py's own (bilinear from full size)."""
    root = tmp_path / "sharp"
    (root / "lines").mkdir(parents=True)
    # ~1 MP photos (DCT-scaled decode, then cubic interpolation) and CUB-200-sized ones (full-size decode).
    for seed, size in enumerate(
        [(1150, 760), (760, 1150), (1300, 900), (1000, 700), (500, 375), (375, 500)]
    ):
        synthetic.sharp_photo(*size, seed).save(root / "lines" / f"{seed}.jpg", quality=90)
    recpack("list", tmp_path / "ds", root, "--no-shuffle", "--allow-single-class")
    shutil.copy(tmp_path / "ds.lst", tmp_path / "ref.lst")
    im2rec("--resize", "256", tmp_path / "ref", root)
    recpack("pack", tmp_path / "ds", root, "--resize", "256")
    ours, theirs = records(tmp_path / "ds.rec"), records(tmp_path / "ref.rec")
    for line in (tmp_path / "ds.lst").read_text().splitlines():
        key, _, relative = line.split("\t")
        full = Image.open(root / relative).convert("RGB")
        ideal = np.asarray(full.resize(ours[int(key)][1].shape[1::-1], Image.Resampling.LANCZOS))[
            :, :, ::-1
        ]
        assert psnr(ours[int(key)][1], ideal) >= psnr(theirs[int(key)][1], ideal), relative
