"""The report page, index.html: self-contained HTML linking the figures, thumbnails and images."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Collection
from html import escape as e
from urllib.parse import quote

from ..dataset.model import by_label
from .facts import Exploration, ImageFacts
from .figures import CLASS_FIGURE, SIZE_FIGURE
from .summary import class_label, count, summary_lines

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
_TOO_SMALL_SHOWN = 200


def _link_to(target: str, out_dir: str) -> str | None:
    try:
        relative = os.path.relpath(os.path.abspath(target), os.path.abspath(out_dir))
    except ValueError:  # another drive on Windows
        return None
    return quote(relative.replace(os.sep, "/"))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _bullets(title: str, lines: list[str]) -> str:
    return f"<h2>{title}</h2><ul>" + "".join(f"<li>{e(line)}</li>" for line in lines) + "</ul>"


def _image_table(
    images: list[ImageFacts],
    out_dir: str,
    exploration: Exploration,
    detail: Callable[[ImageFacts], str],
    heading: str,
    total: int,
) -> str:
    names = {c.label: class_label(c) for c in exploration.dataset.classes}
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


def _median_size(members: list[ImageFacts]) -> str:
    if not members:
        return "-"
    return (
        f"{int(statistics.median(i.width for i in members))}&times;"
        f"{int(statistics.median(i.height for i in members))}"
    )


def _classes(exploration: Exploration) -> list[str]:
    counts = exploration.counts
    small = {c.label for c in exploration.small_classes}
    readable = by_label(exploration.readable)
    out = [
        f"<h2>Images per class</h2><img class='figure' src='{CLASS_FIGURE}' alt='images per class'>",
        f"<h2>Classes</h2><p>Labels follow the order recpack lists them in (as im2rec). "
        f"Highlighted: fewer than {exploration.min_per_class} images.</p>"
        "<table><tr><th>label</th><th>class id</th><th>name</th><th>images</th><th>share</th>"
        "<th>median size (w&times;h)</th></tr>",
    ]
    for info in exploration.dataset.classes:
        row_class = " class='flag'" if info.label in small else ""
        out.append(
            f"<tr{row_class}><td class='n'>{info.label}</td><td>{e(info.class_id)}</td>"
            f"<td>{e(info.name)}</td><td class='n'>{counts[info.label]}</td>"
            f"<td class='n'>{_percent(counts[info.label], len(exploration.images))}</td>"
            f"<td class='n'>{_median_size(readable.get(info.label, []))}</td></tr>"
        )
    out.append("</table>")
    return out


def _sizes(exploration: Exploration, out_dir: str, figures: Collection[str]) -> list[str]:
    out = ["<h2>Image sizes</h2>"]
    if SIZE_FIGURE in figures:
        out.append(f"<img class='figure' src='{SIZE_FIGURE}' alt='image size distributions'>")
    else:
        out.append("<p>No readable image.</p>")
    too_small = exploration.too_small
    if too_small:
        out.append(
            f"<p class='flag'>{count(len(too_small), 'image')} smaller than the training shape "
            f"{exploration.min_size}&times;{exploration.min_size} on a side (packing with --resize "
            f"upscales them; without it training fails):</p>"
        )
        out.append(
            _image_table(
                too_small[:_TOO_SMALL_SHOWN],
                out_dir,
                exploration,
                lambda i: f"{i.width}&times;{i.height}",
                "size",
                len(too_small),
            )
        )
    return out


def _formats(exploration: Exploration) -> list[str]:
    out = [
        "<h2>File formats and modes</h2><table><tr><th>format</th><th>extension</th><th>images</th></tr>"
    ]
    for (fmt, ext), number in exploration.formats.most_common():
        out.append(f"<tr><td>{e(str(fmt))}</td><td>{e(ext)}</td><td class='n'>{number}</td></tr>")
    out.append("</table><table><tr><th>mode</th><th>images</th></tr>")
    for mode, number in exploration.modes.most_common():
        out.append(f"<tr><td>{e(str(mode))}</td><td class='n'>{number}</td></tr>")
    out.append(
        "</table><p>Packing converts every mode to 3-channel RGB (as im2rec's OpenCV does).</p>"
    )
    return out


def _unreadable(exploration: Exploration, out_dir: str) -> list[str]:
    out = ["<h2>Unreadable files</h2>"]
    unreadable = exploration.unreadable
    if not unreadable:
        out.append(
            "<p>None: every header reads (pixels are decoded only for the samples below).</p>"
        )
        return out
    out.append(
        f"<p class='flag'>{count(len(unreadable), 'file')} cannot be read; packing skips them.</p>"
    )
    out.append(
        _image_table(
            unreadable, out_dir, exploration, lambda i: e(i.error or ""), "problem", len(unreadable)
        )
    )
    return out


def _samples(exploration: Exploration, out_dir: str) -> list[str]:
    dataset = exploration.dataset
    out = ["<h2>Samples</h2>"]
    for info in dataset.classes:
        thumbnails = exploration.thumbnails.get(info.label, [])
        out.append(f"<h3>{info.label}: {e(class_label(info))}</h3><div class='samples'>")
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
    return out


def render_html(exploration: Exploration, out_dir: str, figures: Collection[str]) -> str:
    """The whole page; `figures` names the figure files written into `out_dir`."""
    dataset = exploration.dataset
    out = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Dataset report: {e(dataset.root)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Dataset report</h1><p><code>{e(os.path.abspath(dataset.root))}</code>, {e(dataset.layout)} "
        f"layout: {len(exploration.images)} images, {len(dataset.classes)} classes.</p>",
        _bullets("Summary", summary_lines(exploration)),
    ]
    if dataset.warnings:
        out.append(_bullets("Listing warnings", dataset.warnings))
    out += _classes(exploration)
    out += _sizes(exploration, out_dir, figures)
    out += _formats(exploration)
    out += _unreadable(exploration, out_dir)
    out += _samples(exploration, out_dir)
    out.append("</body></html>\n")
    return "\n".join(out)
