"""A large output file written around the page cache (Linux O_DIRECT), in aligned 1 MB blocks.

Copying a .rec into the page cache costs the writer CPU time (on the 2-core VM of
docs/benchmarks.md, 94 MB took 0.2-0.3 CPU-seconds buffered and 0.01 s direct), and a 9 GB
pass-through pack would also push the files being read out of the cache. With O_DIRECT the disk
takes the bytes straight from our buffer. Where the platform or the filesystem does not offer it
(macOS, Windows, tmpfs, some network filesystems), the same object writes through the page cache.
"""

from __future__ import annotations

import errno
import mmap
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer

_BLOCK = 1 << 20
_ALIGN = (
    4096  # O_DIRECT needs buffer, offset and length aligned to the device's block: 4 KB covers it
)
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class UncachedWriter:
    """A write-only binary file: write(), writelines(), flush(), fileno(), close(). flush() leaves the file holding
    exactly the bytes written so far (fsync it afterwards to make them durable)."""

    def __init__(self, path: str) -> None:
        flags = (
            os.O_WRONLY
            | os.O_CREAT
            | os.O_TRUNC
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0)
        )
        self._direct = bool(_O_DIRECT)
        try:
            self._fd = os.open(path, flags | _O_DIRECT, 0o666)
        except OSError as exc:
            if exc.errno != errno.EINVAL or not self._direct:
                raise
            self._direct = False  # this filesystem refuses O_DIRECT at open
            self._fd = os.open(path, flags, 0o666)
        self._buffer = mmap.mmap(-1, _BLOCK)  # page-aligned, as O_DIRECT requires
        self._view = memoryview(self._buffer)
        self._used = 0  # bytes waiting in the buffer
        self._size = 0  # bytes written by the caller
        self.closed = False

    @property
    def direct(self) -> bool:
        """Whether the bytes are going around the page cache."""
        return self._direct

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Buffer) -> int:
        data = memoryview(data).cast("B")
        length, taken = len(data), 0
        while taken < length:
            room = min(_BLOCK - self._used, length - taken)
            self._view[self._used : self._used + room] = data[taken : taken + room]
            self._used += room
            taken += room
            if self._used == _BLOCK:
                self._write_out(_BLOCK)
                self._used = 0
        self._size += length
        return length

    def writelines(self, pieces: Iterable[Buffer]) -> None:
        for piece in pieces:
            self.write(piece)

    def flush(self) -> None:
        """Write the partial last block too, zero-padded to the alignment, and cut the file back to its
        real size; the block stays buffered and the position goes back to its start, so later writes
        extend it."""
        if self._used:
            padded = -(-self._used // _ALIGN) * _ALIGN
            self._view[self._used : padded] = bytes(padded - self._used)
            self._write_out(padded)
            os.lseek(self._fd, -padded, os.SEEK_CUR)
        os.ftruncate(self._fd, self._size)

    def _write_out(self, length: int) -> None:
        done = 0
        while done < length:
            try:
                with self._view[done:length] as pending:  # released even when the write fails
                    done += os.write(self._fd, pending)
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self._direct:
                    raise
                self._write_through_cache()  # refused at the first write (FUSE, some network filesystems)

    def _write_through_cache(self) -> None:
        import fcntl

        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~_O_DIRECT)
        self._direct = False

    def close(self) -> None:
        """Closes without flushing: AtomicOutputs flushes what it commits and discards the rest."""
        if not self.closed:
            self.closed = True
            self._view.release()
            self._buffer.close()
            os.close(self._fd)

    def __enter__(self) -> UncachedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
