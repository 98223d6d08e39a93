"""What discovery finds: classes with their labels, and images with their list index."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar


@dataclass
class ClassInfo:
    label: int
    class_id: str
    name: str


@dataclass
class ListedImage:
    index: int
    path: str  # relative to ROOT, '/'-separated
    label: int
    official_split: str | None = None  # "train" or "test" from train_test_split.txt


@dataclass
class Dataset:
    root: str
    layout: str  # "folders" or "metadata"
    classes: list[ClassInfo]
    images: list[ListedImage]
    warnings: list[str] = field(default_factory=list)
    metadata_dir: str | None = None

    @property
    def has_official_split(self) -> bool:
        return bool(self.images) and all(image.official_split for image in self.images)


class Labelled(Protocol):
    label: int


_L = TypeVar("_L", bound=Labelled)


def by_label(items: Iterable[_L]) -> dict[int, list[_L]]:
    """The items of each label, in the order given."""
    groups: dict[int, list[_L]] = {}
    for item in items:
        groups.setdefault(item.label, []).append(item)
    return groups


def to_list_path(path: str, root: str) -> str:
    """`path` as a list names it: relative to ROOT, '/'-separated."""
    return os.path.relpath(path, root).replace(os.sep, "/")
