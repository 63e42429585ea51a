"""What the ``aezoo`` subcommands share: error reporting and the ``--out`` check (no TensorFlow)."""

import contextlib
import os
import sys

from aezoo.errors import UsageError

EXIT_USAGE = 2
# aezoo.distribute.STRATEGIES, spelled out so parsing stays free of TensorFlow
# (tests/test_distribute.py checks they agree).
STRATEGIES = ("one-device", "mirrored", "multi-worker")

__all__ = ["EXIT_USAGE", "STRATEGIES", "UsageError", "add_strategy_arguments",
           "backup_callbacks", "check_out_path", "fail", "save_on_chief", "start_strategy"]


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


# ------------------------------------------------------------- distribution
def add_strategy_arguments(parser):
    """Adds ``--strategy`` and ``--backup-dir`` (see docs/multi-worker.md)."""
    parser.add_argument("--strategy", choices=STRATEGIES,
                        help="train under a tf.distribute strategy: one-device, mirrored (every "
                        "local GPU) or multi-worker (the cluster in TF_CONFIG); default: none")
    parser.add_argument("--backup-dir", metavar="DIR",
                        help="back up the training state here every epoch and resume from it "
                        "when the command is rerun (on a cluster: shared storage; the chief "
                        "writes it)")


def start_strategy(args):
    """(the strategy or None, a function giving a context to build models in), from ``--strategy``.

    Called before any other TensorFlow work: multi-worker collectives must be
    configured first.
    """
    if args.strategy is None:
        return None, contextlib.nullcontext
    from aezoo import distribute

    try:
        strategy = distribute.make_strategy(args.strategy)
    except ValueError as error:
        raise UsageError(str(error))
    index, workers = distribute.worker_index(strategy)
    where = f"; worker {index} of {workers}" + (" (chief)" if index == 0 else "") \
        if workers > 1 else ""
    print(f"Strategy {args.strategy}: {strategy.num_replicas_in_sync} replica(s){where}",
          flush=True)
    return strategy, strategy.scope


def backup_callbacks(args):
    """``[ChiefBackupAndRestore(--backup-dir)]``, or [] without the flag."""
    if not getattr(args, "backup_dir", None):
        return []
    from aezoo.distribute import ChiefBackupAndRestore

    return [ChiefBackupAndRestore(args.backup_dir)]


def save_on_chief(model, path, args, strategy):
    """Saves ``model`` to ``path`` (--out) unless this process is a worker other than the chief."""
    if strategy is not None:
        from aezoo import distribute

        if not distribute.is_chief(strategy):
            print(f"Not saving {args.out}: worker {distribute.worker_index(strategy)[0]} is not "
                  "the chief", flush=True)
            return
    model.save(path, overwrite=True)
    print(f"Saved the model to {args.out}", flush=True)
