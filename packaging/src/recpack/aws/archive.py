"""The raw image archive an instructor uploads: which keys are archives, safe extraction, and the
dataset ROOT inside it."""

from __future__ import annotations

import os
import posixpath
import re
import tarfile
import zipfile

from .. import defaults
from ..dataset.metadata import METADATA_FILES
from ..errors import CloudError

_SYMLINK, _FILE_TYPE = 0o120000, 0o170000


def is_archive(key: str) -> bool:
    return key.lower().endswith(defaults.ARCHIVE_SUFFIXES)


def archive_stem(key: str) -> str:
    """The archive's name without its suffix, safe as a file name prefix."""
    name = posixpath.basename(key)
    for suffix in sorted(defaults.ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "dataset"


def _zip_members(bundle: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members with '/' between folders: Windows PowerShell 5.1's Compress-Archive writes '\\',
    which would otherwise become one file per image named `images\\0752\\a.jpg`."""
    members = bundle.infolist()
    for member in members:
        member.filename = member.filename.replace("\\", "/")
    return members


def _check_zip_members(archive: str, members: list[zipfile.ZipInfo], top: str) -> None:
    """Refuses escapes and links; the names come from _zip_members(), so '\\' is already '/'."""
    for member in members:
        target = os.path.realpath(os.path.join(top, member.filename))
        if member.filename.startswith("/") or not (
            target == top or target.startswith(top + os.sep)
        ):
            raise CloudError(
                f"{archive}: member {member.filename!r} would be written outside the "
                "extraction folder; refusing the archive"
            )
        if (member.external_attr >> 16) & _FILE_TYPE == _SYMLINK:
            raise CloudError(
                f"{archive}: member {member.filename!r} is a symbolic link; refusing it"
            )


def extract_archive(archive: str, destination: str) -> None:
    """Unpack a .zip or .tar[.gz] refusing members that would land outside `destination`."""
    os.makedirs(destination, exist_ok=True)
    top = os.path.realpath(destination)
    try:
        if archive.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                members = _zip_members(bundle)
                _check_zip_members(archive, members, top)
                bundle.extractall(top, members)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(top, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise CloudError(f"{archive}: cannot extract: {exc}") from None


def find_dataset_root(folder: str) -> str:
    """The ROOT to list inside an extracted archive: through single wrapper folders, to images/."""
    current = folder
    while True:
        entries = [e for e in os.listdir(current) if not e.startswith(".") and e != "__MACOSX"]
        if all(os.path.isfile(os.path.join(current, m)) for m in METADATA_FILES):
            return current
        subdirs = [e for e in entries if os.path.isdir(os.path.join(current, e))]
        if "images" in subdirs:
            return os.path.join(current, "images")
        if len(entries) == 1 and subdirs:
            current = os.path.join(current, subdirs[0])
            continue
        return current
