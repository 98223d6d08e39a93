"""Whose fault a failed image read is: the image's own (skipped and tabled) or the machine's (the
run stops, nothing is written).

An image's own defects: truncated or damaged data, not an image, a decompression bomb, a kind no
decoder reads, and a single file that is missing or unreadable while its folder is fine. The
machine's: ROOT or an image's folder missing or not a folder, permission on a folder, exhausted
descriptors or memory, I/O errors, a full or read-only disk. Tabling those as bad images would
silently shrink the dataset.
"""

from __future__ import annotations

import errno
import os

from ..errors import EnvironmentFault

MISSING = "file not found"  # the skip reason of a missing file whose folder is there

# Errors about one file that say nothing about the machine: its own name, kind, or content.
_THE_FILES_OWN = frozenset(
    {
        errno.ENOENT,  # only when its folder is there (see fault_of)
        errno.EACCES,  # likewise
        errno.EPERM,
        errno.EISDIR,
        errno.ELOOP,
        errno.ENAMETOOLONG,
        errno.ENXIO,
        errno.ENODEV,
        errno.EINVAL,  # a seek a malformed header asked for
        errno.EOVERFLOW,
        errno.EFBIG,
    }
)
_MISSING_FOLDER = frozenset({errno.ENOENT, errno.ENOTDIR})
_ADVICE = {
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or use fewer --workers",
    errno.ENFILE: "the system's open file table is full: close other programs and run again",
    errno.ENOMEM: "out of memory: use fewer --workers or free memory",
    errno.EIO: "an I/O error: the disk or network filesystem failed; check it and run again",
    errno.ENOSPC: "the disk is full: free space and run again",
    errno.EROFS: "a read-only filesystem",
}


def _missing_folder(path: str) -> str | None:
    """The nearest folder above `path` that is missing or is not a folder, or None."""
    folder = os.path.dirname(path)
    missing = None
    while folder and not os.path.isdir(folder):
        missing = folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def _cwd_exists() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


def _folder_refused(path: str) -> bool:
    """Whether the file's folder cannot be searched or read, rather than the file itself."""
    folder = os.path.dirname(path) or "."
    return not os.access(folder, os.R_OK | os.X_OK)


def fault_of(exc: OSError, path: str) -> EnvironmentFault | None:
    """The run-stopping fault `exc` (raised reading the image at `path`) shows, or None when it is
    the image's own defect."""
    number = exc.errno
    if number is None:
        return None  # a decoder's complaint about the content (Pillow raises plain OSError)
    if number in _MISSING_FOLDER and not os.path.isabs(path) and not _cwd_exists():
        return EnvironmentFault(
            f"cannot read {path}: the working directory was removed during the run"
        )
    if number in _MISSING_FOLDER:
        missing = _missing_folder(path)
        if missing is not None:
            what = "is not a folder" if os.path.lexists(missing) else "is missing"
            return EnvironmentFault(
                f"cannot read {path}: folder {missing} {what} (was it moved or removed, or is "
                "ROOT wrong?)"
            )
        if number == errno.ENOENT:
            return None
    if number in (errno.EACCES, errno.EPERM) and _folder_refused(path):
        return EnvironmentFault(
            f"cannot read {path}: permission denied on its folder; fix the folder's permissions "
            "and run again"
        )
    if number in _THE_FILES_OWN:
        return None
    advice = _ADVICE.get(number, "a fault of the machine, not of the image")
    return EnvironmentFault(
        f"cannot read {path}: {exc.strerror or exc} ({errno.errorcode.get(number, number)}): "
        f"{advice}"
    )


def image_reason(exc: OSError) -> str:
    """The skip reason for an OSError that fault_of() found to be the image's own."""
    if exc.errno == errno.ENOENT:
        return MISSING
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


def memory_fault(path: str) -> EnvironmentFault:
    return EnvironmentFault(
        f"out of memory while packing {path}: use fewer --workers or free memory"
    )
