"""`recpack verify`: read a .rec through its .idx and sequentially, and decode every image."""

from __future__ import annotations

import io
import os
from collections import Counter
from dataclasses import dataclass, field

from .. import defaults
from ..errors import RecordIOError, VerifyFailed
from ..format import recordio

RecordLabel = float | tuple[float, ...]
_SHOWN_SMALL = 5


def _area(size: tuple[int, int]) -> int:
    return size[0] * size[1]


@dataclass
class VerifyResult:
    rec_path: str
    records: int = 0
    label_counts: Counter[RecordLabel] = field(default_factory=Counter)
    min_size: tuple[int, int] | None = None
    max_size: tuple[int, int] | None = None
    indexed: bool = False
    min_side: int = 0  # the training shape's side; 0: not checked
    small: list[tuple[int, int, int]] = field(default_factory=list)  # (id, w, h) below min_side

    def add(self, header: recordio.IRHeader, size: tuple[int, int]) -> None:
        """Count one record whose image decoded at `size`."""
        self.records += 1
        if min(size) < self.min_side:
            self.small.append((header.id, *size))
        self.label_counts[header.label] += 1  # a float, or a tuple for multi-label records
        self.min_size = size if self.min_size is None else min(self.min_size, size, key=_area)
        self.max_size = size if self.max_size is None else max(self.max_size, size, key=_area)

    def describe(self) -> str:
        labels = ", ".join(
            f"{_format_label(label)}: {count}" for label, count in sorted(self.label_counts.items())
        )
        sizes = ""
        if self.min_size and self.max_size:
            sizes = (
                f"; image sizes from {self.min_size[0]}x{self.min_size[1]} "
                f"to {self.max_size[0]}x{self.max_size[1]}"
            )
        via = "index and sequential read agree" if self.indexed else "no .idx, sequential read only"
        text = (
            f"{os.path.basename(self.rec_path)}: OK, {self.records} records ({via}){sizes}\n"
            f"  records per label: {labels}"
        )
        if self.small:
            shown = ", ".join(f"id {i} ({w}x{h})" for i, w, h in self.small[:_SHOWN_SMALL])
            more = (
                f" and {len(self.small) - _SHOWN_SMALL} more"
                if len(self.small) > _SHOWN_SMALL
                else ""
            )
            text += (
                f"\n  warning: {len(self.small)} images are smaller than {self.min_side} px on a side, the "
                f"training image_shape: {shown}{more}; the algorithm fails on them (pack with --resize "
                f"{self.min_side} or more)"
            )
        return text


def _format_label(label: RecordLabel) -> str:
    if isinstance(label, tuple):
        return "(" + ",".join(f"{x:g}" for x in label) + ")"
    return f"{label:g}"


def _decode(payload: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as image:
        size = image.size
        # Decoding at reduced scale still reads every byte of the entropy-coded data.
        image.draft(image.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
        image.load()
    return size


def _index_keys(idx_path: str) -> dict[int, int]:
    """offset -> key of every .idx line; two keys at one offset are an error."""
    keys_at: dict[int, int] = {}
    for key, offset in recordio.read_index(idx_path):
        if offset in keys_at:
            raise VerifyFailed(
                f"{idx_path}: keys {keys_at[offset]} and {key} both point at offset {offset}"
            )
        keys_at[offset] = key
    return keys_at


def _check_record(
    payload: bytes, where: str, keys_at: dict[int, int] | None, offset: int, idx_path: str
) -> tuple[recordio.IRHeader, tuple[int, int]]:
    """The record's header and its image's size, once its header, index key and image check out."""
    try:
        header, image = recordio.unpack(payload)
    except RecordIOError as exc:
        raise VerifyFailed(f"{where}: {exc}") from None
    if keys_at is not None:
        if offset not in keys_at:
            raise VerifyFailed(f"{where}: not in {os.path.basename(idx_path)}")
        if keys_at[offset] != header.id:
            raise VerifyFailed(
                f"{where}: header id {header.id} but the index key is {keys_at[offset]}"
            )
    try:
        return header, _decode(image)
    except Exception as exc:  # any decoder failure is a corrupt record, reported by position
        raise VerifyFailed(f"{where} (id {header.id}): image does not decode: {exc}") from None


def _check_every_key_seen(keys_at: dict[int, int], seen_offsets: set[int], idx_path: str) -> None:
    missing = sorted(set(keys_at) - seen_offsets)
    if missing:
        raise VerifyFailed(
            f"{idx_path}: key {keys_at[missing[0]]} points at offset {missing[0]}, "
            "where no record starts"
        )


def verify(
    rec_path: str, idx_path: str | None = None, min_side: int = defaults.TRAINING_SIDE
) -> VerifyResult:
    if not os.path.isfile(rec_path):
        raise VerifyFailed(f"{rec_path}: no such file")
    idx_path = idx_path or os.path.splitext(rec_path)[0] + ".idx"
    result = VerifyResult(rec_path, min_side=min_side)
    keys_at = _index_keys(idx_path) if os.path.isfile(idx_path) else None
    result.indexed = keys_at is not None
    seen_offsets: set[int] = set()
    with recordio.RecordReader(rec_path) as reader:
        for number, (offset, payload) in enumerate(reader, 1):
            where = f"{rec_path}: record {number} at byte offset {offset}"
            result.add(*_check_record(payload, where, keys_at, offset, idx_path))
            seen_offsets.add(offset)
    if keys_at is not None:
        _check_every_key_seen(keys_at, seen_offsets, idx_path)
    if result.records == 0:
        raise VerifyFailed(f"{rec_path}: holds no records")
    return result
