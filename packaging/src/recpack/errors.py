"""Errors a user can fix: the CLI prints them as one line, never as a traceback.

Each class carries the exit code `recpack` ends with (cli/main.py maps them in one place). A usage
mistake (an unknown option, a value out of range) is argparse's own error and exits 2.
"""

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130  # a usage mistake: argparse exits 2


class RecpackError(Exception):
    """A problem with the user's input or environment, reported as `recpack: error: <message>`."""

    exit_code = EXIT_ERROR


class ListFileError(RecpackError):
    """A malformed .lst line; the message names the file and the line."""


class RecordIOError(RecpackError):
    """The bytes are not valid RecordIO; names the file and the offset."""


class DatasetError(RecpackError):
    """A dataset folder, its metadata files or a label map that cannot be listed as asked."""


class PackFailed(RecpackError):
    """A packing run that cannot go on; nothing was written at the final paths."""


class VerifyFailed(RecpackError):
    """A .rec, .idx or manifest that does not hold what it should; names the first fault."""


class CloudError(RecpackError):
    """S3 refused or could not be reached, or an archive cannot be used."""


class ExploreError(RecpackError):
    """The explore report cannot be written (a missing extra, an unusable --out)."""


class ForeignFolder(RecpackError):
    """A folder recpack was asked to work in holds files recpack did not put there (or cannot be
    made); recpack never empties or writes over such a folder."""


class EnvironmentFault(RecpackError):
    """The machine, not an image, stopped the run: a missing folder or ROOT, permission on a
    folder, exhausted descriptors or memory, an I/O error, a full or read-only disk. Never tabled as
    a bad image; nothing is written at the final paths."""
