"""The .lst format im2rec reads and writes: `index<TAB>label[<TAB>label...]<TAB>path`."""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from ..errors import ListFileError


@dataclass(frozen=True)
class ListEntry:
    index: int
    labels: tuple[float, ...]
    path: str  # relative to ROOT, '/'-separated

    @property
    def label(self) -> float:
        return self.labels[0]


def format_line(index: int, labels: Sequence[float], path: str) -> str:
    # im2rec prints labels with %f; keep it so lists diff cleanly against im2rec's.
    return f"{index}\t" + "".join(f"{label:f}\t" for label in labels) + f"{path}\n"


def write_list(stream: IO[str], entries: Iterable[ListEntry]) -> int:
    count = 0
    for entry in entries:
        stream.write(format_line(entry.index, entry.labels, entry.path))
        count += 1
    return count


def check_relative_path(path: str) -> str | None:
    """Why `path` may not be used under ROOT, or None when it is safe."""
    if not path:
        return "the path is empty"
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return "absolute paths are not allowed; paths are relative to ROOT"
    if ".." in path.replace("\\", "/").split("/"):
        return "'..' would escape ROOT"
    if "\0" in path:
        return "the path contains a NUL byte"
    return None


def parse_list(path: str | os.PathLike[str]) -> list[ListEntry]:
    """Every entry of a .lst file, validated in full before anything is packed."""
    path = os.fspath(path)
    entries: list[ListEntry] = []
    first_seen: dict[int, int] = {}
    for line_no, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        entry = _parse_line(line, where)
        if entry.index in first_seen:
            raise ListFileError(
                f"{where}: duplicate index {entry.index} (first used on line {first_seen[entry.index]})"
            )
        first_seen[entry.index] = line_no
        entries.append(entry)
    if not entries:
        raise ListFileError(f"{path}: the list is empty")
    return entries


def _read_lines(path: str) -> list[str]:
    try:
        # utf-8-sig: a list saved by a Windows editor starts with a byte order mark.
        with open(path, encoding="utf-8-sig", newline="") as f:
            return f.read().splitlines()
    except UnicodeDecodeError as exc:
        raise ListFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ListFileError(f"{path}: cannot read: {exc.strerror}") from None


def _parse_line(line: str, where: str) -> ListEntry:
    """One non-blank .lst line; `where` (file:line) starts every error message."""
    fields = [field.strip() for field in line.split("\t")]
    if len(fields) < 3:
        raise ListFileError(
            f"{where}: expected 'index<TAB>label<TAB>path' (3 or more tab-separated columns), "
            f"found {len(fields)}: {line!r}"
        )
    index = _parse_index(fields[0], where)
    labels = tuple(_parse_label(text, column, where) for column, text in enumerate(fields[1:-1], 2))
    image_path = fields[-1]
    problem = check_relative_path(image_path)
    if problem:
        raise ListFileError(f"{where}: path {image_path!r}: {problem}")
    return ListEntry(index, labels, posixpath.normpath(image_path.replace("\\", "/")))


def _parse_index(text: str, where: str) -> int:
    try:
        index = int(text)
    except ValueError:
        raise ListFileError(f"{where}: index {text!r} is not an integer") from None
    if index < 0 or index >= 1 << 64:
        raise ListFileError(f"{where}: index {index} is outside 0..2^64-1")
    return index


def _parse_label(text: str, column: int, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ListFileError(f"{where}: label {text!r} in column {column} is not a number") from None
    if not math.isfinite(value):
        raise ListFileError(f"{where}: label {text!r} in column {column} is not a finite number")
    return value
