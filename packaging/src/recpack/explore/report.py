"""Exploring a dataset: read every header, draw the figures and thumbnails, write index.html.

Lab 1 explored the dataset in a notebook: images per species, image sizes, sample images, class ids
and names. This reads only image headers (size, format, mode), so a NABirds-sized dataset (50k images)
takes about 20 s; pixels are decoded only for the few sample thumbnails, at reduced scale (`draft`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager

from .. import defaults
from ..dataset.discovery import discover
from ..errors import ExploreError
from ..files.ownership import claim_folder
from .facts import Bar, Exploration, Progress, read_headers, write_thumbnails
from .figures import require_matplotlib, write_figures
from .page import render_html

REPORT_NAME = "index.html"


def _tqdm(*, total: int, desc: str, unit: str) -> AbstractContextManager[Bar]:
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in CI logs or pipes.
    return tqdm(total=total, desc=desc, unit=unit, disable=None, file=sys.stderr, leave=False)


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _check_out_dir(root: str, out_dir: str, chosen: bool) -> None:
    """The default report folder must not land inside ROOT, where it would be packed as a class;
    a folder the user names there is the user's choice (it is marked, so listing skips it)."""
    if not chosen and _inside(out_dir, root):
        raise ExploreError(
            f"the report would be written inside ROOT {root!r} (default --out "
            f"{defaults.EXPLORE_OUT}); pass --out DIR with a folder outside ROOT"
        )


def explore(
    root: str,
    out_dir: str,
    *,
    min_size: int = defaults.TRAINING_SIDE,
    min_per_class: int = defaults.EXPLORE_MIN_PER_CLASS,
    samples: int = defaults.EXPLORE_SAMPLES,
    thumbnail_size: int = defaults.EXPLORE_THUMBNAIL_SIZE,
    seed: int = defaults.SEED,
    exts: Sequence[str] | None = None,
    classes: Sequence[str] = (),
    progress: Progress | None = None,
    out_chosen: bool = True,
) -> Exploration:
    """Read every header under ROOT, write the report into `out_dir`, return what was found.
    `out_dir` must be new, empty or an earlier report; with `out_chosen` False (the command's
    default folder) it must also lie outside ROOT."""
    require_matplotlib()  # before the long header pass
    progress = progress or _tqdm
    _check_out_dir(root, out_dir, out_chosen)
    dataset = discover(root, exts or defaults.IMAGE_EXTENSIONS, classes)
    claim_folder(out_dir, "explore report", "--out")
    exploration = Exploration(dataset, read_headers(dataset, progress), min_size, min_per_class)
    if samples:
        write_thumbnails(exploration, out_dir, samples, thumbnail_size, seed, progress)
    figures = write_figures(exploration, out_dir)
    with open(os.path.join(out_dir, REPORT_NAME), "w", encoding="utf-8") as f:
        f.write(render_html(exploration, out_dir, figures))
    return exploration
