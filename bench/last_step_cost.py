"""What each choice of decode scale and last resize step costs per image, in one process.

    .venv/bin/python bench/last_step_cost.py [--images 100] [--rounds 3]

On bench_pack.py's corpus (~1 MP JPEGs packed at 256 px), every variant runs in turn on each image and
the minimum of --rounds is kept (a busy machine slows single runs, not the minimum), as CPU time of this
process. Decodes are recpack's (libjpeg-turbo through simplejpeg, strict); the encode is Pillow's
JPEG at quality 95. Resamplers that are not installed (cykooz-resizer, pyvips) are left out.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_pack  # noqa: E402  (the corpus)


def _decode(data: bytes, eighths: int):
    import simplejpeg

    height, width = simplejpeg.decode_jpeg_header(data)[:2]
    scaled = {"min_width": -(-width * eighths // 8), "min_height": -(-height * eighths // 8)}
    return simplejpeg.decode_jpeg(data, "RGBX", strict=True, **scaled)


def _steps():
    """{name: (eighths rule, step(pixels, target, box))}; eighths rule 3 = 4584805's choice (3/8 when
    it keeps the headroom), 4 = recpack's now (never 3/8)."""
    import cv2
    from PIL import Image

    from recpack.image import transform as imaging

    cv2.setNumThreads(0)

    def picture(pixels):
        return Image.frombuffer("RGBX", pixels.shape[1::-1], pixels, "raw", "RGBX", 0, 1)

    def pillow(method):
        return lambda pixels, target, box: picture(pixels).resize(target, method, box=box)

    steps = {
        "nearest (61bf9b4)": (3, pillow(Image.Resampling.NEAREST)),
        "Lanczos, Pillow (4584805)": (3, pillow(Image.Resampling.LANCZOS)),
        "Lanczos, Pillow": (4, pillow(Image.Resampling.LANCZOS)),
        "cubic, OpenCV, exact scale (chosen)": (
            4,
            lambda pixels, target, box: imaging.resample(
                picture(pixels), target, box, True, pixels
            ),
        ),
        "cubic, OpenCV, whole-pixel sizes (inexact)": (
            4,
            lambda pixels, target, box: cv2.resize(pixels, target, interpolation=cv2.INTER_CUBIC),
        ),
    }
    try:
        import cykooz_resizer as cr
        from cykooz_resizer.rust_lib import PilImageWrapper

        resizer = cr.Resizer()._rust_resizer
        lanczos3 = cr.ResizeOptions(resize_alg=cr.ResizeAlg.convolution(cr.FilterType.lanczos3))

        def cykooz(pixels, target, box):
            # Zero-copy through Pillow's image memory (RGBA with the alpha left alone).
            source = Image.frombuffer("RGBA", pixels.shape[1::-1], pixels, "raw", "RGBA", 0, 1)
            buffer = bytearray(target[0] * target[1] * 4)
            out = Image.frombuffer("RGBA", target, buffer, "raw", "RGBA", 0, 1)
            options = lanczos3.copy()
            options.crop_box = cr.CropBox(box[0], box[1], box[2] - box[0], box[3] - box[1])
            resizer.resize_pil(PilImageWrapper(source), PilImageWrapper(out), options.rust_options)
            return Image.frombuffer("RGBX", target, buffer, "raw", "RGBX", 0, 1)

        steps["Lanczos, cykooz-resizer (fast_image_resize, AVX2)"] = (4, cykooz)
    except ImportError:
        pass
    try:
        import pyvips

        pyvips.cache_set_max(0)

        def vips(pixels, target, box):
            image = pyvips.Image.new_from_memory(
                pixels.data, pixels.shape[1], pixels.shape[0], 4, "uchar"
            )
            out = image.reduce(box[2] / target[0], box[3] / target[1], kernel="lanczos3")
            return Image.frombuffer("RGBX", target, out.write_to_memory(), "raw", "RGBX", 0, 1)

        steps["Lanczos, libvips (pyvips)"] = (4, vips)
    except (ImportError, OSError):
        pass
    return steps


def _eighths(width: int, height: int, target: tuple[int, int], scales: tuple[int, ...]) -> int:
    from recpack.image.transform import DCT_HEADROOM

    return next(
        (
            n
            for n in scales
            if width * n // 8 >= target[0] * DCT_HEADROOM
            and height * n // 8 >= target[1] * DCT_HEADROOM
        ),
        8,
    )


DECODES = {
    3: ("decode, 3/8 allowed (4584805)", (1, 2, 3, 4)),
    4: ("decode, 1/8-1/2 (now)", (1, 2, 4)),
}


def _timed(best: dict[str, float], name: str, function, *arguments, **keywords):
    """function(*arguments, **keywords), its CPU time kept in best[name] if it is the least yet."""
    started = time.process_time()
    result = function(*arguments, **keywords)
    spent = time.process_time() - started
    best[name] = min(best.get(name, spent), spent)
    return result


def measure(blobs: list[bytes], rounds: int) -> dict[str, float]:
    """{step: CPU ms per image}, each image's minimum over `rounds`."""
    import numpy as np
    import simplejpeg
    from PIL import Image

    from recpack.image import transform as imaging

    steps = _steps()
    options = imaging.PackOptions(resize=256, quality=95)
    totals: dict[str, float] = {}
    for data in blobs:
        height, width = simplejpeg.decode_jpeg_header(data)[:2]
        target = imaging.output_size(width, height, options)
        best: dict[str, float] = {}
        timed = functools.partial(_timed, best)
        for _ in range(rounds):
            decoded = {}
            for rule, (label, scales) in DECODES.items():
                n = _eighths(width, height, target, scales)
                decoded[rule] = (timed(label, _decode, data, n), n)
            for name, (rule, step) in steps.items():
                pixels, n = decoded[rule]
                small = timed(name, step, pixels, target, (0, 0, width * n / 8, height * n / 8))
            if not isinstance(small, Image.Image):
                small = Image.fromarray(np.ascontiguousarray(small[:, :, :3]))
            timed("encode, Pillow q95", small.save, io.BytesIO(), "JPEG", quality=95)
        for name, spent in best.items():
            totals[name] = totals.get(name, 0.0) + spent
    return {name: 1000 * total / len(blobs) for name, total in totals.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", default=os.path.join(HERE, ".corpus"))
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as recpack's workers import numpy
    relatives = bench_pack.make_corpus(args.corpus, 1000, 2026, os.cpu_count() or 1)
    every = max(1, len(relatives) // args.images)
    blobs = []
    for relative in relatives[::every][: args.images]:
        with open(os.path.join(args.corpus, "images", relative), "rb") as f:
            blobs.append(f.read())
    per_image = measure(blobs, args.rounds)
    print(f"{len(blobs)} images, min of {args.rounds} rounds, CPU ms per image\n")
    print("| step | ms |\n| --- | ---: |")
    for name, ms in per_image.items():
        print(f"| {name} | {ms:.2f} |")
    print("\n| decode + last step + encode | ms | vs nearest (61bf9b4) |\n| --- | ---: | ---: |")
    base = None
    for name, (rule, _) in _steps().items():
        total = per_image[DECODES[rule][0]] + per_image[name] + per_image["encode, Pillow q95"]
        base = base or total
        print(f"| {name} | {total:.2f} | {total / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
