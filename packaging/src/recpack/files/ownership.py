"""Which folders and files recpack made: the one convention every command follows, so that nothing
recpack did not create is ever emptied, overwritten or listed as a class.

A folder recpack makes for itself (the pipeline's work folder, an explore report, the demo's
files) holds a marker file, MARKER. recpack empties or reuses only a folder that is new, empty or
marked; discovery skips marked folders and recpack's temporaries, so a report or a work folder
left inside ROOT never becomes a class.
"""

from __future__ import annotations

import os

from ..errors import ForeignFolder

MARKER = ".recpack-owned"
TEMPORARY_MARK = ".recpack-tmp."  # in `.NAME.recpack-tmp.PID`, files.atomic's temporaries


def is_temporary(name: str) -> bool:
    """Whether a file name is one of recpack's temporaries (`.NAME.recpack-tmp.PID`)."""
    return name.startswith(".") and TEMPORARY_MARK in name


def is_owned(folder: str) -> bool:
    """Whether `folder` holds recpack's marker."""
    return os.path.isfile(os.path.join(folder, MARKER))


def what_owns(folder: str) -> str:
    """What the marker says made `folder` (such as 'explore report'), or '' when unmarked."""
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as f:
            return f.readline().strip().removeprefix("recpack ")
    except (OSError, UnicodeDecodeError):
        return ""


def claim_folder(folder: str, purpose: str, option: str) -> str:
    """`folder` (absolute) ready for recpack to work in: created and marked when new, marked when
    empty, used as it is when already marked. A folder holding anything else is refused, so a
    user's own folder is never emptied or written over. `purpose` is written in the marker
    ('pipeline work folder'); `option` names the setting in messages ('--work-dir')."""
    folder = os.path.abspath(folder)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ForeignFolder(f"{option} {folder!r} is a file, not a folder; name a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        present = os.listdir(folder)
    except OSError as exc:
        raise ForeignFolder(
            f"{option} {folder!r}: cannot create or read the folder: {exc.strerror or exc}; "
            "name a folder you can write to"
        ) from None
    if MARKER in present:
        return folder
    if present:
        shown = ", ".join(sorted(present)[:3]) + (", ..." if len(present) > 3 else "")
        raise ForeignFolder(
            f"{option} {folder!r} holds files recpack did not create ({shown}); recpack works "
            "only in a new or empty folder, or one it made before: name another folder"
        )
    try:
        with open(os.path.join(folder, MARKER), "x", encoding="utf-8") as f:
            f.write(
                f"recpack {purpose}\n"
                "recpack made this folder and may empty what it wrote here; "
                "'recpack list' never lists it as a class.\n"
            )
    except FileExistsError:
        pass  # another run marked it meanwhile: it is ours either way
    except OSError as exc:
        raise ForeignFolder(
            f"{option} {folder!r}: cannot write in the folder: {exc.strerror or exc}; "
            "name a folder you can write to"
        ) from None
    return folder
