"""Writing the lists and label map of `recpack list`, all or nothing."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from ..errors import DatasetError
from ..files.atomic import AtomicOutputs
from ..format import labelmap
from ..format.lst import ListEntry, write_list
from .model import Dataset
from .split import SplitOptions, split, split_name, split_names

_SHOWN_CLASSES = 20
_SHOWN_EMPTY = 5
_FIXED_COLUMNS = ["label", "class_id", "name"]


@dataclass
class ListOutcome:
    dataset: Dataset
    lists: dict[str, int]  # path -> lines
    label_map: str
    rows: list[list[str]]
    header: list[str]
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"{len(self.dataset.images)} images in {len(self.dataset.classes)} classes "
            f"({self.dataset.layout} layout)"
        ]
        lines += [f"wrote {path} ({count} images)" for path, count in self.lists.items()]
        lines.append(f"wrote {self.label_map}")
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.header)]
        for row in [self.header, *self.rows[:_SHOWN_CLASSES]]:
            lines.append(
                "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip()
            )
        if len(self.rows) > _SHOWN_CLASSES:
            lines.append(
                f"  ... {len(self.rows) - _SHOWN_CLASSES} more classes in {self.label_map}"
            )
        return "\n".join(lines)


def label_map_rows(
    dataset: Dataset, splits: dict[str, list[ListEntry]]
) -> tuple[list[str], list[list[str]]]:
    """The label map's header and one row per class: its label, id, name and count per split."""
    names = split_names(list(splits))
    counts = {(name, c.label): 0 for name in names for c in dataset.classes}
    for suffix, entries in splits.items():
        name = split_name(suffix)
        for entry in entries:
            counts[(name, int(entry.label))] += 1
    header = _FIXED_COLUMNS + names
    rows = [
        [str(c.label), c.class_id, c.name] + [str(counts[(n, c.label)]) for n in names]
        for c in dataset.classes
    ]
    return header, rows


def _check_prefix(prefix: str) -> None:
    if not os.path.basename(prefix):
        raise DatasetError(
            f"PREFIX {prefix!r} names a folder, not a file name prefix: give one such as "
            f"{os.path.join(prefix, 'birds')}"
        )


def _empty_split_warnings(header: list[str], rows: list[list[str]]) -> list[str]:
    warnings = []
    split_columns = header[len(_FIXED_COLUMNS) :]
    for row in rows:
        _, class_id, name, *counts = row
        empty = [
            column for column, count in zip(split_columns, counts, strict=True) if count == "0"
        ]
        if empty:
            warnings.append(
                f"class {class_id} ({name}) has {sum(map(int, counts))} image(s) and none in "
                f"{', '.join(empty)}"
            )
    return warnings


def check_trainable(
    dataset: Dataset, header: list[str], rows: list[list[str]], allow_single_class: bool
) -> None:
    """Refuse lists the training job would fail on or learn nothing from, before any GPU time is
    paid for: fewer than two classes, or a class with no image in the train list."""
    if len(dataset.classes) < 2 and not allow_single_class:
        only = dataset.classes[0] if dataset.classes else None
        named = f" ({only.class_id}: {only.name})" if only and only.name != only.class_id else ""
        raise DatasetError(
            f"only one class{named} under ROOT {dataset.root!r}: training needs at least 2 "
            "(num_classes >= 2); add class folders or choose more with --classes (for a test set "
            "that is not trained on: 'recpack list --allow-single-class')"
        )
    if "train" not in header:
        return
    column = header.index("train")
    untrained = [row for row in rows if row[column] == "0"]
    if untrained:
        shown = ", ".join(
            f"{row[1]} ({row[2]})" if row[2] != row[1] else row[1]
            for row in untrained[:_SHOWN_EMPTY]
        )
        more = f" and {len(untrained) - _SHOWN_EMPTY} more" if len(untrained) > _SHOWN_EMPTY else ""
        raise DatasetError(
            f"{len(untrained)} of {len(rows)} classes would have no image in the train list: "
            f"{shown}{more}; the model cannot learn a class it never sees: add images to them, "
            "raise --train-ratio, or leave them out with --classes"
        )


def write_lists(
    prefix: str, dataset: Dataset, options: SplitOptions, *, allow_single_class: bool = False
) -> ListOutcome:
    """The lists and label map of `dataset` at PREFIX, all or nothing. Refuses (DatasetError) lists
    that cannot train: fewer than two classes unless `allow_single_class`, or a class left without
    a training image."""
    _check_prefix(prefix)
    splits = split(dataset, options)
    header, rows = label_map_rows(dataset, splits)
    check_trainable(dataset, header, rows, allow_single_class)
    warnings = _empty_split_warnings(header, rows)
    written: dict[str, int] = {}
    label_map = prefix + labelmap.SUFFIX
    folder = os.path.dirname(os.path.abspath(prefix))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"PREFIX {prefix!r}: cannot create its folder {folder}: {exc.strerror or exc}"
        ) from None
    with AtomicOutputs() as outputs:
        for suffix, entries in splits.items():
            path = prefix + suffix + ".lst"
            written[path] = write_list(
                outputs.open(path, "w", encoding="utf-8", newline="\n"), entries
            )
        outputs.open(label_map, "w", encoding="utf-8", newline="\n").write(
            labelmap.render(header, rows)
        )
        outputs.commit()
    others = sorted(
        set(glob.glob(glob.escape(prefix) + "*.lst"))
        - set(map(os.path.normpath, written))
        - set(written)
    )
    if others:
        warnings.append(
            f"other lists match {prefix}*.lst and 'recpack pack {prefix}' will pack them too: "
            + ", ".join(others)
        )
    return ListOutcome(dataset, written, label_map, rows, header, warnings)
