"""The folder-per-class layout, walked like `im2rec.py --list --recursive`: labels 0.. follow the
sorted folder names, and each folder holding images is a class."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from ..errors import DatasetError, EnvironmentFault
from ..files.ownership import is_owned, is_temporary, what_owns
from .classes import select_classes
from .metadata import read_pairs
from .model import ClassInfo, Dataset, ListedImage, to_list_path


def _class_names_from_file(root: str) -> dict[str, str]:
    """Names from a classes.txt beside or above the class folders, keyed by id without leading zeros."""
    for candidate in (root, os.path.dirname(os.path.abspath(root))):
        path = os.path.join(candidate, "classes.txt")
        if os.path.isfile(path):
            try:
                return {
                    cid.lstrip("0") or "0": name
                    for cid, name, _ in read_pairs(path, ("class_id", "name"))
                }
            except DatasetError:
                return {}
    return {}


def _unreadable_folder(exc: OSError) -> None:
    # A class folder that cannot be read would silently drop a class: the machine's fault, not ours
    # to hide.
    raise EnvironmentFault(
        f"cannot read folder {exc.filename}: {exc.strerror or exc}; fix its permissions or move "
        "it out of ROOT, then list again"
    )


def _without_recpack_folders(path: str, dirs: list[str], root: str, warnings: list[str]) -> None:
    """Leave out of the walk the folders recpack wrote (an explore report, a work folder)."""
    for name in list(dirs):
        folder = os.path.join(path, name)
        if is_owned(folder):
            dirs.remove(name)
            made = what_owns(folder) or "output"
            warnings.append(
                f"skipped {to_list_path(folder, root)}: recpack's own {made}, not a class"
            )


def _images_in(
    path: str, files: list[str], root: str, exts: Sequence[str], warnings: list[str]
) -> list[str]:
    images = []
    for name in sorted(files):
        if os.path.splitext(name)[1].lower() not in exts or is_temporary(name):
            continue
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            warnings.append(f"skipped {full}: a broken link or not a regular file")
            continue
        relative = to_list_path(full, root)
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(full)
            warnings.append(
                f"skipped {shown!r}: its name is not valid UTF-8; rename the file to include it"
            )
            continue
        images.append(relative)
    return images


def _walk_class_folders(
    root: str, exts: Sequence[str], warnings: list[str]
) -> Iterator[tuple[str, list[str]]]:
    """(folder, relative image paths) in im2rec's order: os.walk with sorted dirs and files."""
    if is_owned(root):
        raise DatasetError(
            f"ROOT {root!r} is recpack's own {what_owns(root) or 'output'}, not a dataset; "
            "name the folder holding the class folders"
        )
    seen_dirs: set[tuple[int, int]] = set()
    for path, dirs, files in os.walk(root, followlinks=True, onerror=_unreadable_folder):
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen_dirs:
            warnings.append(
                f"skipped {path}: a symbolic link loops back to a folder already listed"
            )
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirs.sort()
        _without_recpack_folders(path, dirs, root, warnings)
        images = _images_in(path, files, root, exts, warnings)
        if images:
            yield path, images
        elif not dirs and path != root:
            # im2rec skips it too, but every later class then gets the label this one would have had.
            warnings.append(
                f"folder {to_list_path(path, root)} has no {'/'.join(exts)} images: it is not a class"
            )


def discover_folders(root: str, exts: Sequence[str], wanted: Sequence[str]) -> Dataset:
    warnings: list[str] = []
    folders = list(_walk_class_folders(root, exts, warnings))
    if not folders:
        raise DatasetError(
            f"no images with extensions {' '.join(exts)} under {root!r} "
            "(expected one folder per class, or NABirds/CUB metadata files)"
        )
    names = _class_names_from_file(root)
    available: list[tuple[str, str]] = []
    for folder, _ in folders:
        class_id = to_list_path(folder, root)
        key = class_id.lstrip("0") or "0" if class_id.isdigit() else class_id
        available.append(
            (class_id, names.get(key, os.path.basename(folder) if class_id != "." else "."))
        )
    chosen = select_classes(available, wanted, "folder-per-class") if wanted else None
    classes: list[ClassInfo] = []
    images: list[ListedImage] = []
    for (_, paths), (class_id, name) in zip(folders, available, strict=True):
        if chosen is not None and class_id not in chosen:
            continue
        label = len(classes)
        classes.append(ClassInfo(label, class_id, name))
        images.extend(ListedImage(0, path, label) for path in paths)
    for position, image in enumerate(images):
        image.index = position
    return Dataset(root, "folders", classes, images, warnings)
