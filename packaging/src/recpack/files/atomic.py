"""Outputs appear at their final path complete or not at all.

Each output is written to a hidden temporary file beside it and renamed over the final path only
when the whole run succeeded. A killed run leaves the temporary file behind; the next run removes
it (when its writer is gone) before writing.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from contextlib import ExitStack
from typing import IO, Any, Literal, TypeVar, overload

from .ownership import TEMPORARY_MARK as _TMP_MARK
from .uncached import UncachedWriter

_Handle = TypeVar("_Handle", IO[Any], UncachedWriter)


def _temp_path(final: str) -> str:
    head, tail = os.path.split(final)
    return os.path.join(head, f".{tail}{_TMP_MARK}{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temporaries(final: str) -> None:
    head, tail = os.path.split(final)
    for leftover in glob.glob(os.path.join(glob.escape(head), f".{glob.escape(tail)}{_TMP_MARK}*")):
        pid_text = leftover.rsplit(_TMP_MARK, 1)[1]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or not _pid_alive(int(pid_text)):
            try:
                os.remove(leftover)
            except FileNotFoundError:
                pass


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicOutputs:
    """A set of files committed together: all renamed into place by commit(), or none."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._files: dict[str, tuple[str, IO[Any] | UncachedWriter]] = {}
        self._committed = False

    @overload
    def open(
        self, final: str, mode: str = ..., *, uncached: Literal[False] = ..., **kwargs: Any
    ) -> IO[Any]: ...

    @overload
    def open(self, final: str, mode: str = ..., *, uncached: Literal[True]) -> UncachedWriter: ...

    def open(
        self, final: str, mode: str = "wb", *, uncached: bool = False, **kwargs: Any
    ) -> IO[Any] | UncachedWriter:
        """A file to write `final` through; `uncached` (binary) writes it around the page cache."""
        if uncached:
            return self._add(final, UncachedWriter)
        return self._add(final, lambda temp: open(temp, mode, **kwargs))

    def _add(self, final: str, opener: Callable[[str], _Handle]) -> _Handle:
        final = os.path.abspath(final)
        remove_stale_temporaries(final)
        temp = _temp_path(final)
        handle = self._stack.enter_context(opener(temp))
        self._files[final] = (temp, handle)
        return handle

    def commit(self) -> None:
        for _, handle in self._files.values():
            handle.flush()
            os.fsync(handle.fileno())
        self._stack.close()
        for final, (temp, _) in self._files.items():
            os.replace(temp, final)
        for directory in {os.path.dirname(final) for final in self._files}:
            _fsync_dir(directory)
        self._committed = True

    def discard(self) -> None:
        self._stack.close()
        for temp, _ in self._files.values():
            try:
                os.remove(temp)
            except FileNotFoundError:
                pass
        self._files.clear()

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            self.discard()


def write_text_atomically(path: str, text: str) -> None:
    with AtomicOutputs() as outputs:
        outputs.open(path, "w", encoding="utf-8", newline="").write(text)
        outputs.commit()
