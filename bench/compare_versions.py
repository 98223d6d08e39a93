"""recpack at two commits, on the same list, alternated: did a change make packing faster?

    .venv/bin/python bench/compare_versions.py BEFORE [AFTER] [--images 1000] [--repeat 6] [--pass-through]

Each commit's packaging/src is taken with `git archive` into a temporary folder and run as
`python -m recpack pack` with PYTHONPATH pointing there (AFTER defaults to the working tree). Runs
alternate, each in a fresh process tree after a `sync`; the table gives medians of wall time and of the
parent's and the workers' CPU time, and the median of the paired after/before wall-time ratios, which is
the figure least moved by a busy machine. Uses the corpus bench_pack.py makes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_pack  # noqa: E402  (the corpus and list helpers)

_TIMED = (
    "import resource, runpy, sys, time\n"
    "started = time.perf_counter()\n"
    "sys.argv = ['recpack'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('recpack', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "wall = time.perf_counter() - started\n"
    "own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(wall, own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, file=sys.stderr)\n"
)


def source_tree(ref: str | None, into: str) -> str:
    """packaging/src of `ref` (None: the working tree) under `into`; returns the folder to put on PYTHONPATH."""
    if ref is None:
        return os.path.join(REPO, "packaging", "src")
    os.makedirs(into)
    archive = subprocess.run(
        ["git", "-C", REPO, "archive", ref, "packaging/src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", into], input=archive.stdout, check=True)
    return os.path.join(into, "packaging", "src")


def run_once(src: str, prefix: str, root: str, extra: list[str]) -> tuple[float, float, float]:
    os.sync()
    done = subprocess.run(
        [sys.executable, "-c", _TIMED, "pack", prefix, root, *extra],
        env=dict(os.environ, PYTHONPATH=src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode:
        sys.exit(f"recpack from {src} failed:\n{done.stderr}")
    wall, parent, workers = map(float, done.stderr.strip().splitlines()[-1].split())
    return wall, parent, workers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a commit, tag or branch")
    parser.add_argument("after", nargs="?", help="another one (default: the working tree)")
    parser.add_argument(
        "--images", type=int, default=1000, help="images in the list (default 1000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=6, help="runs of each, alternated (default 6)"
    )
    parser.add_argument(
        "--pass-through", action="store_true", help="time --pass-through instead of --resize 256"
    )
    parser.add_argument(
        "--corpus", default=os.path.join(HERE, ".corpus"), help="bench_pack.py's corpus folder"
    )
    args = parser.parse_args(argv)

    relatives = bench_pack.make_corpus(args.corpus, args.images, 2026, os.cpu_count() or 1)
    root = os.path.join(args.corpus, "images")
    bench_pack.read_all(root, relatives)
    extra = ["--pass-through"] if args.pass_through else ["--resize", "256", "--quality", "95"]
    extra += ["--workers", "2"]
    scratch = tempfile.mkdtemp(prefix="recpack-compare-")
    try:
        versions = {
            args.before: source_tree(args.before, os.path.join(scratch, "before")),
            args.after or "working tree": source_tree(args.after, os.path.join(scratch, "after")),
        }
        prefix = os.path.join(scratch, "data")
        bench_pack.write_list(prefix + ".lst", relatives, len(relatives))
        runs: dict[str, list] = {name: [] for name in versions}
        for src in versions.values():
            run_once(src, prefix, root, extra)  # warm-up
        for _ in range(args.repeat):
            for name, src in versions.items():
                runs[name].append(run_once(src, prefix, root, extra))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"{len(relatives)} images, recpack pack {' '.join(extra)}, {args.repeat} alternated runs each\n"
    )
    print("| version | median wall s | min-max s | parent CPU s | workers CPU s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, results in runs.items():
        walls = [r[0] for r in results]
        print(
            f"| {name} | {statistics.median(walls):.2f} | {min(walls):.2f}-{max(walls):.2f} | "
            f"{statistics.median(r[1] for r in results):.2f} | {statistics.median(r[2] for r in results):.2f} |"
        )
    before, after = runs.values()
    ratios = [a[0] / b[0] for a, b in zip(after, before, strict=False)]
    print(
        f"\npaired wall-time ratio after/before: median {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f}-{max(ratios):.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
