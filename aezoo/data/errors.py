"""Exceptions raised by the data layer.

Every message names the file or directory involved, so a user who sees only
the last line of a traceback still knows what to fix.
"""


class DataError(ValueError):
    """A data file is missing, malformed or inconsistent with its partner file."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A required data file does not exist.

    Subclasses both DataError (so one ``except DataError`` catches every data
    problem) and FileNotFoundError (so generic file handling still works).
    """
