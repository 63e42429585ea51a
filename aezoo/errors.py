"""The exceptions aezoo raises, shared by the library and the command line.

The library raises them; ``aezoo.cli`` catches them and prints their message
(no traceback). Nothing here imports TensorFlow.
"""


class AezooError(Exception):
    """Base class of aezoo's own errors."""


class UsageError(AezooError, ValueError):
    """A problem with the user's input (a flag, a path, a name), reported without a traceback."""


class ZooError(AezooError):
    """Base class of the zoo's errors."""


class ZooIntegrityError(ZooError):
    """A file of a zoo entry is missing, truncated or altered (the message names it)."""


class UnknownModelError(ZooError, KeyError):
    """No zoo entry of that name; the message lists the ones there are."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ZooDownloadError(ZooError):
    """A zoo file could not be fetched from any source; the message lists each attempt."""


class ZooOfflineError(ZooDownloadError):
    """``AEZOO_OFFLINE=1`` and a file is not cached; the message says where to put it by hand."""
