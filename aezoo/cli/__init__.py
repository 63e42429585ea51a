"""The ``aezoo`` command line, one module per command; the library never imports it.

    aezoo train ...      aezoo.cli.train      one variant on MNIST or your data (--data)
    aezoo pretrain ...   aezoo.cli.pretrain   greedy RBM/DAE pretraining, unrolling, fine-tuning
    aezoo encode ...     aezoo.cli.encode     codes of your data
    aezoo score ...      aezoo.cli.score      anomaly scores of your data (AUROC with labels)
    aezoo evaluate ...   aezoo.cli.evaluate   a model's loss terms and errors on your data
    aezoo export ...     aezoo.cli.export     a .keras model as a SavedModel for TF Serving
    aezoo zoo ...        aezoo.cli.zoo        the pretrained-model zoo

``--data SOURCE`` options are shared (aezoo.cli.data).

Parsing imports neither TensorFlow nor the models, so ``aezoo --help`` and
argument errors are instant; each handler imports them once its arguments
are known to be valid. Library errors (``aezoo.errors``) are printed
without a traceback.
"""

import argparse
import sys

from aezoo import __version__
from aezoo.cli import encode, evaluate, export, pretrain, score, train, zoo
from aezoo.cli.common import UsageError
from aezoo.cli.train import LIKELIHOODS, MODELS, NOISES, PRIORS, VARIANT_OPTIONS

__all__ = ["LIKELIHOODS", "MODELS", "NOISES", "PRIORS", "VARIANT_OPTIONS", "UsageError",
           "build_parser", "main"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="aezoo",
        description="The autoencoder model zoo for Keras 3 and TensorFlow.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"aezoo {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, pretrain, encode, score, evaluate, export, zoo):
        module.add_parser(commands)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit status (0 ok, 1 a failed check, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or an argparse error (already printed)
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    try:
        if args.command == "pretrain":
            args = pretrain.apply_recipe(parser, args, argv)
        return args.handler(args)
    except UsageError as error:
        try:
            args.subparser.error(str(error))  # prints usage and the message, exits 2
        except SystemExit as stop:
            return stop.code


if __name__ == "__main__":
    sys.exit(main())
