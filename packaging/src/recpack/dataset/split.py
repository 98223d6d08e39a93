"""Splitting a dataset's images into lists: train/val/test by ratio (per class, or im2rec's way over
the shuffled whole), in chunks, or by the official NABirds/CUB split."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .. import defaults
from ..errors import DatasetError
from ..format.lst import ListEntry
from .model import Dataset, ListedImage, by_label

# Guards floor(n * ratio) against 0.29 * 100 == 28.999999999999996.
_EPSILON = 1e-9
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "all": 3}


@dataclass
class SplitOptions:
    train_ratio: float = defaults.TRAIN_RATIO
    test_ratio: float = defaults.TEST_RATIO
    seed: int = defaults.SEED
    shuffle: bool = True
    stratify: bool = True
    chunks: int = defaults.CHUNKS
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


def split(dataset: Dataset, options: SplitOptions) -> dict[str, list[ListEntry]]:
    """List file suffix ('' for PREFIX.lst, '_train', '_0_val', ...) -> entries in file order."""
    rng = random.Random(options.seed)
    if options.official:
        return _official_split(dataset, options, rng)
    check_ratios(options.train_ratio, options.test_ratio)
    if options.chunks < 1:
        raise DatasetError(f"--chunks must be at least 1, got {options.chunks}")
    images = list(dataset.images)
    chunk_size = (len(images) + options.chunks - 1) // options.chunks
    if options.stratify:
        chunks = _stratified_chunks(images, options, rng)
    else:
        chunks = _plain_chunks(images, chunk_size, options, rng)
    result: dict[str, list[ListEntry]] = {}
    for number, chunk in enumerate(chunks):
        chunk_tag = f"_{number}" if options.chunks > 1 else ""
        if options.stratify:
            parts = _split_stratified(chunk, options, rng)
        else:
            parts = _split_plain(chunk, chunk_size, options)
        for name, members in parts.items():
            result[chunk_tag + (f"_{name}" if name else "")] = [_to_entry(i) for i in members]
    return result


def split_name(suffix: str) -> str:
    """'train', 'val', 'test' or 'all' for a list suffix such as '_0_train' or ''."""
    tail = suffix.rsplit("_", 1)[-1]
    return tail if tail in ("train", "val", "test") else "all"


def split_names(suffixes: list[str]) -> list[str]:
    """The split names of these list suffixes, once each, in train, val, test, all order."""
    return sorted({split_name(suffix) for suffix in suffixes}, key=_SPLIT_ORDER.__getitem__)


def _to_entry(image: ListedImage) -> ListEntry:
    return ListEntry(image.index, (float(image.label),), image.path)


def _official_split(
    dataset: Dataset, options: SplitOptions, rng: random.Random
) -> dict[str, list[ListEntry]]:
    if not dataset.has_official_split:
        raise DatasetError(
            "--split official needs train_test_split.txt beside images.txt with a line for every image"
        )
    result: dict[str, list[ListedImage]] = {"_train": [], "_val": []}
    for image in dataset.images:
        result["_train" if image.official_split == "train" else "_val"].append(image)
    if options.shuffle:
        for name in result:
            rng.shuffle(result[name])
    return {suffix: [_to_entry(i) for i in chosen] for suffix, chosen in result.items()}


def _stratified_chunks(
    images: list[ListedImage], options: SplitOptions, rng: random.Random
) -> list[list[ListedImage]]:
    if options.shuffle:
        # Shuffle within each class so every split draws a random sample of it.
        groups = by_label(images)
        images = []
        for label in sorted(groups):
            members = groups[label]
            rng.shuffle(members)
            images.extend(members)
    return [images[i :: options.chunks] for i in range(options.chunks)]


def _plain_chunks(
    images: list[ListedImage], chunk_size: int, options: SplitOptions, rng: random.Random
) -> list[list[ListedImage]]:
    if options.shuffle:
        rng.shuffle(images)
    return [images[i * chunk_size : (i + 1) * chunk_size] for i in range(options.chunks)]


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
    groups = by_label(chunk)
    for label in sorted(groups):
        members = groups[label]
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
