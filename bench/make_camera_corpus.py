"""A second bench corpus that looks more like photos from cameras and photo sites than bench_pack's own.

    .venv/bin/python bench/make_camera_corpus.py [--images 1000] [--out bench/.camera]
    make bench BENCH_ARGS="--root bench/.camera/images"

Seeded, like the default corpus, but mixed the way a downloaded photo collection is: sizes from 800x600
to 2048x1365 (a quarter of them portrait), JPEG quality 80-95, a camera's EXIF block on most (some
marked as rotated, so they decode sideways), an sRGB ICC profile on half, 15% progressive and 15% with
full-resolution colour (4:4:4). Four class folders, as bench_pack's --root expects.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ("0752", "0772", "0794", "0842")
SIZES = ((1024, 683), (1024, 768), (1200, 800), (1280, 853), (800, 600), (1600, 1067), (2048, 1365))


def plan(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    jobs = []
    for number in range(count):
        width, height = rng.choice(SIZES)
        if rng.random() < 0.25:
            width, height = height, width
        cls = CLASSES[number % len(CLASSES)]
        jobs.append(
            {
                "relative": f"{cls}/{cls}_{number:05d}.jpg",
                "width": width,
                "height": height,
                "seed": rng.randrange(1 << 30),
                "class": CLASSES.index(cls),
                "quality": rng.randint(80, 95),
                "exif": rng.random() < 0.8,
                "rotated": rng.random() < 0.1,
                "icc": rng.random() < 0.5,
                "progressive": rng.random() < 0.15,
                "full_chroma": rng.random() < 0.15,
            }
        )
    return jobs


def make(job_and_root) -> None:
    from PIL import Image, ImageCms

    from recpack import synthetic

    job, root = job_and_root
    path = os.path.join(root, job["relative"])
    if os.path.exists(path):
        return
    width, height = job["width"], job["height"]
    stored = (
        (height, width) if job["rotated"] else (width, height)
    )  # stored sideways, EXIF turns it back
    image = synthetic.large_photo(*stored, job["seed"], synthetic._CLASS_COLOURS[job["class"]])
    options = {
        "quality": job["quality"],
        "progressive": job["progressive"],
        "subsampling": 0 if job["full_chroma"] else 2,
    }
    if job["exif"]:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 7D Mark II"
        exif[0x0132] = "2016:05:01 10:00:00"
        exif[0x0112] = 6 if job["rotated"] else 1
        details = exif.get_ifd(0x8769)
        details[0x829A], details[0x829D], details[0x8827] = 1 / 1000, 5.6, 400
        details[0x927C] = bytes(4000)  # a maker note, as cameras write
        options["exif"] = exif
    if job["icc"]:
        options["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path + ".part", "JPEG", **options)
    os.replace(path + ".part", path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="images to make (default 1000)")
    parser.add_argument(
        "--out", default=os.path.join(HERE, ".camera"), help="folder; images go in OUT/images"
    )
    parser.add_argument("--seed", type=int, default=7, help="corpus seed")
    args = parser.parse_args(argv)
    root = os.path.join(os.path.abspath(args.out), "images")
    jobs = [(job, root) for job in plan(args.images, args.seed)]
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        for _ in pool.imap_unordered(make, jobs, chunksize=8):
            pass
    total = sum(os.path.getsize(os.path.join(root, job["relative"])) for job, _ in jobs)
    print(
        f"{len(jobs)} images under {root}: {total / 1e6:.0f} MB, {total / len(jobs) / 1e3:.0f} KB each",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
