"""Errors a user can fix: the CLI prints them as one line, never as a traceback."""


class RecpackError(Exception):
    """A problem with the user's input or environment, reported as `recpack: error: <message>`."""

    exit_code = 1
