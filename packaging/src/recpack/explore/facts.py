"""What explore gathers: each image's size, format and mode from its header (pixels are never
decoded, so a NABirds-sized dataset of 50k images takes about 20 s), and a few sample thumbnails."""

from __future__ import annotations

import os
import random
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image, ImageOps

from ..dataset.model import ClassInfo, Dataset, ListedImage, by_label
from ..image.faults import fault_of
from ..image.transform import opencv_orientation

THUMBNAIL_DIR = "thumbnails"
# EXIF orientations 5-8 rotate by 90 degrees: OpenCV (and so training) sees width and height swapped.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_HEADER_THREADS = 4


class Bar(Protocol):
    def update(self, n: float | None = ..., /) -> object: ...


class Progress(Protocol):
    """tqdm's constructor, or anything called like it that counts done work."""

    def __call__(self, *, total: int, desc: str, unit: str) -> AbstractContextManager[Bar]: ...


@dataclass
class ImageFacts:
    path: str  # relative to ROOT, as in the dataset
    label: int
    width: int = 0  # as training sees it (EXIF rotation applied); 0 until the header is read
    height: int = 0
    format: str | None = None
    mode: str | None = None
    error: str | None = None

    @property
    def readable(self) -> bool:
        return self.error is None


@dataclass
class Exploration:
    dataset: Dataset
    images: list[ImageFacts]
    min_size: int
    min_per_class: int
    thumbnails: dict[int, list[tuple[str, ImageFacts]]] = field(
        default_factory=dict
    )  # label -> (file, image)
    thumbnail_errors: list[ImageFacts] = field(default_factory=list)

    @property
    def counts(self) -> Counter[int]:
        return Counter(image.label for image in self.images)

    @property
    def small_classes(self) -> list[ClassInfo]:
        counts = self.counts
        return [c for c in self.dataset.classes if counts[c.label] < self.min_per_class]

    @property
    def readable(self) -> list[ImageFacts]:
        return [image for image in self.images if image.readable]

    @property
    def unreadable(self) -> list[ImageFacts]:
        # A file whose header reads but whose pixels do not decode fails packing too.
        return [image for image in self.images if not image.readable] + self.thumbnail_errors

    @property
    def too_small(self) -> list[ImageFacts]:
        return [i for i in self.readable if min(i.width, i.height) < self.min_size]

    @property
    def formats(self) -> Counter[tuple[str | None, str]]:
        return Counter((i.format, os.path.splitext(i.path)[1].lower()) for i in self.readable)

    @property
    def modes(self) -> Counter[str | None]:
        return Counter(i.mode for i in self.readable)


def describe_error(exc: BaseException) -> str:
    text = str(exc).split("\n")[0].strip()
    # PIL names the full path in its message; the report already shows it.
    if "cannot identify image file" in text:
        return "not an image Pillow can read"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_header(full_path: str, facts: ImageFacts) -> ImageFacts:
    """Size, format and mode from the file's header; Image.open does not decode pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: we never decode here
            with Image.open(full_path) as image:
                width, height = image.size
                facts.format, facts.mode = image.format, image.mode
                orientation = opencv_orientation(image)
    except Exception as exc:  # any decoder failure is the file's problem, reported per file
        fault = fault_of(exc, full_path) if isinstance(exc, OSError) else None
        if fault is not None:
            raise fault from None  # the machine's (a vanished folder, EMFILE, EIO): stop
        facts.error = describe_error(exc)
        return facts
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    facts.width, facts.height = width, height
    return facts


def read_headers(dataset: Dataset, progress: Progress) -> list[ImageFacts]:
    """Every image's header, in dataset order."""

    def read(image: ListedImage) -> ImageFacts:
        return read_header(
            os.path.join(dataset.root, image.path), ImageFacts(image.path, image.label)
        )

    facts = []
    # Threads overlap the file reads (a cold disk or a network file system); parsing holds the GIL.
    with (
        progress(total=len(dataset.images), desc="headers", unit="img") as bar,
        ThreadPoolExecutor(max_workers=_HEADER_THREADS) as pool,
    ):
        for result in pool.map(read, dataset.images):
            facts.append(result)
            bar.update(1)
    return facts


def make_thumbnail(full_path: str, size: int) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(full_path) as opened:
            opened.draft("RGB", (size, size))  # JPEG: decode at 1/2..1/8 scale
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((size, size))
            if image.mode != "RGB":
                # 16-bit greyscale converts to all-white RGB; keep the high byte, as OpenCV does.
                if image.mode.startswith("I"):
                    image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
                image = image.convert("RGB")
            return image


def _sample(images: list[ImageFacts], count: int, seed: int) -> list[ImageFacts]:
    if len(images) <= count:
        return list(images)
    return sorted(random.Random(seed).sample(images, count), key=lambda i: i.path)


def _remove_earlier_thumbnails(folder: str) -> None:
    for name in os.listdir(folder):  # stale thumbnails of an earlier run, named by us
        if name.startswith("class-") and name.endswith(".jpg"):
            os.remove(os.path.join(folder, name))


def write_thumbnails(
    exploration: Exploration,
    out_dir: str,
    per_class: int,
    size: int,
    seed: int,
    progress: Progress,
) -> None:
    """Up to `per_class` sample thumbnails of each class under out_dir/thumbnails/."""
    folder = os.path.join(out_dir, THUMBNAIL_DIR)
    os.makedirs(folder, exist_ok=True)
    _remove_earlier_thumbnails(folder)
    groups = by_label(exploration.readable)
    chosen = {label: _sample(images, per_class, seed + label) for label, images in groups.items()}
    with progress(total=sum(map(len, chosen.values())), desc="thumbnails", unit="img") as bar:
        for label, images in sorted(chosen.items()):
            written = []
            for number, image in enumerate(images):
                try:
                    thumbnail = make_thumbnail(
                        os.path.join(exploration.dataset.root, image.path), size
                    )
                except Exception as exc:
                    exploration.thumbnail_errors.append(
                        ImageFacts(
                            image.path,
                            image.label,
                            error="header reads but pixels do not decode: " + describe_error(exc),
                        )
                    )
                else:
                    name = f"class-{label:04d}-{number}.jpg"
                    thumbnail.save(os.path.join(folder, name), "JPEG", quality=85)
                    written.append((f"{THUMBNAIL_DIR}/{name}", image))
                bar.update(1)
            exploration.thumbnails[label] = written
