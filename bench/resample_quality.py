"""How close packed images are to an ideal resize: im2rec.py's method against recpack's, and the
resampling choices recpack could make after its DCT-scaled decode.

    .venv/bin/python bench/resample_quality.py [--images 100] [--detail-seeds 2]

The ideal is the full-resolution decode resized with Lanczos to im2rec's output size. Each method's
image is JPEG-encoded at quality 95, as packing does, decoded, and compared with it (PSNR, dB; higher
is closer). Sets: the bench corpus (bench_pack.py's photo-like JPEGs), sharp_photo() (the same scenes
with hundreds of thin hard-edged lines), and recpack.synthetic's real-photo-like detail (stripes just
below the output's resolution limit, foliage, stars, thin lines, feather barbs) at CUB-200's 500x375,
~1 MP (1001x751 and 1503x1127 among them), 2000x1500 and 12 MP (4000x3000), saved at JPEG quality 92
as a camera would.

For each set and method: mean / worst PSNR, and the worst per-image margin against im2rec.py
(method's PSNR minus im2rec.py's on the same image; recpack's requirement is >= -0.5 dB).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_pack  # noqa: E402  (the corpus)

# Odd sizes too: their scaled decodes end in part of a pixel, which a resize must not round away.
DETAIL_SIZES = [
    (500, 375),
    (1200, 800),
    (1024, 768),
    (1400, 1050),
    (2000, 1500),
    (1001, 751),
    (1503, 1127),
]
CAMERA_SIZE = (4000, 3000)
IM2REC = "im2rec.py (linear from full size)"
BEFORE = "recpack at 61bf9b4 (nearest after DCT scaling)"
LANCZOS_3_8 = "recpack at 4584805 (Lanczos after DCT scaling, 3/8 too)"


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def decoded(data: bytes):
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def im2rec_method(data: bytes, size: tuple[int, int]) -> bytes:
    """tools/im2rec.py's image_encode: cv2.imread, cv2.resize (linear), cv2.imencode at quality 95."""
    import cv2

    image = cv2.resize(decoded(data), size)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def scaled_decode(data: bytes, eighths: int):
    """The JPEG decoded by libjpeg-turbo (simplejpeg, as recpack decodes) at eighths/8 of its size,
    as a Pillow RGB image, and the box of the decoded picture that the whole image maps to."""
    import simplejpeg
    from PIL import Image

    height, width = simplejpeg.decode_jpeg_header(data)[:2]
    scaled = {}
    if eighths < 8:
        scaled = {"min_width": -(-width * eighths // 8), "min_height": -(-height * eighths // 8)}
    pixels = simplejpeg.decode_jpeg(data, "RGB", **scaled)
    return Image.fromarray(pixels), (0, 0, width * eighths / 8, height * eighths / 8)


def _scale(data: bytes, size: tuple[int, int], choice: str) -> int:
    """The DCT scale in eighths: recpack's ("now": 1/8, 1/4, 1/2 with 1.1x headroom), 4584805's
    (3/8 as well, with headroom) or 61bf9b4's (3/8 as well, no headroom)."""
    import simplejpeg

    from recpack.image import transform as imaging

    height, width = simplejpeg.decode_jpeg_header(data)[:2]
    headroom = {"now": imaging.DCT_HEADROOM, "4584805": imaging.DCT_HEADROOM, "61bf9b4": 1.0}[
        choice
    ]
    scales = (1, 2, 4) if choice == "now" else (1, 2, 3, 4)
    return next(
        (
            n
            for n in scales
            if width * n // 8 >= size[0] * headroom and height * n // 8 >= size[1] * headroom
        ),
        8,
    )


def _jpeg_bytes(picture) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95)
    return out.getvalue()


def pillow_step(method, choice: str = "now"):
    """A DCT-scaled decode at `choice`'s scale, then Pillow's resize with `method`."""

    def run(data: bytes, size: tuple[int, int]) -> bytes:
        picture, box = scaled_decode(data, _scale(data, size, choice))
        return _jpeg_bytes(picture.resize(size, method, box=box))

    return run


def opencv_cubic(data: bytes, size: tuple[int, int]) -> bytes:
    """recpack's last step after its DCT-scaled decode, full-size decodes included."""
    import numpy as np

    from recpack.image import transform as imaging

    eighths = _scale(data, size, "now")
    picture, box = scaled_decode(data, eighths)
    small = imaging.resample(picture, size, box, eighths < 8, np.asarray(picture))
    return _jpeg_bytes(small)


def before_61bf9b4(data: bytes, size: tuple[int, int]) -> bytes:
    """recpack as of 61bf9b4: the smallest DCT scale that covers the output (3/8 too, no headroom),
    then the nearest pixel for a shrink by at most a third after it, bilinear for everything else."""
    from PIL import Image

    eighths = _scale(data, size, "61bf9b4")
    picture, box = scaled_decode(data, eighths)
    ratios = size[0] / box[2], size[1] / box[3]
    mild = eighths < 8 and 2 / 3 <= min(ratios) and max(ratios) <= 1
    method = Image.Resampling.NEAREST if mild else Image.Resampling.BILINEAR
    return _jpeg_bytes(picture.resize(size, method, box=box))


def _methods():
    from PIL import Image

    R = Image.Resampling
    return {
        BEFORE: before_61bf9b4,
        LANCZOS_3_8: pillow_step(R.LANCZOS, "4584805"),
        "nearest after DCT scaling": pillow_step(R.NEAREST),
        "bilinear (Pillow) after DCT scaling": pillow_step(R.BILINEAR),
        "bicubic (Pillow) after DCT scaling": pillow_step(R.BICUBIC),
        "Lanczos (Pillow) after DCT scaling": pillow_step(R.LANCZOS),
        "cubic (OpenCV, exact scale) after DCT scaling": opencv_cubic,
    }


def compare(blobs: list[bytes]) -> dict[str, list[float]]:
    """{method: [PSNR against the ideal, per image]}, im2rec.py's and recpack's included."""
    import cv2
    import numpy as np
    from PIL import Image

    from recpack.image import transform as imaging

    options = imaging.PackOptions(resize=256, quality=95)
    scores: dict[str, list[float]] = {IM2REC: [], "recpack": []}
    scores.update({name: [] for name in _methods()})
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "image.jpg")
        for data in blobs:
            full = Image.open(io.BytesIO(data)).convert("RGB")
            size = imaging.output_size(*full.size, options)
            ideal = cv2.cvtColor(
                np.asarray(full.resize(size, Image.Resampling.LANCZOS)), cv2.COLOR_RGB2BGR
            )
            with open(path, "wb") as f:
                f.write(data)
            scores[IM2REC].append(psnr(decoded(im2rec_method(data, size)), ideal))
            scores["recpack"].append(psnr(decoded(imaging.transform(path, options)[0]), ideal))
            for name, method in _methods().items():
                scores[name].append(psnr(decoded(method(data, size)), ideal))
    return scores


def _jpeg(image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def detail_sets(seeds: int) -> dict[str, list[bytes]]:
    from recpack import synthetic

    sets = {}
    for kind, make in synthetic.REAL_PHOTO_LIKE.items():
        blobs = [_jpeg(make(*size, seed), 92) for seed in range(seeds) for size in DETAIL_SIZES]
        blobs.append(_jpeg(make(*CAMERA_SIZE, seeds), 92))
        sets[kind] = blobs
    return sets


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        "| set | images | method | mean dB | worst dB | worst margin vs im2rec.py |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for set_name, scores in results.items():
        reference = scores[IM2REC]
        for method, values in scores.items():
            margin = min(v - r for v, r in zip(values, reference, strict=True))
            shown = "" if method == IM2REC else f"{margin:+.2f}"
            lines.append(
                f"| {set_name} | {len(values)} | {method} | {statistics.mean(values):.1f} "
                f"| {min(values):.1f} | {shown} |"
            )
            set_name = ""
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100, help="bench corpus images (default 100)")
    parser.add_argument(
        "--detail-seeds",
        type=int,
        default=2,
        help="images per size of each detail kind (default 2)",
    )
    parser.add_argument(
        "--corpus", default=os.path.join(HERE, ".corpus"), help="bench_pack.py's corpus folder"
    )
    args = parser.parse_args(argv)
    from recpack import synthetic

    relatives = bench_pack.make_corpus(args.corpus, args.images, 2026, os.cpu_count() or 1)
    corpus = []
    for relative in relatives:
        with open(os.path.join(args.corpus, "images", relative), "rb") as f:
            corpus.append(f.read())
    sharp = [
        _jpeg(synthetic.sharp_photo(width, height, seed), 90)
        for _, width, height, seed in bench_pack.corpus_plan(args.images, 2026)
    ]
    sets = {"bench corpus": corpus, "sharp lines": sharp, **detail_sets(args.detail_seeds)}
    results = {name: compare(blobs) for name, blobs in sets.items()}
    print("PSNR against a full-resolution Lanczos resize, dB\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
