"""The label map `recpack list` writes beside the lists: PREFIX_labels.tsv.

A header `label  class_id  name  <split>...` then one row per class, tab-separated; the split
columns (train, val, test or all) count the class's images in each list.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Sequence

from ..errors import DatasetError

SUFFIX = "_labels.tsv"


def _clean(value: object) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def render(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return "".join("\t".join(_clean(v) for v in row) + "\n" for row in [header, *rows])


def _text(path: str) -> str:
    """The file's text: UTF-8 with or without a byte order mark, or UTF-16 with one (Excel's
    "Unicode Text")."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the label map: {exc.strerror}") from None
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: the label map is not UTF-8 text ({exc.reason} at byte {exc.start}); save it "
            "as UTF-8 (in Excel: 'Text (Tab delimited)' is not UTF-8, 'Unicode Text' or "
            "'CSV UTF-8' are) and keep it tab-separated"
        ) from None


def _fields(line: str) -> list[str]:
    return next(csv.reader([line], delimiter="\t"))


def read(path: str) -> list[dict[str, str]]:
    """Rows of a label map written by `recpack list`, as dicts keyed by its header. Also reads it
    after a spreadsheet saved it again: CRLF line ends, a byte order mark, quoted fields."""
    lines = [(n, line) for n, line in enumerate(_text(path).splitlines(), 1) if line.strip()]
    first = lines[0][1] if lines else ""
    if first.startswith(("label,", "label;")):
        raise DatasetError(
            f"{path}: the label map is comma-separated; save it as tab-separated text "
            "(in Excel: 'Unicode Text'), as 'recpack list' wrote it"
        )
    if not first.startswith("label\t"):
        raise DatasetError(f"{path}: not a recpack label map (no 'label' header)")
    header = [value.strip() for value in _fields(first)]
    rows = []
    for line_no, line in lines[1:]:
        values = _fields(line)
        while len(values) > len(header) and not values[-1].strip():
            values.pop()  # empty cells a spreadsheet adds at the end of a row
        if len(values) != len(header):
            raise DatasetError(
                f"{path}:{line_no}: expected {len(header)} columns, found {len(values)}"
            )
        rows.append(dict(zip(header, (value.strip() for value in values), strict=True)))
    return rows
