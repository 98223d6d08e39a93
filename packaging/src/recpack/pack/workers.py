"""The workers of `recpack pack`: each list entry becomes an ImageResult, in list order.

Three ways, one result: a pool of forked processes talking over plain pipes (Linux, macOS), a
spawned multiprocessing Pool where there is no fork (Windows), and the calling process alone (one
worker). Workers decode, transform, encode and frame each image as finished RecordIO bytes.
"""

from __future__ import annotations

import gc
import os
import pickle
import selectors
import signal
import struct
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import EnvironmentFault, PackFailed, RecordIOError
from ..format import recordio
from ..format.lst import ListEntry
from ..format.recordio import Piece
from ..image.faults import memory_fault
from ..image.transform import (
    BadImage,
    PackOptions,
    check_pass_through,
    preload,
    preload_codecs,
    transform,
    unreadable,
)
from .results import ImageResult, Kind

CHUNK = 4  # entries per task: small, so one slow image holds back little of the ordered output
_RESULT = struct.Struct("<qIIBI")  # position, width, height, Kind value, body length
_NOTE = 255  # in a _RESULT header's kind byte: a note on the next result follows, not a result
_LENGTH = struct.Struct("<Q")  # each message on a pipe: its length, then its bytes


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# --- one entry ------------------------------------------------------------------------------------

_worker_root: str = ""
_worker_options: PackOptions = PackOptions()
_worker_pack_label: bool = False


def configure(root: str, options: PackOptions, pack_label: bool) -> None:
    """What every worker packs with: called in the parent before forking, and as a spawned
    Pool's initializer."""
    global _worker_root, _worker_options, _worker_pack_label
    _worker_root, _worker_options, _worker_pack_label = root, options, pack_label


def _record_label(entry: ListEntry, pack_label: bool) -> recordio.Label:
    # im2rec packs all labels only with --pack-label and more than one label column.
    if pack_label and len(entry.labels) > 1:
        return entry.labels
    return entry.label


def _pack_one(entry: ListEntry, check_only: bool = False) -> ImageResult:
    """One list entry as a framed record; with `check_only` (pass-through in a worker) a COPY once
    the file is known to be whole: the parent copies it."""
    try:
        path = os.path.join(_worker_root, entry.path)
        if check_only:
            width, height, notes = check_pass_through(path)
            return ImageResult.copy(width, height, "; ".join(notes))
        data, width, height, notes = transform(path, _worker_options)
        payload = recordio.pack(_record_label(entry, _worker_pack_label), entry.index, data)
        framed = (recordio.encode_record(payload),)
        return ImageResult.record(framed, width, height, "; ".join(notes))
    except (BadImage, RecordIOError) as exc:
        return ImageResult.skipped(str(exc))
    except EnvironmentFault as exc:
        return ImageResult.fault(str(exc))
    except MemoryError:
        return ImageResult.fault(str(memory_fault(entry.path)))
    except Exception as exc:
        return _unforeseen(exc, os.path.join(_worker_root, entry.path))


def _unforeseen(exc: Exception, path: str) -> ImageResult:
    """A decoder bug on one hostile file must not end the whole run; a system error (an OSError
    with an error number, where the transform did not expect one) may."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return _os_failure(exc, path)
    return ImageResult.skipped(f"cannot decode ({type(exc).__name__}: {exc})")


def _os_failure(exc: OSError, path: str) -> ImageResult:
    """A fault of the machine stops the run; anything else is this image's problem."""
    failure = unreadable(exc, path)
    if isinstance(failure, EnvironmentFault):
        return ImageResult.fault(str(failure))
    return ImageResult.skipped(str(failure))


def copy_file(entry: ListEntry, width: int, height: int) -> ImageResult:
    """The record of a file a worker checked for --pass-through, as pieces to write. Copied here rather
    than sent through a pipe: two fewer copies of every byte, and the parent is then as fast as `cat`."""
    try:
        with open(os.path.join(_worker_root, entry.path), "rb", buffering=0) as f:
            data = f.readall()
        payload = recordio.pack(_record_label(entry, _worker_pack_label), entry.index, data)
        return ImageResult.record(recordio.record_pieces(payload), width, height)
    except OSError as exc:
        return _os_failure(exc, os.path.join(_worker_root, entry.path))
    except RecordIOError as exc:
        return ImageResult.skipped(str(exc))


def keep_freed_memory() -> None:
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


# --- in this process, or in a spawned Pool --------------------------------------------------------


def serial_results(entries: Sequence[ListEntry]) -> Generator[ImageResult, None, None]:
    for entry in entries:
        yield _pack_one(entry)


def spawned_results(
    entries: Sequence[ListEntry], workers: int
) -> Generator[ImageResult, None, None]:
    """Where there is no fork (Windows): a spawned Pool, each worker set up by its initializer, with
    the same bounded window of entries in flight."""
    import multiprocessing

    window = threading.Semaphore(workers * CHUNK * 4)

    def windowed() -> Iterator[ListEntry]:
        for entry in entries:
            window.acquire()
            yield entry

    pool = multiprocessing.get_context("spawn").Pool(
        workers,
        initializer=configure,
        initargs=(_worker_root, _worker_options, _worker_pack_label),
    )
    try:
        for result in pool.imap(_pack_one, windowed(), chunksize=CHUNK):
            window.release()
            yield result
        pool.close()
    finally:
        # Unblock the pool's feeder thread, or terminate() waits on it.
        window.release(len(entries) + 1)
        pool.terminate()
        pool.join()


# --- forked workers and their pipes ---------------------------------------------------------------


def _send(fd: int, parts: Sequence[Piece]) -> None:
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


def _as_message(position: int, result: ImageResult) -> list[Piece]:
    """A result as the bytes a worker sends: a _RESULT header, then the record or the skip reason."""
    if result.kind in (Kind.SKIPPED, Kind.FAULT):
        reason = result.reason.encode("utf-8", "replace")
        return [_RESULT.pack(position, 0, 0, result.kind.value, len(reason)), reason]
    header = _RESULT.pack(position, result.width, result.height, result.kind.value, result.size)
    if not result.note:
        return [header, *result.pieces]
    note = result.note.encode("utf-8", "replace")
    return [_RESULT.pack(position, 0, 0, _NOTE, len(note)), note, header, *result.pieces]


def _from_message(message: bytearray) -> Iterator[tuple[int, ImageResult]]:
    """(position, result) for each result in a worker's message; records stay views of it."""
    view, offset, note = memoryview(message), 0, ""
    while offset < len(message):
        position, width, height, kind, length = _RESULT.unpack_from(message, offset)
        offset += _RESULT.size + length
        body = view[offset - length : offset]  # no copy of the record
        if kind == _NOTE:
            note = str(body, "utf-8")
            continue
        if kind == Kind.RECORD.value:
            yield position, ImageResult.record((body,), width, height, note)
        elif kind == Kind.COPY.value:
            yield position, ImageResult.copy(width, height, note)
        elif kind == Kind.FAULT.value:
            yield position, ImageResult.fault(str(body, "utf-8"))
        else:
            yield position, ImageResult.skipped(str(body, "utf-8"))
        note = ""


def _serve(tasks: int, results: int) -> None:
    """A worker: pack the entries that arrive on `tasks`; send each result, as bytes, on `results`."""
    # Ctrl-C reaches the whole group; the parent stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    preload()  # Pillow loads here while the parent reads the lists
    # What was imported stays for good: full collections need not walk it again (the collector was
    # ~0.3% of a run's CPU samples under perf).
    gc.freeze()
    check_only = _worker_options.pass_through
    while True:
        task = _receive(tasks)
        if not task:  # closed (the parent is gone) or the empty message: stop
            return
        first, chunk = pickle.loads(task)
        message: list[
            Piece
        ] = []  # one message per chunk: a quarter of the wake-ups and system calls
        for position, entry in enumerate(chunk, first):
            message += _as_message(position, _pack_one(entry, check_only))
        try:
            _send(results, message)
        except BrokenPipeError:
            return  # the parent is gone


def _fork_worker(tasks: int, results: int, parent_ends: list[int]) -> int:
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


@dataclass
class _Flow:
    """One list's way through the pool: what was sent, what came back, what waits for its turn."""

    entries: Sequence[ListEntry]
    window: int  # entries in flight or waiting, at most
    in_flight: list[int]  # per worker
    done: dict[int, ImageResult] = field(default_factory=dict)  # by position, not yet yielded
    sent: int = 0
    returned: int = 0


class ForkedPool:
    """Forked workers, started before the lists are read, fed entries in small chunks. Results come
    back as bytes (no pickling, no pool threads) and are yielded in list order; at most `window`
    entries are in flight or waiting, so memory does not grow with the list. Plain os.fork() and
    pipes rather than multiprocessing, whose import (~20 ms) would delay the first image."""

    def __init__(self, count: int) -> None:
        self.stopped = False
        self.pids: list[int] = []
        self.tasks: list[int] = []  # the parent's ends: it writes tasks, reads results
        self.results: list[int] = []
        self.exit_codes: dict[int, int] = {}
        # Once here rather than once in every worker; Pillow stays out of the parent.
        preload_codecs(opencv=bool(_worker_options.resize) and not _worker_options.pass_through)
        try:
            for _ in range(count):
                self._start_one()
        except BaseException:
            self.close()
            raise

    def _start_one(self) -> None:
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

    def run(self, entries: Sequence[ListEntry]) -> Generator[ImageResult, None, None]:
        """Each entry's result, in list order."""
        workers = len(self.pids)
        flow = _Flow(entries, window=workers * CHUNK * 4, in_flight=[0] * workers)
        selector = selectors.DefaultSelector()
        for number, fd in enumerate(self.results):
            selector.register(fd, selectors.EVENT_READ, number)
        try:
            self._feed(flow)
            while flow.returned < len(entries):
                result = flow.done.pop(flow.returned, None)
                if result is None:
                    self._collect(selector, flow)
                    continue
                if result.kind is Kind.COPY:
                    copied = copy_file(entries[flow.returned], result.width, result.height)
                    result = copied._replace(note=result.note)
                yield result
                flow.returned += 1
                self._feed(flow)
        finally:
            selector.close()

    def _feed(self, flow: _Flow) -> None:
        total = len(flow.entries)
        for number in sorted(range(len(self.pids)), key=flow.in_flight.__getitem__):
            # Two chunks per worker: one being packed, one queued, so it never waits for the parent.
            while (
                flow.in_flight[number] < 2 * CHUNK
                and flow.sent < total
                and flow.sent - flow.returned < flow.window
            ):
                count = min(CHUNK, total - flow.sent, flow.window - (flow.sent - flow.returned))
                chunk = flow.entries[flow.sent : flow.sent + count]
                task = pickle.dumps((flow.sent, chunk), pickle.HIGHEST_PROTOCOL)
                try:
                    _send(self.tasks[number], [task])
                except BrokenPipeError:
                    raise self._ended(number, flow.entries[flow.returned].path) from None
                flow.in_flight[number] += count
                flow.sent += count

    def _collect(self, selector: selectors.BaseSelector, flow: _Flow) -> None:
        """Wait for results and file them under their list position."""
        for key, _ in selector.select():
            number = key.data
            message = _receive(key.fd)
            if message is None:
                raise self._ended(number, flow.entries[flow.returned].path)
            for position, result in _from_message(message):
                flow.done[position] = result
                flow.in_flight[number] -= 1

    def __enter__(self) -> ForkedPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            for fd in self.tasks:
                _send(fd, [])  # the empty message: stop
            self.stopped = True
        self.close()

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
