"""What the ``aezoo`` subcommands share: error reporting and the ``--out`` check (no TensorFlow)."""

import os
import sys

from aezoo.errors import UsageError

EXIT_USAGE = 2

__all__ = ["EXIT_USAGE", "UsageError", "check_out_path", "fail"]


def fail(command, message, code=EXIT_USAGE):
    """Prints ``aezoo COMMAND: error: MESSAGE`` to stderr; returns the exit code."""
    print(f"aezoo {command}: error: {message}", file=sys.stderr)
    return code


def check_out_path(args):
    """The absolute ``--out`` path (a .keras file), checked before any work starts; or None.

    An existing file is refused without ``--overwrite``; the folder is created
    now, so a bad one fails before training rather than after.
    """
    if args.out is None:
        return None
    path = os.path.abspath(os.path.expanduser(args.out))
    if not path.endswith(".keras"):
        raise UsageError(f"--out must name a .keras file, got {args.out!r}")
    if os.path.isdir(path):
        raise UsageError(f"--out {args.out!r} is a directory")
    if os.path.exists(path) and not args.overwrite:
        raise UsageError(f"{args.out} already exists; pass --overwrite to replace it")
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the folder for --out {args.out}: {error}")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {args.out}: {parent} is not writable")
    return path
