"""Finding a dataset's images and classes under ROOT, in either layout: folder per class
(folders.py) or NABirds/CUB metadata files (metadata.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .. import defaults
from ..errors import DatasetError
from .folders import discover_folders
from .metadata import discover_metadata, find_metadata_dir
from .model import Dataset


def discover(
    root: str, exts: Sequence[str] = defaults.IMAGE_EXTENSIONS, classes: Sequence[str] = ()
) -> Dataset:
    """The dataset under ROOT, in either layout, restricted to `classes` when given."""
    if not os.path.exists(root):
        raise DatasetError(f"ROOT {root!r} does not exist")
    if not os.path.isdir(root):
        raise DatasetError(f"ROOT {root!r} is not a folder")
    try:
        if not os.listdir(root):
            raise DatasetError(f"ROOT {root!r} is empty")
    except PermissionError:
        raise DatasetError(f"ROOT {root!r} cannot be read (permission denied)") from None
    metadata_dir = find_metadata_dir(root)
    if metadata_dir:
        return discover_metadata(root, metadata_dir, classes)
    return discover_folders(root, _normalised(exts), classes)


def _normalised(exts: Sequence[str]) -> tuple[str, ...]:
    """Lower-cased, each with its leading dot."""
    return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in exts)
