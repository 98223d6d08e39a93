"""`recpack pack`: every PREFIX*.lst (or one .lst) into .rec + .idx beside it.

Workers decode, transform, encode and frame each image as finished RecordIO bytes; the parent only
writes them, in list order, so the output is the same bytes for any worker count. A sliding window
bounds how far workers run ahead, so memory does not grow with the dataset.
"""

from __future__ import annotations

import os
import pickle
import queue
import selectors
import signal
import struct
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass, field

from . import recordio
from .atomic import AtomicOutputs
from .errors import RecpackError
from .imaging import BadImage, PackOptions, check_pass_through, preload, transform
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
    min_side: int | None = None
    max_side: int | None = None

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{os.path.basename(self.rec_path)}: {self.records} records, {len(self.skipped)} skipped, "
            f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s ({rate:.0f} images/s)"
        )


class PackFailed(RecpackError):
    pass


class _Entries(Sequence):
    """A list file's entries, kept compact: ~70 bytes an entry instead of ~270 as ListEntry objects, so
    the parent's memory barely grows with the list (48,562 NABirds entries: ~3 MB instead of ~13 MB)."""

    def __init__(self, list_path: str):
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

    def __getitem__(self, item):
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


def _pack_one(entry: ListEntry, check_only: bool = False):
    """(framed record bytes, note, w, h) or (None, reason, 0, 0) for one list entry; with `check_only`
    (pass-through in a worker) (b"", note, w, h) once the file is known to be whole: the parent copies
    it. The note is what the decoder warned about a packed file, or None."""
    try:
        path = os.path.join(_worker_root, entry.path)
        if check_only:
            width, height, notes = check_pass_through(path)
            return b"", "; ".join(notes) or None, width, height
        data, width, height, notes = transform(path, _worker_options)
        payload = recordio.pack(_record_label(entry, _worker_pack_label), entry.index, data)
        return recordio.encode_record(payload), "; ".join(notes) or None, width, height
    except BadImage as exc:
        return None, str(exc), 0, 0
    except recordio.RecordIOError as exc:
        return None, str(exc), 0, 0
    except MemoryError:
        return None, "out of memory while decoding (image too large)", 0, 0
    except Exception as exc:  # a decoder bug on one hostile file must not end the whole run
        return None, f"cannot decode ({type(exc).__name__}: {exc})", 0, 0


def _copy_file(entry: ListEntry, width: int, height: int):
    """The record of a file a worker checked for --pass-through, as pieces to write. Copied here rather
    than sent through a pipe: two fewer copies of every byte, and the parent is then as fast as `cat`."""
    try:
        with open(os.path.join(_worker_root, entry.path), "rb", buffering=0) as f:
            data = f.readall()
        payload = recordio.pack(_record_label(entry, _worker_pack_label), entry.index, data)
        return recordio.record_pieces(payload), None, width, height
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}", 0, 0
    except recordio.RecordIOError as exc:
        return None, str(exc), 0, 0


_RESULT = struct.Struct("<qIIBI")  # position, width, height, kind, body length; kind is one of:
_REASON, _RECORD, _COPY, _NOTE = (
    0,
    1,
    2,
    3,
)  # a skip reason follows, the framed record follows, the parent copies the file, a warning follows
_CHUNK = 4  # entries per task: small, so one slow image holds back little of the ordered output


def _noted(result: tuple, note: str | None) -> tuple:
    """A packed result with the worker's note (what Pillow warned about the file) in its second slot."""
    return (result[0], note, *result[2:]) if note and result[0] is not None else result


def _warn_note(warn: Callable[[str], None], entry: ListEntry, note: str | None) -> None:
    if note:
        warn(f"{entry.path} (index {entry.index}): packed; Pillow: {note}")


def _keep_freed_memory() -> None:
    """Let glibc keep freed image buffers (up to 64 MB) for the next image instead of unmapping or
    trimming them: otherwise every image pays ~120 page faults, ~7% of a worker's CPU. 64 rather than
    16 MB because a 2-3 MP progressive JPEG's coefficients alone take ~8 MB: at 16 MB the heap was
    still trimmed and re-faulted every few images (6% of the time on bench/make_camera_corpus.py's
    photos). The peak is unchanged; only memory that would be asked for again at once stays mapped."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD (also ends glibc's sliding threshold)
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
    except (ImportError, OSError, AttributeError):
        pass  # not glibc: its allocator, its behaviour


_LENGTH = struct.Struct("<Q")  # each message on a pipe: its length, then its bytes


def _send(fd: int, parts: list) -> None:
    """One message made of `parts`, written without joining them first."""
    pending = [memoryview(_LENGTH.pack(sum(map(len, parts))))] + [
        memoryview(part) for part in parts if len(part)
    ]
    while pending:
        written = os.writev(fd, pending)
        while pending and written >= len(pending[0]):
            written -= len(pending[0])
            pending.pop(0)
        if written:
            pending[0] = pending[0][written:]


def _read_exactly(fd: int, size: int) -> bytearray | None:
    """`size` bytes from `fd`, or None if the other end closed first."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        count = os.readv(fd, [view[got:]])
        if count == 0:
            return None
        got += count
    return buffer


def _receive(fd: int) -> bytearray | None:
    """The next message on `fd`, or None if the other end closed."""
    header = _read_exactly(fd, _LENGTH.size)
    return None if header is None else _read_exactly(fd, _LENGTH.unpack(header)[0])


def _serve(tasks: int, results: int) -> None:
    """A worker: pack the entries that arrive on `tasks`; send each result, as bytes, on `results`."""
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C reaches the whole group; the parent stops us
    _keep_freed_memory()
    preload()  # Pillow loads here while the parent reads the lists
    check_only = _worker_options.pass_through
    while True:
        task = _receive(tasks)
        if not task:  # closed (the parent is gone) or the empty message: stop
            return
        first, chunk = pickle.loads(task)
        message = []  # one message per chunk: a quarter of the wake-ups and system calls
        for position, entry in enumerate(chunk, first):
            framed, reason, width, height = _pack_one(entry, check_only)
            if framed is None:
                body = reason.encode("utf-8", "replace")
                message.append(_RESULT.pack(position, 0, 0, _REASON, len(body)))
            else:
                if reason:  # a warning about a file that is packed: it precedes the result
                    note = reason.encode("utf-8", "replace")
                    message += [_RESULT.pack(position, 0, 0, _NOTE, len(note)), note]
                body = framed
                message.append(
                    _RESULT.pack(
                        position, width, height, _COPY if check_only else _RECORD, len(body)
                    )
                )
            message.append(body)
        try:
            _send(results, message)
        except BrokenPipeError:
            return  # the parent is gone


def _fork_worker(tasks: int, results: int, parent_ends: list) -> int:
    """A forked process running _serve(); it closes the parent's pipe ends first, or a killed parent
    would leave it waiting forever on a pipe it holds open itself. Returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()  # or the child would write the parent's buffered output a second time
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        for fd in parent_ends:
            os.close(fd)
        _serve(tasks, results)
    except BaseException:
        code = 1
        import traceback

        traceback.print_exc()  # a bug in recpack, not a bad image (those are skip reasons)
    finally:
        try:
            sys.stderr.flush()
        finally:
            os._exit(code)  # never back into the parent's code, atexit handlers or buffers


def _widen(fd: int) -> None:
    """A 1 MB pipe (Linux; 64 KB by default) holds a few chunks of results, so a worker need not
    wait for the parent to be scheduled before it starts on its next chunk."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


class _Workers:
    """Forked workers, started before the lists are read, fed entries in small chunks. Results come
    back as bytes (no pickling, no pool threads) and are yielded in list order; at most `window`
    entries are in flight or waiting, so memory does not grow with the list. Plain os.fork() and
    pipes rather than multiprocessing, whose import (~20 ms) would delay the first image."""

    def __init__(self, count: int):
        self.stopped = False
        self.pids: list[int] = []
        self.tasks: list[int] = []  # the parent's ends: it writes tasks, reads results
        self.results: list[int] = []
        self.exit_codes: dict[int, int] = {}
        try:
            for _ in range(count):
                task_reader, task_writer = os.pipe()
                result_reader, result_writer = os.pipe()
                _widen(result_writer)
                parent_ends = self.tasks + self.results + [task_writer, result_reader]
                self.tasks.append(task_writer)
                self.results.append(result_reader)
                try:
                    self.pids.append(_fork_worker(task_reader, result_writer, parent_ends))
                finally:
                    os.close(task_reader)
                    os.close(result_writer)
        except BaseException:
            self.close()
            raise

    def _ended(self, number: int, path: str) -> PackFailed:
        return PackFailed(
            f"a worker process ended (exit code {self._exit_code(number, wait=True)}) "
            f"while packing {path} or an image after it"
        )

    def _exit_code(self, number: int, wait: bool) -> int | None:
        """The worker's exit code (negative: the signal that ended it), or None while it runs."""
        pid = self.pids[number]
        if pid not in self.exit_codes:
            done, status = os.waitpid(pid, 0 if wait else os.WNOHANG)
            if not done:
                return None
            self.exit_codes[pid] = os.waitstatus_to_exitcode(status)
        return self.exit_codes[pid]

    def run(self, entries: Sequence[ListEntry]) -> Iterator[tuple]:
        total, workers = len(entries), len(self.pids)
        window = workers * _CHUNK * 4
        in_flight = [0] * workers
        done: dict[int, tuple] = {}
        notes: dict[int, str] = {}
        sent = returned = 0
        selector = selectors.DefaultSelector()
        for number, fd in enumerate(self.results):
            selector.register(fd, selectors.EVENT_READ, number)

        def feed() -> None:
            nonlocal sent
            for number in sorted(range(workers), key=in_flight.__getitem__):
                # Two chunks per worker: one being packed, one queued, so it never waits for the parent.
                while in_flight[number] < 2 * _CHUNK and sent < total and sent - returned < window:
                    count = min(_CHUNK, total - sent, window - (sent - returned))
                    task = pickle.dumps(
                        (sent, entries[sent : sent + count]), pickle.HIGHEST_PROTOCOL
                    )
                    try:
                        _send(self.tasks[number], [task])
                    except BrokenPipeError:
                        raise self._ended(number, entries[returned].path) from None
                    in_flight[number] += count
                    sent += count

        try:
            feed()
            while returned < total:
                if returned in done:
                    result = done.pop(returned)
                    if result[0] is None and result[1] is None:
                        result = _copy_file(entries[returned], result[2], result[3])
                    yield _noted(result, notes.pop(returned, None))
                    returned += 1
                    feed()
                    continue
                for key, _ in selector.select():
                    number = key.data
                    message = _receive(key.fd)
                    if message is None:
                        raise self._ended(number, entries[returned].path)
                    view, offset = memoryview(message), 0
                    while offset < len(message):
                        position, width, height, kind, length = _RESULT.unpack_from(message, offset)
                        offset += _RESULT.size + length
                        body = view[offset - length : offset]  # no copy of the record
                        if kind == _NOTE:
                            notes[position] = str(body, "utf-8")
                            continue
                        if kind == _RECORD:
                            done[position] = (body, None, width, height)
                        elif kind == _COPY:
                            done[position] = (None, None, width, height)
                        else:
                            done[position] = (None, str(body, "utf-8"), 0, 0)
                        in_flight[number] -= 1
        finally:
            selector.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            for fd in self.tasks:
                _send(fd, [])  # the empty message: stop
            self.stopped = True
        self.close()
        return False

    def close(self) -> None:
        """Workers told to stop get a moment to exit; any other (an error, Ctrl-C) is terminated."""
        deadline = time.monotonic() + (5 if self.stopped else 0)
        for number, pid in enumerate(self.pids):
            while self._exit_code(number, wait=False) is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if self._exit_code(number, wait=False) is None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                self._exit_code(number, wait=True)
        for fd in self.tasks + self.results:
            os.close(fd)
        self.tasks, self.results = [], []


class _WriterThread:
    """Writes the .rec from a second thread: with --pass-through the parent's copy of each file is the
    bottleneck, and the write into the page cache (which releases the GIL) can overlap the next file's
    read and magic-word scan. At most 8 records wait, so memory stays bounded."""

    def __init__(self, file):
        self.file = file
        self.error: BaseException | None = None
        self.queue: queue.Queue = queue.Queue(maxsize=8)
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

    def writelines(self, pieces) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(pieces)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.queue.put(None)
        self.thread.join()
        if exc_type is None and self.error is not None:
            raise self.error
        return False


def _serial(entries: Sequence[ListEntry]) -> Iterator[tuple]:
    for entry in entries:
        yield _pack_one(entry)


def _fork_available() -> bool:
    return hasattr(os, "fork")


def _spawned(entries: Sequence[ListEntry], workers: int) -> Iterator[tuple]:
    """Where there is no fork (Windows): a spawned Pool, each worker set up by its initializer, with
    the same bounded window of entries in flight."""
    import multiprocessing

    window = threading.Semaphore(workers * _CHUNK * 4)

    def windowed():
        for entry in entries:
            window.acquire()
            yield entry

    pool = multiprocessing.get_context("spawn").Pool(
        workers,
        initializer=_init_worker,
        initargs=(_worker_root, _worker_options, _worker_pack_label),
    )
    try:
        for result in pool.imap(_pack_one, windowed(), chunksize=_CHUNK):
            window.release()
            yield result
        pool.close()
    finally:
        window.release(
            len(entries) + 1
        )  # unblock the pool's feeder thread, or terminate() waits on it
        pool.terminate()
        pool.join()


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, count: int) -> None:
        pass


def _progress(total: int, label: str):
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


def _check_root(root: str) -> None:
    if not os.path.isdir(root):
        raise PackFailed(
            f"ROOT {root!r} is not a folder"
            if os.path.exists(root)
            else f"ROOT {root!r} does not exist"
        )


def pack_lists(
    prefix: str,
    root: str,
    options: PackOptions,
    *,
    workers: int = 0,
    pack_label: bool = False,
    fail_fast: bool = False,
    report: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> list[ListResult]:
    """Pack every list PREFIX names; nothing appears at a final path unless every list succeeded."""
    _check_root(root)
    list_paths = find_lists(prefix)
    workers = workers or default_workers()
    _init_worker(root, options, pack_label)  # before forking: the workers inherit these
    results = []
    # Workers start before the lists are read: they load Pillow meanwhile and never hold the lists.
    forked = workers > 1 and _fork_available()
    _keep_freed_memory()  # the parent too: each result message (~120 KB) would otherwise be fresh pages
    writing = None  # the outputs being written, for the message if the disk refuses
    try:
        with _Workers(workers) if forked else nullcontext() as pool, AtomicOutputs() as outputs:
            parsed = [
                (path, _Entries(path)) for path in list_paths
            ]  # every list checked before any work
            for list_path, entries in parsed:
                stem = os.path.splitext(list_path)[0]
                writing = f"{stem}.rec and .idx"
                result = ListResult(list_path, stem + ".rec", stem + ".idx")
                rec_file = outputs.open(result.rec_path, "wb", uncached=True)
                writer = (
                    _WriterThread(rec_file)
                    if options.pass_through and pool
                    else nullcontext(rec_file)
                )
                idx = outputs.open(result.idx_path, "w", encoding="utf-8", newline="\n")
                started = time.perf_counter()
                if pool:
                    produced = pool.run(entries)
                else:
                    produced = _spawned(entries, workers) if workers > 1 else _serial(entries)
                with (
                    closing(produced),
                    _progress(len(entries), os.path.basename(list_path)) as bar,
                    writer as rec,
                ):
                    for entry, (framed, reason, width, height) in zip(
                        entries, produced, strict=False
                    ):
                        bar.update(1)
                        if framed is None:
                            skipped = Skipped(entry.index, entry.path, reason)
                            if fail_fast:
                                raise PackFailed(
                                    f"{list_path}: {entry.path} (index {entry.index}): {reason}; "
                                    "stopped (--on-error fail), no output written"
                                )
                            result.skipped.append(skipped)
                            warn(f"skipped {entry.path} (index {entry.index}): {reason}")
                            continue
                        _warn_note(warn, entry, reason)
                        idx.write(f"{entry.index}\t{result.bytes}\n")
                        pieces = (
                            framed if isinstance(framed, list) else (framed,)
                        )  # a copied file comes in pieces
                        rec.writelines(pieces)
                        result.bytes += sum(map(len, pieces))
                        result.records += 1
                        short = min(width, height)
                        result.min_side = (
                            short if result.min_side is None else min(result.min_side, short)
                        )
                        result.max_side = (
                            short if result.max_side is None else max(result.max_side, short)
                        )
                result.seconds = time.perf_counter() - started
                if result.records == 0:
                    raise PackFailed(
                        f"{list_path}: none of its {len(entries)} images could be packed; nothing written"
                    )
                skipped_path = stem + SKIPPED_SUFFIX
                if result.skipped:
                    table = outputs.open(skipped_path, "w", encoding="utf-8", newline="\n")
                    table.write("index\tpath\treason\n")
                    for s in result.skipped:
                        table.write(f"{s.index}\t{s.path}\t{s.reason}\n")
                results.append(result)
            outputs.commit()
    except (
        OSError
    ) as exc:  # a full disk, a read-only folder: the run cannot go on, and nothing is left behind
        if writing is None:
            raise PackFailed(f"cannot start the packing workers: {exc.strerror or exc}") from None
        where = f" ({exc.filename})" if exc.filename else ""
        raise PackFailed(
            f"cannot write {writing}{where}: {exc.strerror or exc}; "
            "no output was written at the final paths"
        ) from None
    for result in results:
        stale = os.path.splitext(result.list_path)[0] + SKIPPED_SUFFIX
        if not result.skipped and os.path.exists(stale):
            os.remove(stale)  # from an earlier run; this run skipped nothing
        report(result.summary())
    return results
