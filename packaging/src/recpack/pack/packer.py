"""`recpack pack`: every PREFIX*.lst (or one .lst) into .rec + .idx beside it.

Workers (workers.py) decode, transform, encode and frame each image as finished RecordIO bytes; the
parent only writes them, in list order, so the output is the same bytes for any worker count. A
sliding window bounds how far workers run ahead, so memory does not grow with the dataset.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from array import array
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from typing import IO, TYPE_CHECKING, Any, overload

from .. import defaults
from ..errors import EnvironmentFault, PackFailed
from ..files.atomic import AtomicOutputs
from ..files.uncached import UncachedWriter
from ..format.lst import ListEntry, parse_list
from ..format.recordio import Piece
from ..image.faults import MISSING
from ..image.transform import PackOptions
from .results import ImageResult, Kind, ListResult, Skipped
from .workers import (
    ForkedPool,
    configure,
    default_workers,
    keep_freed_memory,
    serial_results,
    spawned_results,
)

if TYPE_CHECKING:  # Protocol classes cost start-up time; only the type checker needs them
    from typing import Protocol

    class _RecordWriter(Protocol):
        def writelines(self, pieces: Iterable[Piece], /) -> None: ...

    class _Progress(Protocol):
        def update(self, n: float | None = ..., /) -> object: ...


SKIPPED_SUFFIX = ".skipped.tsv"


class _Entries(Sequence[ListEntry]):
    """A list file's entries, kept compact: ~70 bytes an entry instead of ~270 as ListEntry objects, so
    the parent's memory barely grows with the list (48,562 NABirds entries: ~3 MB instead of ~13 MB)."""

    def __init__(self, list_path: str) -> None:
        # Every lasting object exists before parse_list() runs, so none lands among its short-lived
        # ones and Python can hand their memory back to the system once they are freed.
        self._index, self._labels = array("Q"), array("d")
        self._label_starts, self._path_starts = array("Q", [0]), array("Q", [0])
        paths: list[str] = []
        for entry in parse_list(list_path):
            self._index.append(entry.index)
            self._labels.extend(entry.labels)
            self._label_starts.append(len(self._labels))
            paths.append(entry.path)
            self._path_starts.append(self._path_starts[-1] + len(entry.path))
        self._paths = "".join(paths)

    def __len__(self) -> int:
        return len(self._index)

    def _entry(self, i: int) -> ListEntry:
        labels = tuple(self._labels[self._label_starts[i] : self._label_starts[i + 1]])
        return ListEntry(
            self._index[i], labels, self._paths[self._path_starts[i] : self._path_starts[i + 1]]
        )

    @overload
    def __getitem__(self, item: int) -> ListEntry: ...

    @overload
    def __getitem__(self, item: slice) -> list[ListEntry]: ...

    def __getitem__(self, item: int | slice) -> ListEntry | list[ListEntry]:
        if isinstance(item, slice):
            return [self._entry(i) for i in range(*item.indices(len(self)))]
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError(item)
        return self._entry(item)


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
    found = sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.startswith(stem)
        and name.endswith(".lst")
        and os.path.isfile(os.path.join(folder, name))
    )
    if not found:
        raise PackFailed(
            f"no list file matches {os.path.join(folder, stem)}*.lst; "
            f"create one first with: recpack list {prefix} ROOT"
        )
    return found


class _WriterThread:
    """Writes the .rec from a second thread: with --pass-through the parent's copy of each file is the
    bottleneck, and the write into the page cache (which releases the GIL) can overlap the next file's
    read and magic-word scan. At most 8 records wait, so memory stays bounded."""

    def __init__(self, file: UncachedWriter) -> None:
        self.file = file
        self.error: BaseException | None = None
        self.queue: queue.Queue[Iterable[Piece] | None] = queue.Queue(maxsize=8)
        self.thread = threading.Thread(target=self._run, name="rec-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            pieces = self.queue.get()
            if pieces is None:
                return
            if self.error is None:
                try:
                    self.file.writelines(pieces)
                except (
                    BaseException
                ) as exc:  # handed to the main thread at its next write or at close
                    self.error = exc

    def writelines(self, pieces: Iterable[Piece], /) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(pieces)

    def __enter__(self) -> _WriterThread:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self.queue.put(None)
        self.thread.join()
        if exc_type is None and self.error is not None:
            raise self.error


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: float | None = 1, /) -> None:
        pass


def _progress(total: int, label: str) -> AbstractContextManager[_Progress]:
    if not sys.stderr.isatty():
        return _NoProgress()  # no bar in logs and pipes, and no tqdm import (~25 ms) either
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=label,
        unit="img",
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5,
    )


def _fork_available() -> bool:
    return hasattr(os, "fork")


def _pool(workers: int) -> AbstractContextManager[ForkedPool | None]:
    """Forked workers when there are several and the platform forks; they start before the lists are
    read, so they load Pillow meanwhile and never hold the lists."""
    if workers > 1 and _fork_available():
        return ForkedPool(workers)
    return nullcontext()


def _check_root(root: str) -> None:
    if not os.path.isdir(root):
        raise PackFailed(
            f"ROOT {root!r} is not a folder"
            if os.path.exists(root)
            else f"ROOT {root!r} does not exist"
        )


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


MISSING_AT_START = 20  # this many missing images in a row from the start: ROOT is wrong


class _MissingWatch:
    """Stops a run whose first images are all missing (the first MISSING_AT_START, or all when the
    list is shorter): ROOT or the list is wrong, and a line per image would bury the one cause.
    Until an image is found, the warnings about missing ones wait here, so a wrong ROOT prints
    only the error."""

    def __init__(self, list_path: str, root: str, total: int, warn: Callable[[str], None]) -> None:
        self.list_path = list_path
        self.root = root
        self.total = total
        self.warn = warn
        self.needed = min(MISSING_AT_START, total)
        self.held: list[str] | None = []  # None once an image was found: watching is over
        self.first = ""

    def see(self, entry: ListEntry, image: ImageResult) -> None:
        if self.held is None:
            return
        if image.kind is not Kind.SKIPPED or image.reason != MISSING:
            self.release()
            return
        self.first = self.first or os.path.join(os.path.abspath(self.root), entry.path)
        if len(self.held) + 1 == self.needed:
            which = "all" if self.needed == self.total else "the first"
            raise PackFailed(
                f"{which} {self.needed} images of {self.list_path} are missing under ROOT "
                f"{self.root!r} (the first: {self.first}); is ROOT the folder the list's paths "
                "are relative to? No output was written"
            )

    def say(self, message: str) -> None:
        """A warning, held while every image so far was missing."""
        if self.held is None:
            self.warn(message)
        else:
            self.held.append(message)

    def release(self) -> None:
        for message in self.held or ():
            self.warn(message)
        self.held = None


class _ListPacker:
    """Packs the lists of one run into its outputs, one after another, and remembers what it was
    writing in case the system refuses (a full disk, a read-only folder)."""

    def __init__(
        self,
        root: str,
        options: PackOptions,
        workers: int,
        fail_fast: bool,
        warn: Callable[[str], None],
        training_side: int,
    ) -> None:
        self.root = root
        self.training_side = training_side
        self.options = options
        self.workers = workers
        self.fail_fast = fail_fast
        self.warn = warn
        self.writing: str | None = None

    def pack(
        self,
        list_path: str,
        entries: Sequence[ListEntry],
        pool: ForkedPool | None,
        outputs: AtomicOutputs,
    ) -> ListResult:
        stem = os.path.splitext(list_path)[0]
        self.writing = f"{stem}.rec and .idx"
        result = ListResult(
            list_path, stem + ".rec", stem + ".idx", training_side=self.training_side
        )
        rec_file = outputs.open(result.rec_path, "wb", uncached=True)
        threaded = self.options.pass_through and pool is not None
        writer: AbstractContextManager[_RecordWriter] = (
            _WriterThread(rec_file) if threaded else nullcontext(rec_file)
        )
        idx = outputs.open(result.idx_path, "w", encoding="utf-8", newline="\n")
        started = time.perf_counter()
        produced = self._results(entries, pool)
        missing = _MissingWatch(list_path, self.root, len(entries), self.warn)
        with (
            closing(produced),
            _progress(len(entries), os.path.basename(list_path)) as bar,
            writer as rec,
        ):
            for entry, image in zip(entries, produced, strict=False):
                bar.update(1)
                if image.kind is Kind.FAULT:
                    raise self._fault(image.reason)
                missing.see(entry, image)
                if image.kind is Kind.SKIPPED:
                    self._skip(result, entry, image.reason, missing.say)
                    continue
                if image.note:
                    self.warn(f"{entry.path} (index {entry.index}): packed; Pillow: {image.note}")
                idx.write(f"{entry.index}\t{result.bytes}\n")
                rec.writelines(image.pieces)
                result.add_record(image.size, image.width, image.height, entry.path)
        missing.release()
        result.seconds = time.perf_counter() - started
        if result.records == 0:
            raise PackFailed(
                f"{list_path}: none of its {len(entries)} images could be packed; nothing written"
            )
        if result.skipped:
            _write_skipped_table(
                outputs.open(stem + SKIPPED_SUFFIX, "w", encoding="utf-8", newline="\n"),
                result.skipped,
            )
        return result

    def _results(
        self, entries: Sequence[ListEntry], pool: ForkedPool | None
    ) -> Generator[ImageResult, None, None]:
        if pool is not None:
            return pool.run(entries)
        if self.workers > 1:
            return spawned_results(entries, self.workers)
        return serial_results(entries)

    def _fault(self, reason: str) -> EnvironmentFault:
        """The machine's fault, not the image's: the run stops."""
        return EnvironmentFault(
            f"{reason} (ROOT {self.root!r}); no output was written at the final paths"
        )

    def _skip(
        self, result: ListResult, entry: ListEntry, reason: str, say: Callable[[str], None]
    ) -> None:
        if self.fail_fast:
            raise PackFailed(
                f"{result.list_path}: {entry.path} (index {entry.index}): {reason}; "
                "stopped (--on-error fail), no output written"
            )
        result.skipped.append(Skipped(entry.index, entry.path, reason))
        say(f"skipped {entry.path} (index {entry.index}): {reason}")

    def refused(self, exc: OSError) -> PackFailed:
        """The run cannot go on, and nothing is left behind: the system's words for why."""
        if self.writing is None:
            return PackFailed(f"cannot start the packing workers: {exc.strerror or exc}")
        where = f" ({exc.filename})" if exc.filename else ""
        return PackFailed(
            f"cannot write {self.writing}{where}: {exc.strerror or exc}; "
            "no output was written at the final paths"
        )


def _write_skipped_table(table: IO[Any], skipped: list[Skipped]) -> None:
    table.write("index\tpath\treason\n")
    for s in skipped:
        table.write(f"{s.index}\t{s.path}\t{s.reason}\n")


def pack_lists(
    prefix: str,
    root: str,
    options: PackOptions,
    *,
    workers: int = 0,
    pack_label: bool = False,
    fail_fast: bool = False,
    min_side: int = defaults.TRAINING_SIDE,
    report: Callable[[str], None] = print,
    warn: Callable[[str], None] = _to_stderr,
) -> list[ListResult]:
    """Pack every list PREFIX names; nothing appears at a final path unless every list succeeded.
    Packed images with a side under `min_side` (the training shape; 0: unchecked) are warned
    about, by count and first names."""
    _check_root(root)
    list_paths = find_lists(prefix)
    workers = workers or default_workers()
    configure(root, options, pack_label)  # before forking: the workers inherit these
    keep_freed_memory()  # the parent too: each result message (~120 KB) would otherwise be fresh pages
    packer = _ListPacker(root, options, workers, fail_fast, warn, min_side)
    try:
        with _pool(workers) as pool, AtomicOutputs() as outputs:
            # Every list is checked before any work.
            parsed = [(path, _Entries(path)) for path in list_paths]
            results = [packer.pack(path, entries, pool, outputs) for path, entries in parsed]
            outputs.commit()
    except OSError as exc:
        raise packer.refused(exc) from None
    for result in results:
        stale = os.path.splitext(result.list_path)[0] + SKIPPED_SUFFIX
        if not result.skipped and os.path.exists(stale):
            os.remove(stale)  # from an earlier run; this run skipped nothing
        report(result.summary())
        small = result.small_warning()
        if small:
            warn(small)
    return results
