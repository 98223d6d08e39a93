"""`recpack explore`: what a dataset holds, as an HTML report with figures and a terminal summary.

Lab 1 explored the dataset in a notebook: images per species, image sizes, sample images, class ids
and names. This reads only image headers (size, format, mode), so a NABirds-sized dataset (50k images)
takes about 20 s; pixels are decoded only for the few sample thumbnails, at reduced scale (`draft`).
"""

from __future__ import annotations

import html
import os
import random
import statistics
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from PIL import Image, ImageOps

from . import defaults
from .dataset.discovery import discover
from .dataset.model import Dataset
from .errors import ExploreError
from .image.transform import opencv_orientation

REPORT_NAME = "index.html"
CLASS_FIGURE = "images_per_class.png"
SIZE_FIGURE = "image_sizes.png"
THUMBNAIL_DIR = "thumbnails"
# EXIF orientations 5-8 rotate by 90 degrees: OpenCV (and so training) sees width and height swapped.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
# Above this many classes one labelled bar per class is unreadable: bars are sorted, unlabelled.
_LABELLED_BARS_MAX = 60
_HEADER_THREADS = 4


@dataclass
class ImageFacts:
    path: str  # relative to ROOT, as in the dataset
    label: int
    width: int | None = None  # as training sees it (EXIF rotation applied)
    height: int | None = None
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
    def counts(self) -> Counter:
        return Counter(image.label for image in self.images)

    @property
    def small_classes(self) -> list:
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
    def formats(self) -> Counter:
        return Counter((i.format, os.path.splitext(i.path)[1].lower()) for i in self.readable)

    @property
    def modes(self) -> Counter:
        return Counter(i.mode for i in self.readable)


def _describe_error(exc: BaseException) -> str:
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
        facts.error = _describe_error(exc)
        return facts
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    facts.width, facts.height = width, height
    return facts


def make_thumbnail(full_path: str, size: int) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(full_path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at 1/2..1/8 scale
            image = ImageOps.exif_transpose(image)
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


def _write_thumbnails(
    exploration: Exploration, out_dir: str, per_class: int, size: int, seed: int, progress
) -> None:
    folder = os.path.join(out_dir, THUMBNAIL_DIR)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):  # stale thumbnails of an earlier run, named by us
        if name.startswith("class-") and name.endswith(".jpg"):
            os.remove(os.path.join(folder, name))
    by_label: dict[int, list[ImageFacts]] = {}
    for image in exploration.readable:
        by_label.setdefault(image.label, []).append(image)
    chosen = {label: _sample(images, per_class, seed + label) for label, images in by_label.items()}
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
                            error="header reads but pixels do not decode: " + _describe_error(exc),
                        )
                    )
                else:
                    name = f"class-{label:04d}-{number}.jpg"
                    thumbnail.save(os.path.join(folder, name), "JPEG", quality=85)
                    written.append((f"{THUMBNAIL_DIR}/{name}", image))
                bar.update(1)
            exploration.thumbnails[label] = written


def explore(
    root: str,
    out_dir: str,
    *,
    min_size: int = 224,
    min_per_class: int = 2,
    samples: int = 6,
    thumbnail_size: int = 160,
    seed: int = 100,
    exts=None,
    classes=(),
    progress: Callable | None = None,
) -> Exploration:
    """Read every header under ROOT, write the report into `out_dir`, return what was found."""
    pyplot = _pyplot()  # fail before the long header pass when matplotlib is missing
    progress = progress or _tqdm
    dataset = discover(root, exts or defaults.IMAGE_EXTENSIONS, classes)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ExploreError(f"--out {out_dir!r} exists and is not a folder")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ExploreError(f"--out {out_dir!r}: cannot create the folder: {exc.strerror}") from None

    def read(image) -> ImageFacts:
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
    exploration = Exploration(dataset, facts, min_size, min_per_class)
    if samples:
        _write_thumbnails(exploration, out_dir, samples, thumbnail_size, seed, progress)
    figures = {CLASS_FIGURE: plot_images_per_class(exploration, pyplot)}
    if exploration.readable:
        figures[SIZE_FIGURE] = plot_image_sizes(exploration, pyplot)
    for name, figure in figures.items():
        figure.savefig(os.path.join(out_dir, name), dpi=100)
        pyplot.close(figure)
    with open(os.path.join(out_dir, REPORT_NAME), "w", encoding="utf-8") as f:
        f.write(render_html(exploration, out_dir, figures))
    return exploration


def _tqdm(**kwargs):
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in CI logs or pipes.
    return tqdm(disable=None, file=sys.stderr, leave=False, **kwargs)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ExploreError(
            "recpack explore draws its figures with matplotlib, which is not installed: "
            "pip install 'recpack[explore]'"
        ) from None
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as pyplot

    return pyplot


# --- figures -------------------------------------------------------------------------------------

_OK_COLOUR, _FLAG_COLOUR = "#4878a8", "#d1495b"


def _why_small(exploration: Exploration) -> str:
    # With one image a class cannot be in both train and validation; a higher --min-per-class is a choice.
    return (
        ", too small to split into train and validation" if exploration.min_per_class <= 2 else ""
    )


def _class_label(info) -> str:
    return info.class_id if info.name == info.class_id else f"{info.class_id} {info.name}"


def plot_images_per_class(exploration: Exploration, pyplot):
    classes = exploration.dataset.classes
    counts = exploration.counts
    small = {c.label for c in exploration.small_classes}
    threshold = f"fewer than {_count(exploration.min_per_class, 'image')}" + _why_small(exploration)
    if len(classes) <= _LABELLED_BARS_MAX:
        figure, axes = pyplot.subplots(figsize=(8, 1.2 + 0.32 * len(classes)), layout="constrained")
        ordered = list(reversed(classes))  # first class at the top
        values = [counts[c.label] for c in ordered]
        bars = axes.barh(
            [_class_label(c) for c in ordered],
            values,
            color=[_FLAG_COLOUR if c.label in small else _OK_COLOUR for c in ordered],
        )
        axes.bar_label(bars, padding=3, fontsize=9)
        axes.set_xlabel("images")
        axes.margins(x=0.12)
    else:
        figure, axes = pyplot.subplots(figsize=(10, 4.5), layout="constrained")
        ordered = sorted(classes, key=lambda c: counts[c.label], reverse=True)
        axes.bar(
            range(len(ordered)),
            [counts[c.label] for c in ordered],
            width=1.0,
            color=[_FLAG_COLOUR if c.label in small else _OK_COLOUR for c in ordered],
        )
        axes.set_xlabel(
            f"{len(classes)} classes, most images first (the report's table names them)"
        )
        axes.set_ylabel("images")
        axes.set_xlim(-0.5, len(ordered) - 0.5)
    if small:
        from matplotlib.patches import Patch

        axes.legend(
            handles=[Patch(color=_FLAG_COLOUR, label=threshold)], loc="lower right", fontsize=9
        )
    axes.set_title(f"Images per class: {len(exploration.images)} images, {len(classes)} classes")
    return figure


def plot_image_sizes(exploration: Exploration, pyplot):
    import numpy

    readable = exploration.readable
    widths = [i.width for i in readable]
    heights = [i.height for i in readable]
    ratios = [i.width / i.height for i in readable if i.height]
    figure, panels = pyplot.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    limit = exploration.min_size
    for axes, values, name in ((panels[0], widths, "width"), (panels[1], heights, "height")):
        below = [v for v in values if v < limit]
        # A bin edge at the limit so no bar mixes flagged and fine images.
        edges = sorted(
            set(numpy.histogram_bin_edges(values, "auto").tolist())
            | ({limit} if min(values) < limit <= max(values) else set())
        )
        axes.hist(
            [below, [v for v in values if v >= limit]],
            bins=edges,
            stacked=True,
            color=[_FLAG_COLOUR, _OK_COLOUR],
            label=[f"below {limit} px", "_at or above"],
        )
        axes.axvline(limit, color=_FLAG_COLOUR, linestyle="--", label=f"training shape {limit} px")
        axes.set_xlabel(f"{name} (px)")
        axes.set_title(f"{name}: {_range(values)} px, {len(below)} below {limit}", fontsize=10)
        axes.legend(fontsize=8, loc="best")
    panels[0].set_ylabel("images")
    panels[2].hist(ratios, bins="auto", color=_OK_COLOUR)
    panels[2].axvline(1.0, color="grey", linestyle=":", label="square")
    portrait = sum(1 for r in ratios if r < 1)
    panels[2].set_xlabel("aspect ratio (width / height)")
    panels[2].set_title(
        f"aspect ratio: {portrait} portrait, {len(ratios) - portrait} square or landscape",
        fontsize=10,
    )
    panels[2].legend(fontsize=8)
    figure.suptitle(f"Image sizes of {len(readable)} readable images (from the file headers)")
    return figure


# --- report --------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.n { text-align: right; }
tr.flag td { background: #fbe3e6; }
img.figure { max-width: 100%; border: 1px solid #eee; }
.samples { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 1em; }
.samples figure { margin: 0; font-size: 0.75em; text-align: center; }
.flag { color: #b0243a; }
"""


def _link_to(target: str, out_dir: str) -> str | None:
    try:
        relative = os.path.relpath(os.path.abspath(target), os.path.abspath(out_dir))
    except ValueError:  # another drive on Windows
        return None
    return quote(relative.replace(os.sep, "/"))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_html(exploration: Exploration, out_dir: str, figures: dict) -> str:
    e = html.escape
    dataset = exploration.dataset
    counts = exploration.counts
    small = {c.label for c in exploration.small_classes}
    sizes_by_label: dict[int, list[ImageFacts]] = {}
    for image in exploration.readable:
        sizes_by_label.setdefault(image.label, []).append(image)
    out = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Dataset report: {e(dataset.root)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Dataset report</h1><p><code>{e(os.path.abspath(dataset.root))}</code>, {e(dataset.layout)} "
        f"layout: {len(exploration.images)} images, {len(dataset.classes)} classes.</p>",
    ]
    out.append(
        "<h2>Summary</h2><ul>"
        + "".join(f"<li>{e(line)}</li>" for line in summary_lines(exploration))
        + "</ul>"
    )
    if dataset.warnings:
        out.append(
            "<h2>Listing warnings</h2><ul>"
            + "".join(f"<li>{e(w)}</li>" for w in dataset.warnings)
            + "</ul>"
        )

    out.append(
        f"<h2>Images per class</h2><img class='figure' src='{CLASS_FIGURE}' alt='images per class'>"
    )
    out.append(
        f"<h2>Classes</h2><p>Labels follow the order recpack lists them in (as im2rec). "
        f"Highlighted: fewer than {exploration.min_per_class} images.</p>"
        "<table><tr><th>label</th><th>class id</th><th>name</th><th>images</th><th>share</th>"
        "<th>median size (w&times;h)</th></tr>"
    )
    for info in dataset.classes:
        members = sizes_by_label.get(info.label, [])
        median = (
            (
                f"{int(statistics.median(i.width for i in members))}&times;"
                f"{int(statistics.median(i.height for i in members))}"
            )
            if members
            else "-"
        )
        row_class = " class='flag'" if info.label in small else ""
        out.append(
            f"<tr{row_class}><td class='n'>{info.label}</td><td>{e(info.class_id)}</td>"
            f"<td>{e(info.name)}</td><td class='n'>{counts[info.label]}</td>"
            f"<td class='n'>{_percent(counts[info.label], len(exploration.images))}</td>"
            f"<td class='n'>{median}</td></tr>"
        )
    out.append("</table>")

    out.append("<h2>Image sizes</h2>")
    if SIZE_FIGURE in figures:
        out.append(f"<img class='figure' src='{SIZE_FIGURE}' alt='image size distributions'>")
    else:
        out.append("<p>No readable image.</p>")
    too_small = exploration.too_small
    if too_small:
        out.append(
            f"<p class='flag'>{_count(len(too_small), 'image')} smaller than the training shape "
            f"{exploration.min_size}&times;{exploration.min_size} on a side (packing with --resize "
            f"upscales them; without it training fails):</p>"
        )
        out.append(
            _image_table(
                too_small[:200],
                out_dir,
                exploration,
                lambda i: f"{i.width}&times;{i.height}",
                "size",
                len(too_small),
            )
        )

    out.append(
        "<h2>File formats and modes</h2><table><tr><th>format</th><th>extension</th><th>images</th></tr>"
    )
    for (fmt, ext), number in exploration.formats.most_common():
        out.append(f"<tr><td>{e(str(fmt))}</td><td>{e(ext)}</td><td class='n'>{number}</td></tr>")
    out.append("</table><table><tr><th>mode</th><th>images</th></tr>")
    for mode, number in exploration.modes.most_common():
        out.append(f"<tr><td>{e(str(mode))}</td><td class='n'>{number}</td></tr>")
    out.append(
        "</table><p>Packing converts every mode to 3-channel RGB (as im2rec's OpenCV does).</p>"
    )

    out.append("<h2>Unreadable files</h2>")
    unreadable = exploration.unreadable
    if unreadable:
        out.append(
            f"<p class='flag'>{_count(len(unreadable), 'file')} cannot be read; packing skips them.</p>"
        )
        out.append(
            _image_table(
                unreadable, out_dir, exploration, lambda i: e(i.error), "problem", len(unreadable)
            )
        )
    else:
        out.append(
            "<p>None: every header reads (pixels are decoded only for the samples below).</p>"
        )

    out.append("<h2>Samples</h2>")
    for info in dataset.classes:
        thumbnails = exploration.thumbnails.get(info.label, [])
        out.append(f"<h3>{info.label}: {e(_class_label(info))}</h3><div class='samples'>")
        for src, image in thumbnails:
            link = _link_to(os.path.join(dataset.root, image.path), out_dir)
            picture = f"<img src='{e(src)}' alt='{e(image.path)}'>"
            if link:
                picture = f"<a href='{e(link)}'>{picture}</a>"
            out.append(
                f"<figure>{picture}<figcaption>{e(os.path.basename(image.path))}<br>"
                f"{image.width}&times;{image.height}</figcaption></figure>"
            )
        if not thumbnails:
            out.append("<p>No readable image to show.</p>")
        out.append("</div>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _image_table(images, out_dir, exploration, detail, heading, total) -> str:
    e = html.escape
    names = {c.label: _class_label(c) for c in exploration.dataset.classes}
    rows = [f"<table><tr><th>file</th><th>class</th><th>{heading}</th></tr>"]
    for image in images:
        link = _link_to(os.path.join(exploration.dataset.root, image.path), out_dir)
        name = f"<a href='{e(link)}'>{e(image.path)}</a>" if link else e(image.path)
        rows.append(
            f"<tr><td>{name}</td><td>{e(names.get(image.label, ''))}</td><td>{detail(image)}</td></tr>"
        )
    if total > len(images):
        rows.append(f"<tr><td colspan='3'>... and {total - len(images)} more</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


def _range(values) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}..{high}"


def summary_lines(exploration: Exploration) -> list[str]:
    """The terminal summary, also the report's first section."""
    dataset = exploration.dataset
    counts = exploration.counts
    per_class = [counts[c.label] for c in dataset.classes]
    lines = [
        f"{_count(len(exploration.images), 'image')} in {_count(len(per_class), 'class', 'classes')} "
        f"({dataset.layout} layout); images per class {_range(per_class)}, "
        f"median {statistics.median(per_class):g}"
    ]
    small = exploration.small_classes
    if small:
        shown = ", ".join(f"{_class_label(c)} ({counts[c.label]})" for c in small[:5])
        more = f", ... ({len(small)} in all)" if len(small) > 5 else ""
        lines.append(
            f"{_count(len(small), 'class', 'classes')} with fewer than "
            f"{_count(exploration.min_per_class, 'image')}{_why_small(exploration)}: {shown}{more}"
        )
    readable = exploration.readable
    if readable:
        lines.append(
            f"sizes: width {_range([i.width for i in readable])} px, "
            f"height {_range([i.height for i in readable])} px; "
            f"{_count(len(exploration.too_small), 'image')} smaller than {exploration.min_size} px on a side"
        )
        formats = ", ".join(
            f"{fmt} {ext} {n}" for (fmt, ext), n in exploration.formats.most_common()
        )
        modes = ", ".join(f"{mode} {n}" for mode, n in exploration.modes.most_common())
        lines.append(f"formats: {formats}; modes: {modes}")
    unreadable = exploration.unreadable
    if unreadable:
        shown = ", ".join(i.path for i in unreadable[:3]) + (", ..." if len(unreadable) > 3 else "")
        lines.append(f"{_count(len(unreadable), 'unreadable file')}: {shown}")
    else:
        lines.append("unreadable files: none")
    return lines
