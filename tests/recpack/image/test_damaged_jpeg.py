"""Damaged JPEG scan data is skipped with its reason; intact files with harmless oddities are packed.

Each damaged file is checked against the oracle first: OpenCV's libjpeg (what im2rec reads with)
must warn about it, so the test is about damage libjpeg itself notices. Most single flipped bits
in a scan do not make libjpeg warn (its Huffman decoding resynchronises): those are not detectable
by decoding and are not claimed here.
"""

import io
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from recpack import synthetic
from recpack.image import transform as imaging

DATA = os.path.join(os.path.dirname(__file__), "data")

# OpenCV prints libjpeg's warnings on the process's stderr (file descriptor 2), one file at a time.
_ORACLE = """
import os, sys, tempfile, cv2
for path in sys.argv[1:]:
    with tempfile.TemporaryFile() as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        image = cv2.imread(path)
        os.dup2(saved, 2)
        err.seek(0)
        text = err.read().decode(errors="replace").strip().replace("\\n", " | ")
    print(("decoded" if image is not None else "none") + "\\t" + text)
"""


def libjpeg_warnings(paths):
    """{path: what OpenCV's libjpeg printed while reading it} (one subprocess for all)."""
    out = subprocess.run(
        [sys.executable, "-c", _ORACLE, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return {path: line.split("\t", 1)[1] for path, line in zip(paths, out, strict=True)}


def _jpeg(progressive=False, restart=True):
    image = synthetic.large_photo(640, 480, seed=11)
    out = io.BytesIO()
    options = {"restart_marker_rows": 1} if restart else {}
    image.save(out, "JPEG", quality=90, progressive=progressive, **options)
    return out.getvalue()


def _scan_start(data):
    """Where the first scan's entropy-coded data begins: after the first SOS segment."""
    sos = data.find(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")


def _markers(data, start):
    """(offset, marker) of every marker in the entropy-coded data from `start`."""
    found, position = [], start
    while (position := data.find(b"\xff", position)) >= 0 and position + 1 < len(data):
        if data[position + 1] not in (0x00, 0xFF):
            found.append((position, data[position + 1]))
        position += 1
    return found


def _flip(data, start, count=6, step=7):
    """`count` bytes from `start` XORed with a pattern that never makes or breaks a marker."""
    damaged = bytearray(data)
    for position in range(start, start + count * step, step):
        if 0xFF not in (damaged[position - 1], damaged[position]):
            damaged[position] ^= 0x5A if damaged[position] ^ 0x5A != 0xFF else 0x11
    return bytes(damaged)


def damaged_files():
    """{name: bytes} of JPEGs whose scan data is damaged in ways libjpeg reports."""
    data = _jpeg()
    scan = _scan_start(data)
    restarts = [p for p, m in _markers(data, scan) if 0xD0 <= m <= 0xD7]
    eoi = data.rfind(b"\xff\xd9")
    progressive = _jpeg(progressive=True, restart=False)
    progressive_scan = _scan_start(progressive)
    return {
        "flipped bytes in the scan": _flip(data, (restarts[5] + restarts[6]) // 2),
        "bytes inserted before a restart marker": data[: restarts[8]]
        + b"\x12\x34\x56"
        + data[restarts[8] :],
        "a restart marker dropped": data[: restarts[3]] + data[restarts[3] + 2 :],
        "bytes dropped across a restart marker": data[: restarts[9] - 30]
        + data[restarts[9] + 10 :],
        "truncated mid-scan, end marker appended": data[: (scan + eoi) // 2] + b"\xff\xd9",
        "flipped bytes in a progressive scan": _flip(
            progressive, (progressive_scan + len(progressive)) // 2, count=8, step=11
        ),
    }


def intact_files():
    """{name: bytes} of JPEGs with harmless oddities: the pixels are those of the clean file."""
    data = _jpeg()
    quantisation = data.find(b"\xff\xdb")
    return {
        "clean, with restart markers": data,
        "junk between header segments": data[:quantisation] + b"junk!" + data[quantisation:],
        "bytes after the end marker": data + b"trailing bytes, as some cameras write" * 4,
        "progressive": _jpeg(progressive=True, restart=False),
    }


@pytest.fixture(scope="module")
def oddities(tmp_path_factory):
    root = tmp_path_factory.mktemp("oddities")
    paths = {}
    for kind, files in (("damaged", damaged_files()), ("intact", intact_files())):
        for number, (name, data) in enumerate(files.items()):
            path = root / "images" / kind / f"{number}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths[path] = (kind, name)
    return root, paths


def test_libjpeg_warns_about_every_damaged_file_and_about_no_intact_scan(oddities):
    _, paths = oddities
    said = libjpeg_warnings(list(paths))
    for path, (kind, name) in paths.items():
        if kind == "damaged":
            assert "Corrupt JPEG data" in said[path], (name, said[path])
        elif name == "junk between header segments":
            assert "extraneous bytes before marker 0xdb" in said[path], said[path]
        else:
            assert said[path] == "", (name, said[path])


def test_damaged_scans_are_skipped_with_libjpegs_reason_and_intact_files_packed(
    oddities, tmp_path, recpack
):
    root, paths = oddities
    recpack("list", tmp_path / "ds", root / "images", "--no-shuffle")
    result = recpack("pack", tmp_path / "ds", root / "images", "--resize", "128")
    rows = (tmp_path / "ds.skipped.tsv").read_text().splitlines()[1:]
    reasons = {line.split("\t")[1]: line.split("\t")[2] for line in rows}
    for path, (kind, name) in paths.items():
        relative = f"{path.parent.name}/{path.name}"
        if kind == "damaged":
            assert reasons.get(relative, "").startswith("damaged JPEG data (libjpeg: Corrupt"), name
            assert result.stderr.count(relative) == 1, name  # one line, naming the file
        else:
            assert relative not in reasons, (name, reasons.get(relative))
    assert f"{len(damaged_files())} skipped" in result.stdout


def test_intact_oddities_decode_to_the_clean_files_pixels(tmp_path):
    clean = None
    for name, data in intact_files().items():
        if name == "progressive":
            continue
        path = tmp_path / "x.jpg"
        path.write_bytes(data)
        packed = imaging.transform(str(path), imaging.PackOptions(resize=128))[0]
        clean = clean or packed
        assert packed == clean, name


def _jpeg_with_broken_exif() -> bytes:
    """A JPEG whose EXIF block names a description 200 bytes long past the block's end."""
    entry = struct.pack("<HHII", 0x010E, 2, 200, 4000)
    tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)
    out = io.BytesIO()
    synthetic.photo(160, 120, seed=3).save(out, "JPEG", quality=90, exif=b"Exif\x00\x00" + tiff)
    return out.getvalue()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_pillows_warnings_are_shown_once_naming_the_file(tmp_path, recpack, workers):
    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=2, classes=["wren", "jay"], seed=5, png_share=0)
    (root / "wren" / "odd_exif.jpg").write_bytes(_jpeg_with_broken_exif())
    (root / "jay" / "odd_exif_too.jpg").write_bytes(_jpeg_with_broken_exif())
    recpack("list", tmp_path / "ds", root, "--no-shuffle")
    result = recpack(
        "pack", tmp_path / "ds", root, "--resize", "64", "--workers", workers, "--min-size", "0"
    )
    lines = result.stderr.splitlines()
    for name in ("wren/odd_exif.jpg", "jay/odd_exif_too.jpg"):
        about = [line for line in lines if name in line]
        assert len(about) == 1, result.stderr
        assert about[0].startswith("recpack: warning: ") and "Skipping tag 270" in about[0]
    assert "Warning:" not in result.stderr and "warnings.warn" not in result.stderr
    assert "Skipping tag" not in "".join(line for line in lines if "odd_exif" not in line)
    assert "6 records, 0 skipped" in result.stdout


def _png_with_bad_text_chunk(before_pixels: bool) -> bytes:
    out = io.BytesIO()
    synthetic.photo(120, 90, seed=4).save(out, "PNG")
    png = out.getvalue()
    text = b"tEXt", b"Comment\x00made by a tool that got the checksum wrong"
    chunk = struct.pack(">I", len(text[1])) + text[0] + text[1]
    chunk += struct.pack(">I", zlib.crc32(text[0] + text[1]) ^ 0xDEAD)
    at = 33 if before_pixels else png.rfind(b"IEND") - 4  # after IHDR, or before IEND
    return png[:at] + chunk + png[at:]


@pytest.mark.parametrize("before_pixels", [True, False], ids=["before-IDAT", "after-IDAT"])
def test_a_png_with_a_bad_ancillary_chunk_is_packed_with_its_pixels(tmp_path, before_pixels):
    path = tmp_path / "x.png"
    path.write_bytes(_png_with_bad_text_chunk(before_pixels))
    assert "CRC error" in libjpeg_warnings([path])[path]  # libpng's warning, via OpenCV
    packed, width, height, notes = imaging.transform(str(path), imaging.PackOptions())
    decoded = np.asarray(Image.open(io.BytesIO(packed)).convert("RGB"), dtype=np.int16)
    original = np.asarray(synthetic.photo(120, 90, seed=4), dtype=np.int16)
    assert (width, height) == (120, 90) and np.abs(decoded - original).mean() < 3
    assert notes == (
        ("an ancillary PNG chunk with a bad checksum was ignored",) if before_pixels else ()
    )


@pytest.mark.parametrize(
    "name, reason",
    [
        ("12bit.jpg", "12-bit JPEG not supported"),
        ("lossless16.jpg", "16-bit lossless JPEG not supported"),
        ("sof5.jpg", "hierarchical (differential) sequential JPEG not supported"),
        ("two_components.jpg", "JPEG with 2 colour components not supported"),
        ("no_frame.jpg", "corrupt JPEG header (no frame header"),
    ],
)
def test_jpeg_kinds_that_cannot_be_read_get_a_precise_reason(tmp_path, name, reason):
    """12-bit and 16-bit lossless files were made with imagecodecs 2026.3.6 (libjpeg-turbo 3.1);
    hierarchical and 2-component headers are a clean file's frame header with its marker or
    component count changed (no tool here writes them). OpenCV reads none of them either."""
    clean = _jpeg()
    sof = clean.find(b"\xff\xc0")
    made = {
        "sof5.jpg": clean[:sof] + b"\xff\xc5" + clean[sof + 2 :],
        "two_components.jpg": clean[: sof + 9] + b"\x02" + clean[sof + 10 :],
        "no_frame.jpg": clean[:sof] + b"\xff\xfe" + clean[sof + 2 :],  # SOF turned into a comment
    }
    path = tmp_path / name
    path.write_bytes(made[name] if name in made else open(os.path.join(DATA, name), "rb").read())
    assert _opencv_cannot_read(path)
    with pytest.raises(imaging.BadImage, match=reason.replace("(", r"\(").replace(")", r"\)")):
        imaging.transform(str(path), imaging.PackOptions(resize=16))


def _opencv_cannot_read(path):
    out = subprocess.run(
        [sys.executable, "-c", f"import cv2; print(cv2.imread({str(path)!r}) is None)"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() == "True"


def test_an_8_bit_lossless_jpeg_is_decoded_at_full_size_never_scaled(tmp_path):
    """simplejpeg 1.9 asked to scale a lossless JPEG writes past its buffer (a crash): recpack
    decodes lossless frames at full size with Pillow and resizes after."""
    path = os.path.join(DATA, "lossless8.jpg")
    packed, width, height, _ = imaging.transform(path, imaging.PackOptions(resize=12))
    assert (width, height) == (16, 12)
    original = Image.open(path).convert("RGB").resize((16, 12), Image.Resampling.LANCZOS)
    decoded = Image.open(io.BytesIO(packed)).convert("RGB")
    assert np.abs(np.asarray(decoded, np.int16) - np.asarray(original, np.int16)).mean() < 4


@pytest.mark.parametrize("subsampling", [0, 1, 2], ids=["4:4:4", "4:2:2", "4:2:0"])
@pytest.mark.parametrize("eighths", [1, 2, 4, 8])  # the scales recpack decodes at
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_libjpeg_turbo_via_simplejpeg_gives_pillows_pixels(tmp_path, subsampling, eighths, mode):
    """The decoder changed, the pixels did not: the im2rec parity tests keep their meaning. TurboJPEG
    refuses subsampled CMYK (libjpeg reads it): those fall back to Pillow's decode."""
    image = synthetic.large_photo(333, 250, seed=eighths).convert(mode)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, subsampling=subsampling)
    data = out.getvalue()
    frame = imaging.read_jpeg_frame(data)
    for colour in (1, 0):
        ours = imaging._decode_jpeg(data, frame, image.size, colour, eighths)
        if mode == "CMYK" and subsampling:
            assert ours is None
            continue
        theirs = Image.open(io.BytesIO(data))
        imaging._draft(theirs, "L" if colour == 0 else "RGB", eighths)
        theirs.load()
        ours = ours.convert(theirs.mode) if ours.mode == "RGBX" else ours
        assert ours.mode == theirs.mode and ours.tobytes() == theirs.tobytes()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40000), st.integers(0, 255), st.sampled_from(["set", "cut"])),
        min_size=1,
        max_size=4,
    )
)
def test_hostile_jpegs_are_packed_or_skipped_never_crash(tmp_path_factory, edits):
    data = bytearray(_small_jpeg())
    for position, value, kind in edits:
        position %= len(data)
        if kind == "set":
            data[position] = value
        else:
            del data[position : position + value]
    path = tmp_path_factory.getbasetemp() / "hostile.jpg"
    path.write_bytes(bytes(data))
    imaging.read_jpeg_frame(bytes(data))
    try:
        imaging.transform(str(path), imaging.PackOptions(resize=24))
    except imaging.BadImage:
        pass


_SMALL = []


def _small_jpeg():
    if not _SMALL:
        out = io.BytesIO()
        synthetic.large_photo(96, 64, seed=2).save(out, "JPEG", quality=85, restart_marker_rows=1)
        _SMALL.append(out.getvalue())
    return _SMALL[0]
