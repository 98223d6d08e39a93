"""Choosing classes by `--classes` tokens (class ids or names), the same way in both layouts."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DatasetError

_SHOWN_CLASSES = 8


def class_sort_key(class_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the others by name."""
    return (0, int(class_id), "") if class_id.isdigit() else (1, 0, class_id)


def _matches(token: str, class_id: str, name: str) -> bool:
    if token.isdigit() and class_id.isdigit():
        return int(token) == int(class_id)
    return token == class_id or token.casefold() == name.casefold()


def select_classes(
    available: Sequence[tuple[str, str]], wanted: Sequence[str], layout: str
) -> set[str]:
    """Class ids chosen by `--classes` (ids or names); every token must match a class that has images."""
    chosen: set[str] = set()
    for token in wanted:
        hits = [cid for cid, name in available if _matches(token, cid, name)]
        if not hits:
            sample = ", ".join(
                f"{cid} ({name})" if name != cid else cid
                for cid, name in available[:_SHOWN_CLASSES]
            )
            more = f", ... ({len(available)} in all)" if len(available) > _SHOWN_CLASSES else ""
            raise DatasetError(
                f"--classes: {token!r} matches no class with images in this {layout} dataset; "
                f"classes are: {sample}{more}"
            )
        chosen.update(hits)
    return chosen
