"""The label map `recpack list` writes beside the lists: PREFIX_labels.tsv.

A header `label  class_id  name  <split>...` then one row per class, tab-separated; the split
columns (train, val, test or all) count the class's images in each list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import DatasetError

SUFFIX = "_labels.tsv"


def _clean(value: object) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def render(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return "".join("\t".join(_clean(v) for v in row) + "\n" for row in [header, *rows])


def read(path: str) -> list[dict[str, str]]:
    """Rows of a label map written by `recpack list`, as dicts keyed by its header."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the label map: {exc.strerror}") from None
    if not lines or not lines[0].startswith("label\t"):
        raise DatasetError(f"{path}: not a recpack label map (no 'label' header)")
    header = lines[0].split("\t")
    rows = []
    for line_no, line in enumerate(lines[1:], 2):
        values = line.split("\t")
        if len(values) != len(header):
            raise DatasetError(
                f"{path}:{line_no}: expected {len(header)} columns, found {len(values)}"
            )
        rows.append(dict(zip(header, values, strict=True)))
    return rows
