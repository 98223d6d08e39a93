"""What packing produces: one result per image, and a summary per list."""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..format.recordio import Piece

_SHOWN_SMALL = 5


class Kind(enum.Enum):
    """What became of one list entry. The values are the byte a worker sends for it."""

    SKIPPED = 0  # `reason` says why; nothing is written
    RECORD = 1  # `pieces` are the record's bytes as they go into the .rec
    COPY = 2  # pass-through: a worker checked the file, the parent reads and frames it
    FAULT = 3  # the machine failed (image.faults): `reason` says how; the run stops


class ImageResult(NamedTuple):
    """Immutable, and a named tuple rather than a frozen dataclass: one is made per image in the
    workers and the parent, and a tuple is made ten times faster."""

    kind: Kind
    pieces: Sequence[Piece] = ()
    reason: str = ""
    width: int = 0
    height: int = 0
    note: str = ""  # what the decoder warned about a file that is packed all the same

    @classmethod
    def record(
        cls, pieces: Sequence[Piece], width: int, height: int, note: str = ""
    ) -> ImageResult:
        return cls(Kind.RECORD, pieces, "", width, height, note)

    @classmethod
    def copy(cls, width: int, height: int, note: str = "") -> ImageResult:
        return cls(Kind.COPY, (), "", width, height, note)

    @classmethod
    def skipped(cls, reason: str) -> ImageResult:
        return cls(Kind.SKIPPED, (), reason)

    @classmethod
    def fault(cls, reason: str) -> ImageResult:
        return cls(Kind.FAULT, (), reason)

    @property
    def size(self) -> int:
        """Bytes the record takes in the .rec."""
        return sum(map(len, self.pieces))


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
    training_side: int = 0  # images with a shorter side are noted in `small`; 0: not checked
    small: list[tuple[str, int, int]] = field(default_factory=list)  # (path, width, height)

    def add_record(self, size: int, width: int, height: int, path: str = "") -> None:
        self.records += 1
        self.bytes += size
        short = min(width, height)
        if short < self.training_side:
            self.small.append((path, width, height))
        self.min_side = short if self.min_side is None else min(self.min_side, short)
        self.max_side = short if self.max_side is None else max(self.max_side, short)

    def small_warning(self) -> str | None:
        """A warning naming the images smaller than the training shape, or None."""
        if not self.small:
            return None
        shown = ", ".join(f"{path} ({w}x{h})" for path, w, h in self.small[:_SHOWN_SMALL])
        more = (
            f" and {len(self.small) - _SHOWN_SMALL} more" if len(self.small) > _SHOWN_SMALL else ""
        )
        return (
            f"{os.path.basename(self.rec_path)}: {len(self.small)} images are smaller than "
            f"{self.training_side} px on a side, the training image_shape: {shown}{more}; the "
            f"algorithm fails on them: pack with --resize {self.training_side} or more, or leave "
            "them out (--min-size 0 turns this check off)"
        )

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{os.path.basename(self.rec_path)}: {self.records} records, {len(self.skipped)} skipped, "
            f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s ({rate:.0f} images/s)"
        )
