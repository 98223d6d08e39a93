"""How close packed images are to an ideal resize: im2rec.py's method against recpack's, and the
resampling choices recpack could make after its DCT-scaled decode.

    .venv/bin/python bench/resample_quality.py [--images 100]

The ideal is the full-resolution decode resized with Lanczos to im2rec's output size. Each method's
image is JPEG-encoded at quality 95, as packing does, decoded, and compared with it (PSNR, dB; higher
is closer). Two sets: the bench corpus (bench_pack.py's photo-like JPEGs) and sharp_photo(), the same
scenes with hundreds of thin hard-edged lines, where aliasing shows.
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


def after_dct_decode(data: bytes, size: tuple[int, int], method) -> bytes:
    from PIL import Image

    from recpack.image import transform as imaging

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    scale = imaging._draft(image, "RGB", imaging.dct_eighths(width, height, size))
    small = image.resize(size, method, box=(0, 0, width * scale, height * scale))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=95)
    return out.getvalue()


def compare(blobs: list[bytes]) -> dict[str, list[float]]:
    import cv2
    from PIL import Image

    from recpack.image import transform as imaging

    options = imaging.PackOptions(resize=256, quality=95)
    methods = {
        "bilinear after DCT scaling": Image.Resampling.BILINEAR,
        "area (BOX) after DCT scaling": Image.Resampling.BOX,
        "nearest after DCT scaling": Image.Resampling.NEAREST,
    }
    scores: dict[str, list[float]] = {"im2rec.py (linear from full size)": [], "recpack": []}
    scores.update({name: [] for name in methods})
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "image.jpg")
        for data in blobs:
            full = Image.open(io.BytesIO(data)).convert("RGB")
            size = imaging.output_size(*full.size, options)
            ideal = cv2.cvtColor(
                _array(full.resize(size, Image.Resampling.LANCZOS)), cv2.COLOR_RGB2BGR
            )
            with open(path, "wb") as f:
                f.write(data)
            scores["im2rec.py (linear from full size)"].append(
                psnr(decoded(im2rec_method(data, size)), ideal)
            )
            scores["recpack"].append(psnr(decoded(imaging.transform(path, options)[0]), ideal))
            for name, method in methods.items():
                scores[name].append(psnr(decoded(after_dct_decode(data, size, method)), ideal))
    return scores


def _array(image):
    import numpy as np

    return np.asarray(image)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100, help="images of each set (default 100)")
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
    sharp = []
    for _, width, height, seed in bench_pack.corpus_plan(args.images, 2026):
        out = io.BytesIO()
        synthetic.sharp_photo(width, height, seed).save(out, "JPEG", quality=90)
        sharp.append(out.getvalue())

    results = {"bench corpus": compare(corpus), "sharp lines": compare(sharp)}
    print(
        f"PSNR against a full-resolution Lanczos resize, dB ({args.images} images each; mean / worst)\n"
    )
    print("| method | " + " | ".join(results) + " |")
    print("| --- |" + " ---: |" * len(results))
    for method in results["bench corpus"]:
        cells = [
            f"{statistics.mean(r[method]):.1f} / {min(r[method]):.1f}" for r in results.values()
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
