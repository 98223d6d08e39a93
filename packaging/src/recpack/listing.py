"""Finding a dataset's images and classes, and splitting them into .lst files.

Two layouts:
- folders: one folder per class, walked like `im2rec.py --list --recursive` (labels 0.. follow the
  sorted folder names; each folder holding images is a class);
- metadata (NABirds, CUB-200-2011): `images.txt`, `image_class_labels.txt` and `classes.txt` in ROOT
  or in its parent, images under `images/` beside them.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .errors import DatasetError
from .format.lst import ListEntry, check_relative_path, format_line

DEFAULT_EXTS = (".jpeg", ".jpg", ".png")
METADATA_FILES = ("images.txt", "image_class_labels.txt", "classes.txt")
SPLIT_FILE = "train_test_split.txt"
# Guards floor(n * ratio) against 0.29 * 100 == 28.999999999999996.
_EPSILON = 1e-9


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


def _to_list_path(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def _find_metadata_dir(root: str) -> str | None:
    for candidate in (root, os.path.dirname(os.path.abspath(root))):
        if all(os.path.isfile(os.path.join(candidate, name)) for name in METADATA_FILES):
            return candidate
    return None


def _class_sort_key(class_id: str):
    return (0, int(class_id), "") if class_id.isdigit() else (1, 0, class_id)


def _matches(token: str, class_id: str, name: str) -> bool:
    if token.isdigit() and class_id.isdigit():
        return int(token) == int(class_id)
    return token == class_id or token.casefold() == name.casefold()


def _select_classes(
    available: Sequence[tuple[str, str]], wanted: Sequence[str], layout: str
) -> set[str]:
    """Class ids chosen by `--classes` (ids or names); every token must match a class that has images."""
    chosen: set[str] = set()
    for token in wanted:
        hits = [cid for cid, name in available if _matches(token, cid, name)]
        if not hits:
            sample = ", ".join(
                f"{cid} ({name})" if name != cid else cid for cid, name in available[:8]
            )
            more = f", ... ({len(available)} in all)" if len(available) > 8 else ""
            raise DatasetError(
                f"--classes: {token!r} matches no class with images in this {layout} dataset; "
                f"classes are: {sample}{more}"
            )
        chosen.update(hits)
    return chosen


def _read_pairs(path: str, what: str) -> list[tuple[str, str, int]]:
    """(first, rest, line number) for each non-blank line of a space-separated metadata file."""
    pairs = []
    try:
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                parts = line.split(None, 1)
                if len(parts) != 2:
                    raise DatasetError(
                        f"{path}:{line_no}: expected '<{what[0]}> <{what[1]}>', got {line!r}"
                    )
                pairs.append((parts[0], parts[1].strip(), line_no))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror}") from None
    return pairs


def _class_names_from_file(root: str) -> dict[str, str]:
    """Names from a classes.txt beside or above the class folders, keyed by id without leading zeros."""
    for candidate in (root, os.path.dirname(os.path.abspath(root))):
        path = os.path.join(candidate, "classes.txt")
        if os.path.isfile(path):
            try:
                return {
                    cid.lstrip("0") or "0": name
                    for cid, name, _ in _read_pairs(path, ("class_id", "name"))
                }
            except DatasetError:
                return {}
    return {}


def _walk_class_folders(root: str, exts: Sequence[str], warnings: list[str]):
    """(folder, relative image paths) in im2rec's order: os.walk with sorted dirs and files."""
    seen_dirs: set[tuple[int, int]] = set()
    for path, dirs, files in os.walk(
        root,
        followlinks=True,
        onerror=lambda exc: warnings.append(f"cannot read folder {exc.filename}: {exc.strerror}"),
    ):
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen_dirs:
            warnings.append(
                f"skipped {path}: a symbolic link loops back to a folder already listed"
            )
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirs.sort()
        images = []
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() not in exts:
                continue
            full = os.path.join(path, name)
            if not os.path.isfile(full):
                warnings.append(f"skipped {full}: a broken link or not a regular file")
                continue
            relative = _to_list_path(full, root)
            try:
                relative.encode("utf-8")
            except UnicodeEncodeError:
                shown = os.fsencode(full)
                warnings.append(
                    f"skipped {shown!r}: its name is not valid UTF-8; rename the file to include it"
                )
                continue
            images.append(relative)
        if images:
            yield path, images
        elif not dirs and path != root:
            # im2rec skips it too, but every later class then gets the label this one would have had.
            warnings.append(
                f"folder {_to_list_path(path, root)} has no {'/'.join(exts)} images: it is not a class"
            )


def discover(root: str, exts: Sequence[str] = DEFAULT_EXTS, classes: Sequence[str] = ()) -> Dataset:
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
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in exts)
    metadata_dir = _find_metadata_dir(root)
    if metadata_dir:
        return _discover_metadata(root, metadata_dir, classes)
    return _discover_folders(root, exts, classes)


def _discover_folders(root: str, exts: Sequence[str], wanted: Sequence[str]) -> Dataset:
    warnings: list[str] = []
    folders = list(_walk_class_folders(root, exts, warnings))
    if not folders:
        raise DatasetError(
            f"no images with extensions {' '.join(exts)} under {root!r} "
            "(expected one folder per class, or NABirds/CUB metadata files)"
        )
    names = _class_names_from_file(root)
    available = []
    for folder, _ in folders:
        class_id = _to_list_path(folder, root)
        key = class_id.lstrip("0") or "0" if class_id.isdigit() else class_id
        available.append(
            (class_id, names.get(key, os.path.basename(folder) if class_id != "." else "."))
        )
    chosen = _select_classes(available, wanted, "folder-per-class") if wanted else None
    classes, images = [], []
    for (folder, paths), (class_id, name) in zip(folders, available, strict=False):
        if chosen is not None and class_id not in chosen:
            continue
        label = len(classes)
        classes.append(ClassInfo(label, class_id, name))
        images.extend(ListedImage(0, path, label) for path in paths)
    for position, image in enumerate(images):
        image.index = position
    return Dataset(root, "folders", classes, images, warnings)


def _discover_metadata(root: str, metadata_dir: str, wanted: Sequence[str]) -> Dataset:
    warnings: list[str] = []
    image_dir = os.path.join(metadata_dir, "images")
    paths_by_id: dict[str, str] = {}
    images_txt = os.path.join(metadata_dir, "images.txt")
    for image_id, relative, line_no in _read_pairs(images_txt, ("image_id", "path")):
        problem = check_relative_path(relative)
        if problem:
            raise DatasetError(f"{images_txt}:{line_no}: path {relative!r}: {problem}")
        if image_id in paths_by_id:
            raise DatasetError(f"{images_txt}:{line_no}: image id {image_id} appears twice")
        paths_by_id[image_id] = relative
    class_of: dict[str, str] = {}
    labels_txt = os.path.join(metadata_dir, "image_class_labels.txt")
    for image_id, class_id, line_no in _read_pairs(labels_txt, ("image_id", "class_id")):
        if image_id not in paths_by_id:
            raise DatasetError(f"{labels_txt}:{line_no}: image id {image_id} is not in images.txt")
        class_of[image_id] = class_id
    names: dict[str, str] = {}
    for class_id, name, _ in _read_pairs(
        os.path.join(metadata_dir, "classes.txt"), ("class_id", "name")
    ):
        names[class_id] = name
    split_of: dict[str, str] = {}
    split_txt = os.path.join(metadata_dir, SPLIT_FILE)
    if os.path.isfile(split_txt):
        for image_id, flag, line_no in _read_pairs(split_txt, ("image_id", "is_training_image")):
            if flag not in ("0", "1"):
                raise DatasetError(
                    f"{split_txt}:{line_no}: expected 1 (train) or 0 (test), got {flag!r}"
                )
            split_of[image_id] = "train" if flag == "1" else "test"

    unlabelled = [i for i in paths_by_id if i not in class_of]
    if unlabelled:
        warnings.append(
            f"{len(unlabelled)} images in images.txt have no class in image_class_labels.txt; left out"
        )
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
    if missing:
        warnings.append(
            f"{missing} images listed in images.txt are not on disk; listing the "
            f"{sum(len(v) for v in by_class.values())} that are"
        )
    if not by_class:
        raise DatasetError(f"none of the images listed in {images_txt} exist under {image_dir!r}")
    available = [(cid, names[cid]) for cid in sorted(by_class, key=_class_sort_key)]
    if wanted:
        chosen = _select_classes(available, wanted, "metadata")
        # A requested class that exists in classes.txt but has no image on disk is an error too.
        available = [(cid, name) for cid, name in available if cid in chosen]
    classes, images = [], []
    for label, (class_id, name) in enumerate(available):
        classes.append(ClassInfo(label, class_id, name))
        for relative, image_id in sorted(by_class[class_id]):
            path = _to_list_path(os.path.join(image_dir, relative), root)
            images.append(ListedImage(len(images), path, label, split_of.get(image_id)))
    return Dataset(root, "metadata", classes, images, warnings, metadata_dir)


# --- splitting ---------------------------------------------------------------------------------


@dataclass
class SplitOptions:
    train_ratio: float = 1.0
    test_ratio: float = 0.0
    seed: int = 100
    shuffle: bool = True
    stratify: bool = True
    chunks: int = 1
    official: bool = False


def check_ratios(train_ratio: float, test_ratio: float) -> None:
    if not 0.0 < train_ratio <= 1.0:
        raise DatasetError(f"--train-ratio must be in (0, 1], got {train_ratio}")
    if not 0.0 <= test_ratio < 1.0:
        raise DatasetError(f"--test-ratio must be in [0, 1), got {test_ratio}")
    if train_ratio + test_ratio > 1.0 + _EPSILON:
        raise DatasetError(
            f"--train-ratio + --test-ratio must not exceed 1, got {train_ratio} + {test_ratio}"
        )


def _to_entry(image: ListedImage) -> ListEntry:
    return ListEntry(image.index, (float(image.label),), image.path)


def _split_plain(
    chunk: list[ListedImage], chunk_size: int, options: SplitOptions
) -> dict[str, list[ListedImage]]:
    # Exactly im2rec's arithmetic, so `--no-stratify` lists match im2rec's line for line.
    sep = int(chunk_size * options.train_ratio)
    sep_test = int(chunk_size * options.test_ratio)
    if options.train_ratio == 1.0:
        return {"": chunk}
    splits = {}
    if options.test_ratio:
        splits["test"] = chunk[:sep_test]
    splits["train"] = chunk[sep_test : sep_test + sep]
    if options.train_ratio + options.test_ratio < 1.0:
        splits["val"] = chunk[sep_test + sep :]
    return splits


def _split_stratified(
    chunk: list[ListedImage], options: SplitOptions, rng: random.Random
) -> dict[str, list[ListedImage]]:
    if options.train_ratio == 1.0:
        return {"": chunk}
    has_val = options.train_ratio + options.test_ratio < 1.0 - _EPSILON
    splits: dict[str, list[ListedImage]] = {"train": []}
    if options.test_ratio:
        splits["test"] = []
    if has_val:
        splits["val"] = []
    by_label: dict[int, list[ListedImage]] = {}
    for image in chunk:
        by_label.setdefault(image.label, []).append(image)
    for label in sorted(by_label):
        members = by_label[label]
        n = len(members)
        n_test = math.floor(n * options.test_ratio + _EPSILON)
        n_train = math.floor(n * options.train_ratio + _EPSILON) if has_val else n - n_test
        if options.test_ratio:
            splits["test"].extend(members[:n_test])
        splits["train"].extend(members[n_test : n_test + n_train])
        if has_val:
            splits["val"].extend(members[n_test + n_train :])
    if options.shuffle:
        for name in splits:
            rng.shuffle(splits[name])
    return splits


def split(dataset: Dataset, options: SplitOptions) -> dict[str, list[ListEntry]]:
    """List file suffix ('' for PREFIX.lst, '_train', '_0_val', ...) -> entries in file order."""
    images = list(dataset.images)
    rng = random.Random(options.seed)
    if options.official:
        if not dataset.has_official_split:
            raise DatasetError(
                "--split official needs train_test_split.txt beside images.txt with a line for every image"
            )
        result = {"_train": [], "_val": []}
        for image in images:
            result["_train" if image.official_split == "train" else "_val"].append(image)
        if options.shuffle:
            for name in result:
                rng.shuffle(result[name])
        return {suffix: [_to_entry(i) for i in chosen] for suffix, chosen in result.items()}

    check_ratios(options.train_ratio, options.test_ratio)
    if options.chunks < 1:
        raise DatasetError(f"--chunks must be at least 1, got {options.chunks}")
    if options.stratify:
        if options.shuffle:
            # Shuffle within each class so every split draws a random sample of it.
            by_label: dict[int, list[ListedImage]] = {}
            for image in images:
                by_label.setdefault(image.label, []).append(image)
            images = []
            for label in sorted(by_label):
                members = by_label[label]
                rng.shuffle(members)
                images.extend(members)
        chunks = [images[i :: options.chunks] for i in range(options.chunks)]
    else:
        if options.shuffle:
            rng.shuffle(images)
        chunk_size = (len(images) + options.chunks - 1) // options.chunks
        chunks = [images[i * chunk_size : (i + 1) * chunk_size] for i in range(options.chunks)]

    result: dict[str, list[ListEntry]] = {}
    for number, chunk in enumerate(chunks):
        chunk_tag = f"_{number}" if options.chunks > 1 else ""
        if options.stratify:
            parts = _split_stratified(chunk, options, rng)
        else:
            parts = _split_plain(
                chunk, (len(images) + options.chunks - 1) // options.chunks, options
            )
        for name, members in parts.items():
            suffix = chunk_tag + (f"_{name}" if name else "")
            result[suffix] = [_to_entry(i) for i in members]
    return result


def split_name(suffix: str) -> str:
    """'train', 'val', 'test' or 'all' for a list suffix such as '_0_train' or ''."""
    tail = suffix.rsplit("_", 1)[-1]
    return tail if tail in ("train", "val", "test") else "all"


def label_map_rows(
    dataset: Dataset, splits: dict[str, list[ListEntry]]
) -> tuple[list[str], list[list[str]]]:
    split_names = []
    for suffix in splits:
        name = split_name(suffix)
        if name not in split_names:
            split_names.append(name)
    order = {"train": 0, "val": 1, "test": 2, "all": 3}
    split_names.sort(key=order.__getitem__)
    counts = {(name, c.label): 0 for name in split_names for c in dataset.classes}
    for suffix, entries in splits.items():
        name = split_name(suffix)
        for entry in entries:
            counts[(name, int(entry.label))] += 1
    header = ["label", "class_id", "name"] + split_names
    rows = [
        [str(c.label), c.class_id, c.name] + [str(counts[(n, c.label)]) for n in split_names]
        for c in dataset.classes
    ]
    return header, rows


def render_tsv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    clean = lambda value: str(value).replace("\t", " ").replace("\n", " ")
    return "".join("\t".join(clean(v) for v in row) + "\n" for row in [header, *rows])


def render_list(entries: Iterable[ListEntry]) -> str:
    return "".join(format_line(e.index, e.labels, e.path) for e in entries)


def read_label_map(path: str) -> list[dict[str, str]]:
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
        rows.append(dict(zip(header, values, strict=False)))
    return rows
