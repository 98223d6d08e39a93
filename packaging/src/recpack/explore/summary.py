"""The terminal summary of an exploration (also the report's first section), and the wording the
figures and the report share."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from ..dataset.model import ClassInfo
from .facts import Exploration

_SHOWN_CLASSES, _SHOWN_FILES = 5, 3


def count(number: int, noun: str, plural: str = "") -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


def value_range(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}..{high}"


def class_label(info: ClassInfo) -> str:
    return info.class_id if info.name == info.class_id else f"{info.class_id} {info.name}"


def why_small(exploration: Exploration) -> str:
    # With one image a class cannot be in both train and validation; a higher --min-per-class is a choice.
    return (
        ", too small to split into train and validation" if exploration.min_per_class <= 2 else ""
    )


def _small_classes_line(exploration: Exploration) -> str | None:
    small = exploration.small_classes
    if not small:
        return None
    counts = exploration.counts
    shown = ", ".join(f"{class_label(c)} ({counts[c.label]})" for c in small[:_SHOWN_CLASSES])
    more = f", ... ({len(small)} in all)" if len(small) > _SHOWN_CLASSES else ""
    return (
        f"{count(len(small), 'class', 'classes')} with fewer than "
        f"{count(exploration.min_per_class, 'image')}{why_small(exploration)}: {shown}{more}"
    )


def _readable_lines(exploration: Exploration) -> list[str]:
    readable = exploration.readable
    if not readable:
        return []
    formats = ", ".join(f"{fmt} {ext} {n}" for (fmt, ext), n in exploration.formats.most_common())
    modes = ", ".join(f"{mode} {n}" for mode, n in exploration.modes.most_common())
    return [
        f"sizes: width {value_range([i.width for i in readable])} px, "
        f"height {value_range([i.height for i in readable])} px; "
        f"{count(len(exploration.too_small), 'image')} smaller than {exploration.min_size} px on a side",
        f"formats: {formats}; modes: {modes}",
    ]


def _unreadable_line(exploration: Exploration) -> str:
    unreadable = exploration.unreadable
    if not unreadable:
        return "unreadable files: none"
    shown = ", ".join(i.path for i in unreadable[:_SHOWN_FILES])
    more = ", ..." if len(unreadable) > _SHOWN_FILES else ""
    return f"{count(len(unreadable), 'unreadable file')}: {shown}{more}"


def summary_lines(exploration: Exploration) -> list[str]:
    """The terminal summary, also the report's first section."""
    dataset = exploration.dataset
    counts = exploration.counts
    per_class = [counts[c.label] for c in dataset.classes]
    lines = [
        f"{count(len(exploration.images), 'image')} in {count(len(per_class), 'class', 'classes')} "
        f"({dataset.layout} layout); images per class {value_range(per_class)}, "
        f"median {statistics.median(per_class):g}"
    ]
    small = _small_classes_line(exploration)
    if small:
        lines.append(small)
    lines += _readable_lines(exploration)
    lines.append(_unreadable_line(exploration))
    return lines
