"""Writing the lists and label map of `recpack list`, all or nothing."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from .files.atomic import AtomicOutputs
from .listing import Dataset, SplitOptions, label_map_rows, render_list, render_tsv, split

LABEL_MAP_SUFFIX = "_labels.tsv"
_SHOWN_CLASSES = 20


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


def write_lists(prefix: str, dataset: Dataset, options: SplitOptions) -> ListOutcome:
    splits = split(dataset, options)
    header, rows = label_map_rows(dataset, splits)
    warnings = []
    split_columns = header[3:]
    for row in rows:
        counts = dict(zip(split_columns, row[3:], strict=False))
        empty = [name for name, count in counts.items() if count == "0"]
        if empty:
            warnings.append(
                f"class {row[1]} ({row[2]}) has {sum(map(int, row[3:]))} image(s) and none in "
                f"{', '.join(empty)}"
            )
    written: dict[str, int] = {}
    label_map = prefix + LABEL_MAP_SUFFIX
    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    with AtomicOutputs() as outputs:
        for suffix, entries in splits.items():
            path = prefix + suffix + ".lst"
            outputs.open(path, "w", encoding="utf-8", newline="\n").write(render_list(entries))
            written[path] = len(entries)
        outputs.open(label_map, "w", encoding="utf-8", newline="\n").write(render_tsv(header, rows))
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
