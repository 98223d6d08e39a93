"""The NABirds / CUB-200-2011 layout: `images.txt`, `image_class_labels.txt` and `classes.txt` in ROOT
or in its parent, images under `images/` beside them, and optionally `train_test_split.txt`."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import DatasetError
from ..format.lst import check_relative_path
from .classes import class_sort_key, select_classes
from .model import ClassInfo, Dataset, ListedImage, to_list_path

METADATA_FILES = ("images.txt", "image_class_labels.txt", "classes.txt")
SPLIT_FILE = "train_test_split.txt"


def find_metadata_dir(root: str) -> str | None:
    for candidate in (root, os.path.dirname(os.path.abspath(root))):
        if all(os.path.isfile(os.path.join(candidate, name)) for name in METADATA_FILES):
            return candidate
    return None


def read_pairs(path: str, what: tuple[str, str]) -> list[tuple[str, str, int]]:
    """(first, rest, line number) for each non-blank line of a space-separated metadata file."""
    pairs = []
    try:
        with open(path, encoding="utf-8-sig") as f:  # a byte order mark from a Windows editor
            for line_no, line in enumerate(f, 1):
                text = line.strip()
                if not text:
                    continue
                parts = text.split(None, 1)
                if len(parts) != 2:
                    raise DatasetError(
                        f"{path}:{line_no}: expected '<{what[0]}> <{what[1]}>', got {text!r}"
                    )
                pairs.append((parts[0], parts[1].strip(), line_no))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror}") from None
    return pairs


def _image_paths(images_txt: str) -> dict[str, str]:
    paths_by_id: dict[str, str] = {}
    for image_id, relative, line_no in read_pairs(images_txt, ("image_id", "path")):
        problem = check_relative_path(relative)
        if problem:
            raise DatasetError(f"{images_txt}:{line_no}: path {relative!r}: {problem}")
        if image_id in paths_by_id:
            raise DatasetError(f"{images_txt}:{line_no}: image id {image_id} appears twice")
        paths_by_id[image_id] = relative
    return paths_by_id


def _image_classes(labels_txt: str, paths_by_id: dict[str, str]) -> dict[str, str]:
    class_of: dict[str, str] = {}
    for image_id, class_id, line_no in read_pairs(labels_txt, ("image_id", "class_id")):
        if image_id not in paths_by_id:
            raise DatasetError(f"{labels_txt}:{line_no}: image id {image_id} is not in images.txt")
        class_of[image_id] = class_id
    return class_of


def _official_split(split_txt: str) -> dict[str, str]:
    """image id -> "train" or "test", from train_test_split.txt when there is one."""
    split_of: dict[str, str] = {}
    if not os.path.isfile(split_txt):
        return split_of
    for image_id, flag, line_no in read_pairs(split_txt, ("image_id", "is_training_image")):
        if flag not in ("0", "1"):
            raise DatasetError(
                f"{split_txt}:{line_no}: expected 1 (train) or 0 (test), got {flag!r}"
            )
        split_of[image_id] = "train" if flag == "1" else "test"
    return split_of


def _on_disk_by_class(
    paths_by_id: dict[str, str],
    class_of: dict[str, str],
    names: dict[str, str],
    image_dir: str,
    labels_txt: str,
) -> tuple[dict[str, list[tuple[str, str]]], int]:
    """class id -> (relative path, image id) of the labelled images on disk; and how many are not."""
    by_class: dict[str, list[tuple[str, str]]] = {}
    missing = 0
    for image_id, relative in paths_by_id.items():
        class_id = class_of.get(image_id)
        if class_id is None:
            continue
        if class_id not in names:
            raise DatasetError(
                f"{labels_txt}: class id {class_id} (image {image_id}) is not in classes.txt"
            )
        if not os.path.isfile(os.path.join(image_dir, relative)):
            missing += 1
            continue
        by_class.setdefault(class_id, []).append((relative, image_id))
    return by_class, missing


def discover_metadata(root: str, metadata_dir: str, wanted: Sequence[str]) -> Dataset:
    warnings: list[str] = []
    image_dir = os.path.join(metadata_dir, "images")
    images_txt = os.path.join(metadata_dir, "images.txt")
    labels_txt = os.path.join(metadata_dir, "image_class_labels.txt")
    paths_by_id = _image_paths(images_txt)
    class_of = _image_classes(labels_txt, paths_by_id)
    names = {
        class_id: name
        for class_id, name, _ in read_pairs(
            os.path.join(metadata_dir, "classes.txt"), ("class_id", "name")
        )
    }
    split_of = _official_split(os.path.join(metadata_dir, SPLIT_FILE))
    unlabelled = [i for i in paths_by_id if i not in class_of]
    if unlabelled:
        warnings.append(
            f"{len(unlabelled)} images in images.txt have no class in image_class_labels.txt; left out"
        )
    by_class, missing = _on_disk_by_class(paths_by_id, class_of, names, image_dir, labels_txt)
    if missing:
        warnings.append(
            f"{missing} images listed in images.txt are not on disk; listing the "
            f"{sum(len(v) for v in by_class.values())} that are"
        )
    if not by_class:
        raise DatasetError(f"none of the images listed in {images_txt} exist under {image_dir!r}")
    available = [(cid, names[cid]) for cid in sorted(by_class, key=class_sort_key)]
    if wanted:
        chosen = select_classes(available, wanted, "metadata")
        # A requested class that exists in classes.txt but has no image on disk is an error too.
        available = [(cid, name) for cid, name in available if cid in chosen]
    classes: list[ClassInfo] = []
    images: list[ListedImage] = []
    for label, (class_id, name) in enumerate(available):
        classes.append(ClassInfo(label, class_id, name))
        for relative, image_id in sorted(by_class[class_id]):
            path = to_list_path(os.path.join(image_dir, relative), root)
            images.append(ListedImage(len(images), path, label, split_of.get(image_id)))
    return Dataset(root, "metadata", classes, images, warnings, metadata_dir)
