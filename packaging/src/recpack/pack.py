"""`recpack pack`: every PREFIX*.lst (or one .lst) into .rec + .idx beside it.

Workers decode, transform, encode and frame each image as finished RecordIO bytes; the parent only
writes them, in list order, so the output is the same bytes for any worker count. A sliding window
bounds how far workers run ahead, so memory does not grow with the dataset.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional

from . import recordio
from .atomic import AtomicOutputs
from .errors import RecpackError
from .imaging import BadImage, PackOptions, transform
from .lst import ListEntry, parse_list

SKIPPED_SUFFIX = ".skipped.tsv"


@dataclass
class Skipped:
    index: int
    path: str
    reason: str


@dataclass
class ListResult:
    list_path: str
    rec_path: str
    idx_path: str
    records: int = 0
    bytes: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    min_side: Optional[int] = None
    max_side: Optional[int] = None

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return (f"{os.path.basename(self.rec_path)}: {self.records} records, {len(self.skipped)} skipped, "
                f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s ({rate:.0f} images/s)")


class PackFailed(RecpackError):
    pass


def find_lists(prefix: str) -> list[str]:
    """The .lst files `prefix` names: one .lst, every .lst in a folder, or every PREFIX*.lst."""
    if prefix.endswith(".lst") and os.path.isfile(prefix):
        return [prefix]
    if os.path.isdir(prefix):
        folder, stem = prefix, ""
    else:
        folder, stem = os.path.split(prefix)
        folder = folder or "."
    if not os.path.isdir(folder):
        raise PackFailed(f"folder {folder!r} of PREFIX {prefix!r} does not exist")
    found = sorted(os.path.join(folder, name) for name in os.listdir(folder)
                   if name.startswith(stem) and name.endswith(".lst")
                   and os.path.isfile(os.path.join(folder, name)))
    if not found:
        raise PackFailed(f"no list file matches {os.path.join(folder, stem)}*.lst; "
                         f"create one first with: recpack list {prefix} ROOT")
    return found


# --- worker side ---------------------------------------------------------------------------------

_worker_root: str = ""
_worker_options: PackOptions = PackOptions()
_worker_pack_label: bool = False


def _init_worker(root: str, options: PackOptions, pack_label: bool) -> None:
    global _worker_root, _worker_options, _worker_pack_label
    _worker_root, _worker_options, _worker_pack_label = root, options, pack_label


def _record_label(entry: ListEntry, pack_label: bool):
    # im2rec packs all labels only with --pack-label and more than one label column.
    if pack_label and len(entry.labels) > 1:
        return entry.labels
    return entry.label


def _pack_one(entry: ListEntry):
    """(framed record bytes, None, w, h) or (None, reason, 0, 0) for one list entry."""
    try:
        data, width, height = transform(os.path.join(_worker_root, entry.path), _worker_options)
        payload = recordio.pack(_record_label(entry, _worker_pack_label), entry.index, data)
        return recordio.encode_record(payload), None, width, height
    except BadImage as exc:
        return None, str(exc), 0, 0
    except recordio.RecordIOError as exc:
        return None, str(exc), 0, 0
    except MemoryError:
        return None, "out of memory while decoding (image too large)", 0, 0
    except Exception as exc:  # a decoder bug on one hostile file must not end the whole run
        return None, f"cannot decode ({type(exc).__name__}: {exc})", 0, 0


def _windowed(entries: list[ListEntry], window: threading.Semaphore) -> Iterator[ListEntry]:
    for entry in entries:
        window.acquire()
        yield entry


def _results(entries: list[ListEntry], workers: int, root: str, options: PackOptions,
             pack_label: bool) -> Iterator[tuple]:
    if workers <= 1:
        _init_worker(root, options, pack_label)
        for entry in entries:
            yield _pack_one(entry)
        return
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = multiprocessing.get_context()
    chunk = 4
    window = threading.Semaphore(workers * chunk * 4)
    pool = context.Pool(workers, initializer=_init_worker, initargs=(root, options, pack_label))
    try:
        for result in pool.imap(_pack_one, _windowed(entries, window), chunksize=chunk):
            window.release()
            yield result
        pool.close()
    finally:
        # Unblock the pool's feeder thread, or terminate() waits on it forever.
        window.release(len(entries) + 1)
        pool.terminate()
        pool.join()


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _progress(total: int, label: str):
    from tqdm import tqdm

    # disable=None turns the bar off when stderr is not a terminal (CI logs, pipes).
    return tqdm(total=total, desc=label, unit="img", disable=None, file=sys.stderr, leave=False,
                dynamic_ncols=True, mininterval=0.5)


def _check_root(root: str) -> None:
    if not os.path.isdir(root):
        raise PackFailed(f"ROOT {root!r} is not a folder" if os.path.exists(root) else f"ROOT {root!r} does not exist")


def pack_lists(prefix: str, root: str, options: PackOptions, *, workers: int = 0, pack_label: bool = False,
               fail_fast: bool = False, report: Callable[[str], None] = print,
               warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> list[ListResult]:
    """Pack every list PREFIX names; nothing appears at a final path unless every list succeeded."""
    _check_root(root)
    list_paths = find_lists(prefix)
    parsed = [(path, parse_list(path)) for path in list_paths]  # reject malformed input before any work
    workers = workers or default_workers()
    results = []
    with AtomicOutputs() as outputs:
        for list_path, entries in parsed:
            stem = os.path.splitext(list_path)[0]
            result = ListResult(list_path, stem + ".rec", stem + ".idx")
            rec = outputs.open(result.rec_path, "wb", buffering=1 << 20)
            idx = outputs.open(result.idx_path, "w", encoding="utf-8", newline="\n")
            started = time.perf_counter()
            produced = _results(entries, workers, root, options, pack_label)
            with closing(produced), _progress(len(entries), os.path.basename(list_path)) as bar:
                for entry, (framed, reason, width, height) in zip(entries, produced):
                    bar.update(1)
                    if framed is None:
                        skipped = Skipped(entry.index, entry.path, reason)
                        if fail_fast:
                            raise PackFailed(f"{list_path}: {entry.path} (index {entry.index}): {reason}; "
                                             "stopped (--on-error fail), no output written")
                        result.skipped.append(skipped)
                        warn(f"skipped {entry.path} (index {entry.index}): {reason}")
                        continue
                    idx.write(f"{entry.index}\t{result.bytes}\n")
                    rec.write(framed)
                    result.bytes += len(framed)
                    result.records += 1
                    short = min(width, height)
                    result.min_side = short if result.min_side is None else min(result.min_side, short)
                    result.max_side = short if result.max_side is None else max(result.max_side, short)
            result.seconds = time.perf_counter() - started
            if result.records == 0:
                raise PackFailed(f"{list_path}: none of its {len(entries)} images could be packed; nothing written")
            skipped_path = stem + SKIPPED_SUFFIX
            if result.skipped:
                table = outputs.open(skipped_path, "w", encoding="utf-8", newline="\n")
                table.write("index\tpath\treason\n")
                for s in result.skipped:
                    table.write(f"{s.index}\t{s.path}\t{s.reason}\n")
            results.append(result)
        outputs.commit()
    for result in results:
        stale = os.path.splitext(result.list_path)[0] + SKIPPED_SUFFIX
        if not result.skipped and os.path.exists(stale):
            os.remove(stale)  # from an earlier run; this run skipped nothing
        report(result.summary())
    return results
