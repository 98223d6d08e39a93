"""How close packed images are to an ideal resize: im2rec.py's method against recpack's, and the
resampling choices recpack could make after its DCT-scaled decode.

    .venv/bin/python bench/resample_quality.py [--images 100] [--detail-seeds 2]

The ideal is the full-resolution decode resized with Lanczos to im2rec's output size. Each method's
image is JPEG-encoded at quality 95, as packing does, decoded, and compared with it (PSNR, dB; higher
is closer). Sets: the bench corpus (bench_pack.py's photo-like JPEGs), sharp_photo() (the same scenes
with hundreds of thin hard-edged lines), and recpack.synthetic's real-photo-like detail (stripes just
below the output's resolution limit, foliage, stars, thin lines, feather barbs) at CUB-200's 500x375,
~1 MP, 2000x1500 and 12 MP (4000x3000), saved at JPEG quality 92 as a camera would.

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

DETAIL_SIZES = [(500, 375), (1200, 800), (1024, 768), (1400, 1050), (2000, 1500)]
CAMERA_SIZE = (4000, 3000)
IM2REC = "im2rec.py (linear from full size)"
BEFORE = "recpack before (61bf9b4: nearest after DCT scaling)"


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


def after_dct_decode(data: bytes, size: tuple[int, int], method, three_eighths=True) -> bytes:
    """recpack's decode (its DCT scale; Pillow's decoder gives the same pixels), then `method`."""
    from PIL import Image

    from recpack.image import transform as imaging

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    eighths = imaging.dct_eighths(width, height, size, three_eighths)
    scale = imaging._draft(image, "RGB", eighths)
    small = image.resize(size, method, box=(0, 0, width * scale, height * scale))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=95)
    return out.getvalue()


def before_61bf9b4(data: bytes, size: tuple[int, int]) -> bytes:
    """recpack as of 61bf9b4: the smallest DCT scale that covers the output (no headroom), then the
    nearest pixel for a shrink by at most a third after it, bilinear for everything else."""
    from PIL import Image

    from recpack.image import transform as imaging

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    eighths = next(
        (n for n in (1, 2, 3, 4) if width * n // 8 >= size[0] and height * n // 8 >= size[1]), 8
    )
    scale = imaging._draft(image, "RGB", eighths)
    box = (0, 0, width * scale, height * scale)
    ratios = size[0] / box[2], size[1] / box[3]
    mild = scale < 1 and 2 / 3 <= min(ratios) and max(ratios) <= 1
    method = Image.Resampling.NEAREST if mild else Image.Resampling.BILINEAR
    out = io.BytesIO()
    image.resize(size, method, box=box).save(out, "JPEG", quality=95)
    return out.getvalue()


def _methods():
    from PIL import Image

    return {
        "nearest after DCT scaling": Image.Resampling.NEAREST,
        "bilinear after DCT scaling": Image.Resampling.BILINEAR,
        "bicubic after DCT scaling": Image.Resampling.BICUBIC,
        "Lanczos after DCT scaling": Image.Resampling.LANCZOS,
    }


def compare(blobs: list[bytes]) -> dict[str, list[float]]:
    """{method: [PSNR against the ideal, per image]}, im2rec.py's and recpack's included."""
    import cv2
    import numpy as np
    from PIL import Image

    from recpack.image import transform as imaging

    options = imaging.PackOptions(resize=256, quality=95)
    scores: dict[str, list[float]] = {IM2REC: [], "recpack": [], BEFORE: []}
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
            scores[BEFORE].append(psnr(decoded(before_61bf9b4(data, size)), ideal))
            for name, method in _methods().items():
                scores[name].append(psnr(decoded(after_dct_decode(data, size, method)), ideal))
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
