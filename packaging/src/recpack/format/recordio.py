"""MXNet RecordIO, byte-compatible with MXNet 1.9.1 (dmlc-core recordio.cc and mxnet.recordio).

A record on disk is `magic | lrec | payload | zero pad to 4 bytes`, little-endian, where
`lrec = cflag << 29 | length`. The writer splits a payload wherever the magic occurs at a 4-aligned
offset inside it (cflag 1 first, 2 middle, 3 last); those 4 bytes are dropped and the reader puts
them back. An image record's payload starts with an IRHeader.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO

from ..errors import RecordIOError

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
MAX_RECORD_BYTES = (1 << 29) - 1  # lrec keeps 29 bits for the length
_LREC = struct.Struct("<II")
_IR_HEADER = struct.Struct("<IfQQ")  # flag, label, id, id2: MXNet's 'IfQQ' (24 bytes, no padding)
IR_HEADER_SIZE = _IR_HEADER.size

Label = float | Sequence[float]
# What a record is written as: header bytes and views of the payload, never joined into one copy.
Piece = bytes | memoryview


@dataclass(frozen=True)
class IRHeader:
    flag: int
    label: float | tuple[float, ...]
    id: int
    id2: int = 0


def pack_header(label: Label, record_id: int, id2: int = 0) -> bytes:
    """The IRHeader bytes (plus float32 labels for multi-label), as mxnet.recordio.pack writes them."""
    if isinstance(label, (int, float)):
        return _IR_HEADER.pack(0, float(label), record_id, id2)
    labels = [float(x) for x in label]
    return _IR_HEADER.pack(len(labels), 0.0, record_id, id2) + struct.pack(
        f"<{len(labels)}f", *labels
    )


def pack(label: Label, record_id: int, payload: bytes, id2: int = 0) -> bytes:
    return pack_header(label, record_id, id2) + payload


def unpack(record: bytes) -> tuple[IRHeader, bytes]:
    """Split an image record into its header and the encoded image (mxnet.recordio.unpack)."""
    if len(record) < IR_HEADER_SIZE:
        raise RecordIOError(
            f"record of {len(record)} bytes is shorter than an IRHeader ({IR_HEADER_SIZE})"
        )
    flag, label, record_id, id2 = _IR_HEADER.unpack_from(record)
    body = record[IR_HEADER_SIZE:]
    if flag > 0:
        if len(body) < 4 * flag:
            raise RecordIOError(
                f"record declares {flag} labels but holds only {len(body)} bytes after its header"
            )
        labels = struct.unpack_from(f"<{flag}f", body)
        return IRHeader(flag, labels, record_id, id2), body[4 * flag :]
    return IRHeader(flag, label, record_id, id2), body


def record_pieces(payload: bytes) -> list[Piece]:
    """The on-disk bytes of one record, split at aligned magic words exactly as dmlc-core does, as
    pieces to write in order: headers, and views of `payload` rather than copies of it."""
    length = len(payload)
    if length > MAX_RECORD_BYTES:
        raise RecordIOError(
            f"a record of {length} bytes is too large: RecordIO holds at most {MAX_RECORD_BYTES}"
        )
    view = memoryview(payload)
    pieces: list[Piece] = []
    start = 0
    find = payload.find
    pos = find(MAGIC_BYTES)
    while pos != -1:
        if pos % 4 == 0:
            cflag = 1 if start == 0 else 2
            pieces.append(_LREC.pack(MAGIC, (cflag << 29) | (pos - start)))
            pieces.append(view[start:pos])
            start = pos + 4
            pos = find(MAGIC_BYTES, start)
        else:
            pos = find(MAGIC_BYTES, pos + 1)
    cflag = 0 if start == 0 else 3
    pieces.append(_LREC.pack(MAGIC, (cflag << 29) | (length - start)))
    pieces.append(view[start:])
    if length % 4:
        pieces.append(b"\0" * (-length % 4))
    return pieces


def encode_record(payload: bytes) -> bytes:
    """The on-disk bytes of one record (record_pieces joined)."""
    return b"".join(record_pieces(payload))


class RecordWriter:
    """Appends records to a .rec stream and their offsets to an .idx stream."""

    def __init__(self, rec: BinaryIO, idx: IO[str] | None = None):
        self._rec = rec
        self._idx = idx
        self.position = 0
        self.count = 0

    def write(self, payload: bytes, key: int | None = None) -> int:
        offset = self.position
        data = encode_record(payload)
        self._rec.write(data)
        self.position += len(data)
        self.count += 1
        if self._idx is not None and key is not None:
            self._idx.write(f"{key}\t{offset}\n")
        return offset


class RecordReader:
    """Reads records sequentially or at an offset, with errors naming the file and the offset."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")
        self.size = os.fstat(self._file.fileno()).st_size

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, offset: int, what: str) -> RecordIOError:
        return RecordIOError(f"{self.path}: {what} at byte offset {offset}")

    def read_at(self, offset: int) -> tuple[bytes, int]:
        """The payload of the record whose magic is at `offset`, and the offset of the next record."""
        f = self._file
        f.seek(offset)
        chunks: list[bytes] = []
        start = offset
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise self._fail(offset, f"truncated record header ({len(head)} of 8 bytes)")
            magic, lrec = _LREC.unpack(head)
            if magic != MAGIC:
                raise self._fail(offset, f"bad magic 0x{magic:08x} (expected 0x{MAGIC:08x})")
            cflag, length = lrec >> 29, lrec & MAX_RECORD_BYTES
            expected_first = not chunks
            if cflag in (0, 1) and not expected_first or cflag in (2, 3) and expected_first:
                raise self._fail(
                    offset,
                    f"continuation flag {cflag} out of sequence in the record starting at {start}",
                )
            padded = length + (-length % 4)
            body = f.read(padded)
            if len(body) < padded:
                raise self._fail(
                    offset,
                    f"truncated record: {length} bytes declared, {max(0, len(body))} present",
                )
            chunks.append(body[:length])
            offset += 8 + padded
            if cflag in (0, 3):
                return MAGIC_BYTES.join(chunks), offset

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        """(offset, payload) for every record in file order."""
        offset = 0
        while offset < self.size:
            payload, following = self.read_at(offset)
            yield offset, payload
            offset = following


def read_index(path: str | os.PathLike) -> list[tuple[int, int]]:
    """(key, offset) pairs of an .idx file, in file order."""
    entries = []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2:
                raise RecordIOError(
                    f"{path}:{line_no}: expected 'key<TAB>offset', got {line.rstrip()!r}"
                )
            try:
                entries.append((int(fields[0]), int(fields[1])))
            except ValueError:
                raise RecordIOError(
                    f"{path}:{line_no}: key and offset must be integers, got {line.rstrip()!r}"
                ) from None
    return entries
