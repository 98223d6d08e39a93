"""The report's figures, drawn with matplotlib (the `explore` extra), imported only here."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ExploreError
from .facts import Exploration
from .summary import class_label, count, value_range, why_small

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CLASS_FIGURE = "images_per_class.png"
SIZE_FIGURE = "image_sizes.png"
# Above this many classes one labelled bar per class is unreadable: bars are sorted, unlabelled.
_LABELLED_BARS_MAX = 60
_OK_COLOUR, _FLAG_COLOUR = "#4878a8", "#d1495b"


def require_matplotlib() -> None:
    """Fail at once, before the long header pass, when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise ExploreError(
            "recpack explore draws its figures with matplotlib, which is not installed: "
            "pip install 'recpack[explore]'"
        ) from None
    matplotlib.use("Agg")  # files only, no display needed


def write_figures(exploration: Exploration, out_dir: str) -> list[str]:
    """Draw the figures into `out_dir`; returns the names of those written."""
    from matplotlib import pyplot

    figures = {CLASS_FIGURE: plot_images_per_class(exploration)}
    if exploration.readable:
        figures[SIZE_FIGURE] = plot_image_sizes(exploration)
    for name, figure in figures.items():
        figure.savefig(os.path.join(out_dir, name), dpi=100)
        pyplot.close(figure)
    return list(figures)


def _labelled_bars(exploration: Exploration, small: set[int]) -> tuple[Figure, Axes]:
    from matplotlib import pyplot

    classes = exploration.dataset.classes
    counts = exploration.counts
    figure, axes = pyplot.subplots(figsize=(8, 1.2 + 0.32 * len(classes)), layout="constrained")
    ordered = list(reversed(classes))  # first class at the top
    bars = axes.barh(
        [class_label(c) for c in ordered],
        [counts[c.label] for c in ordered],
        color=[_FLAG_COLOUR if c.label in small else _OK_COLOUR for c in ordered],
    )
    axes.bar_label(bars, padding=3, fontsize=9)
    axes.set_xlabel("images")
    axes.margins(x=0.12)
    return figure, axes


def _sorted_bars(exploration: Exploration, small: set[int]) -> tuple[Figure, Axes]:
    from matplotlib import pyplot

    classes = exploration.dataset.classes
    counts = exploration.counts
    figure, axes = pyplot.subplots(figsize=(10, 4.5), layout="constrained")
    ordered = sorted(classes, key=lambda c: counts[c.label], reverse=True)
    axes.bar(
        range(len(ordered)),
        [counts[c.label] for c in ordered],
        width=1.0,
        color=[_FLAG_COLOUR if c.label in small else _OK_COLOUR for c in ordered],
    )
    axes.set_xlabel(f"{len(classes)} classes, most images first (the report's table names them)")
    axes.set_ylabel("images")
    axes.set_xlim(-0.5, len(ordered) - 0.5)
    return figure, axes


def plot_images_per_class(exploration: Exploration) -> Figure:
    classes = exploration.dataset.classes
    small = {c.label for c in exploration.small_classes}
    if len(classes) <= _LABELLED_BARS_MAX:
        figure, axes = _labelled_bars(exploration, small)
    else:
        figure, axes = _sorted_bars(exploration, small)
    if small:
        from matplotlib.patches import Patch

        threshold = f"fewer than {count(exploration.min_per_class, 'image')}" + why_small(
            exploration
        )
        axes.legend(
            handles=[Patch(color=_FLAG_COLOUR, label=threshold)], loc="lower right", fontsize=9
        )
    axes.set_title(f"Images per class: {len(exploration.images)} images, {len(classes)} classes")
    return figure


def _size_histogram(axes: Axes, values: list[int], name: str, limit: int) -> None:
    import numpy

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
    axes.set_title(f"{name}: {value_range(values)} px, {len(below)} below {limit}", fontsize=10)
    axes.legend(fontsize=8, loc="best")


def plot_image_sizes(exploration: Exploration) -> Figure:
    from matplotlib import pyplot

    readable = exploration.readable
    ratios = [i.width / i.height for i in readable if i.height]
    figure, panels = pyplot.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    limit = exploration.min_size
    _size_histogram(panels[0], [i.width for i in readable], "width", limit)
    _size_histogram(panels[1], [i.height for i in readable], "height", limit)
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
