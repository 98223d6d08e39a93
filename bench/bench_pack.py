"""Packing speed: MXNet's im2rec.py against `recpack pack` on the same lists, in one run.

    .venv/bin/python bench/bench_pack.py [--images 1000] [--repeat 3] [--memory-images 10000] [--markdown FILE]
    .venv/bin/python bench/bench_pack.py --root DIR [--images 0]     # images you have, e.g. real photos

Makes (once, seeded) a corpus of photo-like ~1 MP JPEGs under bench/.corpus/, then times, alternating
the tools, each in a fresh process tree:
- resize: im2rec.py and recpack with --resize 256 --quality 95 and 2 workers, plus the floor (recpack's
  own JPEG decode at reduced DCT scale + its resampling + encode in 2 processes, bytes already in
  memory, nothing else);
- pass-through: both tools with --pass-through, and `cat` of the same files as the disk bound, each with
  the files dropped from the page cache first (posix_fadvise DONTNEED), so the disk is really read;
- memory: recpack on a 1k and a 10k list (the 10k list names the corpus's files ten times over).
It checks every recpack record against im2rec's (same header, same dimensions, PSNR >= 30 dB) and prints
one table. Peak memory is whole-tree: the largest single process (wait4 ru_maxrss, as /usr/bin/time -v
reports) and the sampled sum of PSS over the process and all its descendants (shared pages counted once).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)
CLASSES = ("0752", "0772", "0794", "0842")
CORPUS_VERSION = 1  # bump when the generator or its settings change, to regenerate the corpus
SOURCE_QUALITY = 90  # ~200 KB per ~1 MP image with large_photo's grain


# --- corpus --------------------------------------------------------------------------------------


def corpus_plan(count: int, seed: int) -> list[tuple[str, int, int, int]]:
    """(relative path, width, height, image seed) for the first `count` images; a prefix of any larger plan."""
    rng = random.Random(seed)
    plan = []
    for i in range(count):
        width, height = rng.randint(1000, 1300), rng.randint(700, 900)
        if rng.random() < 0.25:  # some portraits, as in a bird photo collection
            width, height = height, width
        cls = CLASSES[i % len(CLASSES)]
        plan.append((f"{cls}/{cls}_{i:05d}.jpg", width, height, rng.randrange(1 << 30)))
    return plan


def _make_image(job) -> int:
    from recpack import synthetic

    path, width, height, image_seed, colour = job
    image = synthetic.large_photo(width, height, image_seed, colour)
    temporary = path + ".part"
    image.save(temporary, "JPEG", quality=SOURCE_QUALITY)
    os.replace(temporary, path)  # a stopped run never leaves a half-written image behind
    return os.path.getsize(path)


def make_corpus(folder: str, count: int, seed: int, workers: int) -> list[str]:
    from recpack import synthetic

    images = os.path.join(folder, "images")
    manifest_path = os.path.join(folder, "manifest.json")
    manifest = {"version": CORPUS_VERSION, "seed": seed, "quality": SOURCE_QUALITY}
    try:
        with open(manifest_path) as f:
            same = json.load(f) == manifest
    except (OSError, ValueError):
        same = False
    if not same:
        shutil.rmtree(images, ignore_errors=True)
    os.makedirs(images, exist_ok=True)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    plan = corpus_plan(count, seed)
    jobs = []
    for relative, width, height, image_seed in plan:
        path = os.path.join(images, relative)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            colour = synthetic._CLASS_COLOURS[CLASSES.index(relative[:4])]
            jobs.append((path, width, height, image_seed, colour))
    if jobs:
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for _ in pool.imap_unordered(_make_image, jobs, chunksize=8):
                pass
        print(
            f"corpus: made {len(jobs)} images in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return [relative for relative, *_ in plan]


def existing_images(root: str, count: int) -> list[str]:
    """The first `count` JPEG/PNG files under `root` (sorted paths relative to it): another corpus."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found += sorted(
            os.path.relpath(os.path.join(folder, name), root)
            for name in files
            if name.lower().endswith((".jpg", ".jpeg", ".png"))
        )
        if count and len(found) >= count:
            break
    if not found:
        sys.exit(f"no .jpg/.jpeg/.png files under {root}")
    return found[:count] if count else found


def write_list(path: str, relatives: list[str], count: int) -> None:
    """A .lst of `count` entries cycling over `relatives` (index, label by top folder, path)."""
    labels: dict[str, int] = {}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for i in range(count):
            relative = relatives[i % len(relatives)]
            label = labels.setdefault(
                relative.split(os.sep)[0] if os.sep in relative else "", len(labels)
            )
            f.write(f"{i}\t{label:f}\t{relative}\n")


def drop_from_page_cache(root: str, relatives: list[str]) -> None:
    for relative in relatives:
        fd = os.open(os.path.join(root, relative), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_all(root: str, relatives: list[str]) -> int:
    total = 0
    for relative in relatives:
        with open(os.path.join(root, relative), "rb") as f:
            total += len(f.read())
    return total


# --- measuring a process tree --------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return pids


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# Runs the command and reports its tree's rusage. A fresh small process, because a child's ru_maxrss
# starts from the RSS of whatever forked it: measured from the bench process it would include the bench.
_LAUNCHER = """
import json, os, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[2:], stdout=sys.stdout, stderr=sys.stderr)
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime,
               "rss_mb": usage.ru_maxrss / 1024}, f)
"""


TIMED_SAMPLING = (
    0.25  # s between PSS samples in timed runs: each costs the CPU the tools compete for
)
MEMORY_SAMPLING = 0.05  # s between them in the memory case, where the peak is the figure


def measure(command: list[str], cwd: str | None = None, interval: float = TIMED_SAMPLING) -> dict:
    """Wall and CPU seconds, the largest process's peak RSS and the tree's peak PSS sum, for one run."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.NamedTemporaryFile("r", suffix=".json") as report,
    ):
        launcher = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, report.name, *command],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], sum(_pss_kb(p) for p in _tree(launcher.pid)[1:]))
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        launcher.wait()
        done.set()
        sampler.join()
        result = json.load(report)
        if launcher.returncode != 0 or result["code"] != 0:
            out.seek(0)
            sys.exit(
                f"failed ({result['code']}): {' '.join(command)}\n{out.read().decode(errors='replace')[-3000:]}"
            )
    del result["code"]
    result["pss_mb"] = peak[0] / 1024
    return result


# --- the floor -----------------------------------------------------------------------------------


def _floor_worker(blobs, resize, quality, barrier, counter, ends):
    from recpack.image.transform import (
        _decode_jpeg_pixels,
        _picture_of,
        dct_eighths,
        preload,
        read_jpeg_frame,
        resample,
    )

    preload()
    import simplejpeg

    barrier.wait()
    cpu = time.process_time()
    while True:
        with (
            counter.get_lock()
        ):  # the next image, as recpack's workers take them: a slowed worker takes fewer
            position = counter.value
            counter.value += 1
        if position >= len(blobs):
            break
        data = blobs[position]
        frame = read_jpeg_frame(data)
        height, width = simplejpeg.decode_jpeg_header(data)[:2]
        short, long = min(width, height), max(width, height)
        scaled_long = long * resize // short
        target = (resize, scaled_long) if height > width else (scaled_long, resize)
        eighths = dct_eighths(width, height, target)  # recpack's scale, headroom included
        pixels, pixel_format = _decode_jpeg_pixels(data, frame, (width, height), 1, eighths)
        box = (0, 0, width * eighths / 8, height * eighths / 8)
        picture = _picture_of(pixels, pixel_format)
        small = resample(picture, target, box, eighths < 8, pixels)  # recpack's resampling
        small.save(io.BytesIO(), "JPEG", quality=quality)
    ends.put((time.perf_counter(), time.process_time() - cpu))


def measure_floor(blobs: list[bytes], workers: int, resize: int, quality: int) -> dict:
    """Seconds for `workers` forked processes to decode+resize+encode in-memory JPEGs, from a common start."""
    context = multiprocessing.get_context("fork")
    barrier, counter, ends = context.Barrier(workers + 1), context.Value("l", 0), context.Queue()
    processes = [
        context.Process(
            target=_floor_worker,
            args=(blobs, resize, quality, barrier, counter, ends),
        )
        for _ in range(workers)
    ]
    for p in processes:
        p.start()
    barrier.wait()
    started = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the workers' readings
    reports = [ends.get() for _ in processes]
    for p in processes:
        p.join()
    return {
        "seconds": max(end for end, _ in reports) - started,
        "cpu": sum(cpu for _, cpu in reports),
        "rss_mb": float("nan"),
        "pss_mb": float("nan"),
    }


# --- checking the output -------------------------------------------------------------------------


def compare(ours_rec: str, theirs_rec: str) -> dict:
    import cv2
    import numpy as np

    from recpack.format import recordio

    def load(path):
        out = {}
        with recordio.RecordReader(path) as reader:
            for _, payload in reader:
                header, data = recordio.unpack(payload)
                out[header.id] = (header, data)
        return out

    ours, theirs = load(ours_rec), load(theirs_rec)
    problems, values = [], []
    if ours.keys() != theirs.keys():
        problems.append(f"record ids differ: {len(ours)} vs {len(theirs)} records")
    for key in sorted(ours.keys() & theirs.keys()):
        (our_header, our_data), (their_header, their_data) = ours[key], theirs[key]
        if our_header != their_header:
            problems.append(f"record {key}: header {our_header} vs {their_header}")
        a = cv2.imdecode(np.frombuffer(our_data, np.uint8), cv2.IMREAD_UNCHANGED)
        b = cv2.imdecode(np.frombuffer(their_data, np.uint8), cv2.IMREAD_UNCHANGED)
        if a.shape != b.shape:
            problems.append(f"record {key}: shape {a.shape} vs {b.shape}")
            continue
        mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
        values.append(float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return {
        "records": len(values),
        "min": min(values, default=0.0),
        "mean": statistics.fmean(values) if values else 0.0,
        "problems": problems,
    }


# --- the run -------------------------------------------------------------------------------------


def machine() -> dict:
    from PIL import Image, features

    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        import cv2

        opencv = cv2.__version__
    except ImportError:
        opencv = "not installed"
    with open("/proc/meminfo") as f:
        memory = int(f.readline().split()[1]) // 1024
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_mb": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pillow": Image.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo") or "no",
        "opencv": opencv,
    }


def median_of(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def alternate(cases: dict, repeat: int, before=None) -> dict:
    """Run each case `repeat` times, rotating the order every repetition; {name: [runs]}."""
    names = list(cases)
    runs = {name: [] for name in names}
    for rep in range(repeat):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            if before:
                before()
            runs[name].append(cases[name]())
            r = runs[name][-1]
            print(f"  {name:<24} run {rep + 1}: {r['seconds']:6.2f} s", file=sys.stderr)
    return runs


def _images(args, corpus: str) -> tuple[str, list[str]]:
    """ROOT and the images under it: --root's, or the generated corpus (made once)."""
    if args.root:
        root = os.path.abspath(args.root)
        return root, existing_images(root, args.images)
    root = os.path.join(corpus, "images")
    return root, make_corpus(corpus, args.images, args.seed, max(1, os.cpu_count() or 1))


def _memory_case(args, work, relatives, recpack_run, im2rec_run, options) -> dict:
    """{(tool, entries): median run} for a 1k and an args.memory_images list; {} when skipped."""
    if not args.memory_images:
        return {}
    small_count = min(1000, len(relatives))
    print(f"memory: {small_count} vs {args.memory_images} list entries", file=sys.stderr)
    tools = {"recpack": recpack_run}
    if args.memory_im2rec:
        tools["im2rec.py"] = im2rec_run
    cases = {}
    for tool, run in tools.items():
        for count in (small_count, args.memory_images):
            prefix = os.path.join(work, f"memory-{tool}-{count}", "data")
            write_list(prefix + ".lst", relatives, count)
            cases[(tool, count)] = run(prefix, *options, interval=MEMORY_SAMPLING)
    # Peaks are sampled, so a run can miss or catch a short one: medians of alternated runs too.
    memory_runs = alternate(
        {f"{tool} {count}": run for (tool, count), run in cases.items()},
        args.repeat,
        before=os.sync,
    )
    return {key: median_of(memory_runs[f"{key[0]} {key[1]}"]) for key in cases}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images", type=int, default=1000, help="images in the timed list (default 1000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per tool and case, alternated (default 3)"
    )
    parser.add_argument("--workers", type=int, default=2, help="workers for both tools (default 2)")
    parser.add_argument(
        "--memory-images",
        type=int,
        default=10000,
        help="entries of the large memory-case list, cycling over the corpus (default 10000; 0 skips)",
    )
    parser.add_argument(
        "--memory-im2rec", action="store_true", help="also measure im2rec.py in the memory case"
    )
    parser.add_argument("--seed", type=int, default=2026, help="corpus seed")
    parser.add_argument(
        "--corpus", default=os.path.join(HERE, ".corpus"), help="corpus and scratch folder"
    )
    parser.add_argument(
        "--root",
        help="use the images under ROOT (e.g. real photos) instead of generating a corpus; "
        "--images of them, 0 for all",
    )
    parser.add_argument(
        "--markdown", metavar="FILE", help="also write the table as Markdown to FILE"
    )
    args = parser.parse_args(argv)

    from recpack.pack.im2rec_engine import im2rec_script

    im2rec = im2rec_script()
    recpack = os.path.join(BIN, "recpack")
    options = ["--resize", "256", "--quality", "95"]
    workers = str(args.workers)
    info = machine()
    load_before = os.getloadavg()
    print(
        f"machine: {info['nproc']} cores ({info['cpu']}), Python {info['python']}, Pillow {info['pillow']} "
        f"(libjpeg-turbo {info['libjpeg_turbo']}), OpenCV {info['opencv']}; load {load_before[0]:.2f}",
        file=sys.stderr,
    )

    corpus = os.path.abspath(args.corpus)
    root, relatives = _images(args, corpus)
    corpus_bytes = sum(os.path.getsize(os.path.join(root, r)) for r in relatives)
    work = os.path.join(corpus, "work")
    shutil.rmtree(work, ignore_errors=True)
    prefixes = {}
    for tool in ("im2rec", "recpack"):
        prefixes[tool] = os.path.join(work, tool, "data")
        write_list(
            prefixes[tool] + ".lst", relatives, len(relatives)
        )  # identical copies of one list

    def im2rec_run(prefix, *extra, interval=TIMED_SAMPLING):
        return lambda: measure(
            [sys.executable, im2rec, *extra, "--num-thread", workers, prefix, root],
            interval=interval,
        )

    def recpack_run(prefix, *extra, interval=TIMED_SAMPLING):
        return lambda: measure(
            [recpack, "pack", prefix, root, *extra, "--workers", workers], interval=interval
        )

    # Warm-up: the corpus into the page cache, MXNet's and Pillow's libraries into memory.
    read_all(root, relatives)
    warm = os.path.join(work, "warm", "warm")
    write_list(warm + ".lst", relatives, min(20, len(relatives)))
    im2rec_run(warm, *options)()
    recpack_run(warm, *options)()

    print(f"resize: {len(relatives)} images, {args.repeat} runs each", file=sys.stderr)
    blobs = []
    for relative in relatives:
        with open(os.path.join(root, relative), "rb") as f:
            blobs.append(f.read())
    resize_runs = alternate(
        {
            "im2rec.py": im2rec_run(prefixes["im2rec"], *options),
            "recpack": recpack_run(prefixes["recpack"], *options),
            "floor": lambda: measure_floor(blobs, args.workers, 256, 95),
        },
        args.repeat,
        before=os.sync,
    )  # no run pays for the writeback of the previous one's output
    blobs.clear()  # the floor runs are done: free the corpus held in memory
    quality = compare(prefixes["recpack"] + ".rec", prefixes["im2rec"] + ".rec")

    print(
        f"pass-through: {len(relatives)} images, page cache dropped before each run",
        file=sys.stderr,
    )
    cat_list = os.path.join(work, "paths.txt")
    with open(cat_list, "w") as f:
        f.writelines(r + "\n" for r in relatives)
    cat_out = os.path.join(work, "cat.bin")
    # Read every file and write one output, synced as recpack syncs its .rec.
    cat_command = [
        "sh",
        "-c",
        f"xargs -d '\\n' -a '{cat_list}' cat > '{cat_out}' && sync '{cat_out}'",
    ]
    pass_runs = alternate(
        {
            "im2rec.py": im2rec_run(prefixes["im2rec"], "--pass-through"),
            "recpack": recpack_run(prefixes["recpack"], "--pass-through"),
            "cat + sync (disk bound)": lambda: measure(cat_command, cwd=root),
        },
        args.repeat,
        before=lambda: (os.sync(), drop_from_page_cache(root, relatives)),
    )
    read_all(root, relatives)

    memory = _memory_case(args, work, relatives, recpack_run, im2rec_run, options)
    load_after = os.getloadavg()

    table = render(
        args,
        info,
        resize_runs,
        pass_runs,
        memory,
        quality,
        corpus_bytes,
        len(relatives),
        load_before,
        load_after,
    )
    shown = {
        os.path.dirname(sys.executable) + os.sep: ".venv/bin/",
        os.path.dirname(im2rec) + os.sep: "<mxnet>/tools/",
        corpus + os.sep: os.path.relpath(corpus, REPO) + os.sep
        if corpus.startswith(REPO + os.sep)
        else corpus + os.sep,
    }

    def show(command):
        text = " ".join(command)
        for long, short in shown.items():
            text = text.replace(long, short)
        return "    " + text

    table += (
        "\n\nCommands (each run in a fresh process tree; PREFIX*.lst are identical copies):\n\n"
        + "\n".join(
            [
                show(
                    [
                        sys.executable,
                        im2rec,
                        *options,
                        "--num-thread",
                        workers,
                        prefixes["im2rec"],
                        root,
                    ]
                ),
                show([recpack, "pack", prefixes["recpack"], root, *options, "--workers", workers]),
                show(
                    [
                        sys.executable,
                        im2rec,
                        "--pass-through",
                        "--num-thread",
                        workers,
                        prefixes["im2rec"],
                        root,
                    ]
                ),
                show(
                    [
                        recpack,
                        "pack",
                        prefixes["recpack"],
                        root,
                        "--pass-through",
                        "--workers",
                        workers,
                    ]
                ),
                show(cat_command[:2] + [f'"{cat_command[2]}"']),
            ]
        )
    )
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    shutil.rmtree(work, ignore_errors=True)  # GBs of .rec at larger sizes
    # Timings are the machine's to judge; different images are a failure.
    return 1 if quality["problems"] or quality["min"] < 30.0 else 0


def _whole(value: float) -> str:
    return "-" if value != value else f"{value:.0f}"


def render(
    args,
    info,
    resize_runs,
    pass_runs,
    memory,
    quality,
    corpus_bytes,
    count,
    load_before,
    load_after,
) -> str:
    def row(cells):
        return "| " + " | ".join(cells) + " |"

    kind = f"images from {args.root}" if args.root else "photo-like JPEGs"
    lines = [
        f"Corpus: {count} {kind}, {corpus_bytes / count / 1024:.0f} KB average, "
        f"{corpus_bytes / 1e6:.0f} MB; {args.workers} workers; median of {args.repeat} alternated runs.",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory_mb']} MB RAM, Linux {info['kernel']}, "
        f"Python {info['python']}, Pillow {info['pillow']} (libjpeg-turbo {info['libjpeg_turbo']}), "
        f"OpenCV {info['opencv']}. Load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.",
        "",
        row(
            [
                "case",
                "tool",
                "median s",
                "min-max s",
                "images/s",
                "vs im2rec.py",
                "CPU s",
                "max RSS MB",
                "tree PSS MB",
            ]
        ),
        row(["---"] * 2 + ["---:"] * 7),
    ]

    def add(case, runs):
        base = statistics.median(r["seconds"] for r in runs["im2rec.py"])
        for tool, tool_runs in runs.items():
            m = median_of(tool_runs)
            spread = f"{min(r['seconds'] for r in tool_runs):.2f}-{max(r['seconds'] for r in tool_runs):.2f}"
            lines.append(
                row(
                    [
                        case,
                        tool,
                        f"{m['seconds']:.2f}",
                        spread,
                        f"{count / m['seconds']:.0f}",
                        f"{base / m['seconds']:.2f}x",
                        "-" if m["cpu"] != m["cpu"] else f"{m['cpu']:.1f}",
                        _whole(m["rss_mb"]),
                        _whole(m["pss_mb"]),
                    ]
                )
            )
            case = ""

    add("resize 256, q95", resize_runs)
    add("pass-through (cold cache)", pass_runs)
    for (tool, entries), m in memory.items():
        lines.append(
            row(
                [
                    f"memory, {entries} entries",
                    tool,
                    f"{m['seconds']:.2f}",
                    "",
                    f"{entries / m['seconds']:.0f}",
                    "-",
                    f"{m['cpu']:.1f}",
                    f"{m['rss_mb']:.0f}",
                    f"{m['pss_mb']:.0f}",
                ]
            )
        )

    t = {name: statistics.median(r["seconds"] for r in runs) for name, runs in resize_runs.items()}
    p = {name: statistics.median(r["seconds"] for r in runs) for name, runs in pass_runs.items()}
    cpu = {name: statistics.median(r["cpu"] for r in runs) for name, runs in resize_runs.items()}
    checks = [
        ("recpack >= 3x im2rec.py throughput", t["im2rec.py"] / t["recpack"], 3.0, ">="),
        (
            "im2rec.py CPU s / recpack CPU s (steadier on a busy machine)",
            cpu["im2rec.py"] / cpu["recpack"],
            None,
            "",
        ),
        ("recpack time within 1.15x of the floor", t["recpack"] / t["floor"], 1.15, "<="),
        ("PSNR vs im2rec.py, worst record (dB)", quality["min"], 30.0, ">="),
        ("records whose header or size differ from im2rec.py's", len(quality["problems"]), 0, "<="),
        (
            "pass-through: recpack time / cat + sync time",
            p["recpack"] / p["cat + sync (disk bound)"],
            None,
            "",
        ),
        (
            "pass-through: recpack CPU s / wall s (2 cores)",
            statistics.median(r["cpu"] for r in pass_runs["recpack"]) / p["recpack"],
            None,
            "",
        ),
    ]
    if memory:
        for tool in ("recpack", "im2rec.py"):
            sizes = sorted(entries for (name, entries) in memory if name == tool)
            if len(sizes) == 2:
                small, large = memory[(tool, sizes[0])], memory[(tool, sizes[1])]
                limit = 1.2 if tool == "recpack" else None
                checks.append(
                    (
                        f"{tool} peak tree PSS, {sizes[1]} / {sizes[0]} entries",
                        large["pss_mb"] / small["pss_mb"],
                        limit,
                        "<=",
                    )
                )
                checks.append(
                    (
                        f"{tool} max RSS, {sizes[1]} / {sizes[0]} entries",
                        large["rss_mb"] / small["rss_mb"],
                        limit,
                        "<=",
                    )
                )
    lines += ["", row(["check", "value", "target", "result"]), row(["---", "---:", "---:", "---"])]
    for name, value, limit, op in checks:
        ok = (
            ""
            if limit is None
            else ("pass" if (value >= limit if op == ">=" else value <= limit) else "MISS")
        )
        lines.append(row([name, f"{value:.2f}", "" if limit is None else f"{op} {limit}", ok]))
    lines.append("")
    lines.append(
        f"PSNR over {quality['records']} records: worst {quality['min']:.1f} dB, mean {quality['mean']:.1f} dB"
        + (
            f"; {len(quality['problems'])} problems: {quality['problems'][:3]}"
            if quality["problems"]
            else "; headers and dimensions identical."
        )
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
