"""Errors a user can fix, printed as one `classroom: error: ...` line with recpack's exit codes."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class ClassroomError(Exception):
    """The command cannot go on; the message says why in one line."""

    exit_code = EXIT_ERROR


class UsageError(ClassroomError):
    """The command line asks for something that cannot be done as given."""

    exit_code = EXIT_USAGE
