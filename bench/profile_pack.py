"""Where `recpack pack` spends its time: py-spy samples of the parent and the workers, by stage.

    .venv/bin/python bench/profile_pack.py [--images 1000] [--workers 2] [--raw FILE]

Runs `recpack pack --resize 256 --quality 95` on the benchmark corpus (make it first with
bench/bench_pack.py) under `py-spy record --subprocesses --native` and sorts every sample into a
stage by the frames on its stack. py-spy leaves out idle samples, so the parent's share is its CPU use.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_pack  # noqa: E402  (the corpus and list helpers)

# First match wins: a sample in the decoder also has transform() and _serve() on its stack.
STAGES = [
    (
        "decode (libjpeg-turbo, DCT-scaled)",
        (
            "_decode_jpeg_pixels (recpack/image/transform.py",
            "_load (recpack/image/transform.py",
            "jpeg_read_scanlines",
            "ImagingJpegDecode",
        ),
    ),
    (
        "resize (OpenCV cubic after DCT scaling)",
        ("ImagingResample", "ImagingTransform", "resample (recpack/image/transform.py"),
    ),
    ("encode (libjpeg-turbo, q95)", ("ImagingJpegEncode", "_encode (recpack/image/transform.py")),
    ("EXIF orientation", ("opencv_orientation (recpack/image/transform.py",)),
    ("open file, parse JPEG header", ("_open (recpack/image/transform.py",)),
    ("RecordIO framing", ("recordio.py",)),
    (
        "IPC (pipes, task pickles)",
        ("_send (recpack/pack/workers.py", "_receive (recpack/pack/workers.py", "pickle"),
    ),
    ("waiting for results (epoll)", ("select (selectors.py",)),
    ("write .rec/.idx, commit", ("write", "commit (recpack/files/atomic.py", "rename")),
    ("start-up (imports, fork)", ("_find_and_load", "_call_with_frames_removed", "preload")),
]


def summarise(raw_path: str) -> str:
    samples, by_stage = collections.Counter(), collections.Counter()
    with open(raw_path) as f:
        for line in f:
            stack, count = line.rstrip("\n").rsplit(" ", 1)
            role = "workers" if "_serve (recpack/pack/workers.py" in stack else "parent"
            stage = next((name for name, keys in STAGES if any(k in stack for k in keys)), "other")
            samples[role] += int(count)
            by_stage[(role, stage)] += int(count)
    total = sum(samples.values())
    lines = [
        "| process | stage | samples | share of process | share of all |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for role in ("workers", "parent"):
        for (r, stage), count in sorted(by_stage.items(), key=lambda item: -item[1]):
            if r == role:
                lines.append(
                    f"| {role} | {stage} | {count} | {100 * count / samples[role]:.1f}% | "
                    f"{100 * count / total:.1f}% |"
                )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=200, help="samples per second per process")
    parser.add_argument("--corpus", default=os.path.join(HERE, ".corpus"))
    parser.add_argument("--raw", help="keep py-spy's raw samples here")
    args = parser.parse_args(argv)

    bin_dir = os.path.dirname(sys.executable)
    root = os.path.join(os.path.abspath(args.corpus), "images")
    relatives = bench_pack.make_corpus(
        os.path.abspath(args.corpus), args.images, 2026, args.workers
    )
    with tempfile.TemporaryDirectory() as work:
        prefix = os.path.join(work, "data")
        bench_pack.write_list(prefix + ".lst", relatives, len(relatives))
        raw = args.raw or os.path.join(work, "profile.raw")
        subprocess.run(
            [
                os.path.join(bin_dir, "py-spy"),
                "record",
                "--subprocesses",
                "--native",
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "-o",
                raw,
                "--",
                os.path.join(bin_dir, "recpack"),
                "pack",
                prefix,
                root,
                "--resize",
                "256",
                "--quality",
                "95",
                "--workers",
                str(args.workers),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(summarise(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
