"""The ``--data SOURCE`` options every command shares, and reading a model for a command.

SOURCE is what ``aezoo.data.load_data`` reads: a .csv/.tsv/.npy/.npz/.parquet
file, a folder of images, ``mnist[:test]`` or ``tfds:NAME[:SPLIT]``.
Parsing imports nothing heavy.
"""

import os

from aezoo.argtypes import positive_int
from aezoo.cli.common import UsageError

SOURCE_HELP = ("a .csv/.tsv (header row), .npy, .npz or .parquet file, a folder of images, "
               "'mnist[:test]' or 'tfds:NAME[:SPLIT]'")


def image_size(text):
    import argparse

    parts = text.lower().replace(",", "x").split("x")
    try:
        size = tuple(positive_int(p) for p in parts)
    except argparse.ArgumentTypeError:
        size = ()
    if len(size) != 2:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 28x28, got {text!r}")
    return size


def add_data_arguments(parser, required=True, what="the data"):
    group = parser.add_argument_group("data")
    group.add_argument("--data", required=required, metavar="SOURCE",
                       help=f"{what}: {SOURCE_HELP}")
    group.add_argument("--label-column", metavar="NAME",
                       help="a CSV/Parquet column kept apart as labels, never fed to the model")
    group.add_argument("--key", metavar="NAME",
                       help="the .npz array or TFDS feature holding the data (default: x or "
                            "the only array; TFDS: image)")
    group.add_argument("--label-key", metavar="NAME",
                       help="the .npz array holding labels (default: y or labels, if present)")
    group.add_argument("--drop-non-numeric", action="store_true",
                       help="drop non-numeric table columns instead of failing")
    group.add_argument("--drop-nan", action="store_true",
                       help="drop rows with NaN or inf values instead of failing (counted)")
    group.add_argument("--image-size", type=image_size, metavar="HxW",
                       help="image folders: resize to this (default: 28x28)")
    group.add_argument("--color-mode", choices=("grayscale", "rgb"), default="grayscale",
                       help="image folders (default: grayscale)")
    return group


def add_model_command(commands, name, handler, help_text, description):
    """A subcommand ``NAME MODEL --data SOURCE [--batch-size N]``; returns its parser."""
    parser = commands.add_parser(name, help=help_text, description=description,
                                 allow_abbrev=False)
    parser.add_argument("model", metavar="MODEL", help="a .keras file or a zoo model name")
    add_data_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=1000)
    parser.set_defaults(handler=handler, subparser=parser)
    return parser


def load_source(args, source=None):
    """The ``Data`` that ``--data`` (or ``source``) names; UsageError on a bad source."""
    from aezoo.data import DataError, load_data

    source = source or args.data
    try:
        data = load_data(
            source, label_column=args.label_column, drop_non_numeric=args.drop_non_numeric,
            drop_nan=args.drop_nan, key=args.key, label_key=args.label_key,
            image_size=args.image_size, color_mode=args.color_mode,
            data_dir=getattr(args, "data_dir", None))
    except DataError as error:
        raise UsageError(str(error))
    print(f"Data: {data.summary()}", flush=True)
    for note in data.notes:
        print(f"  {note}", flush=True)
    return data


def load_model(path, detectors=False):
    """An aezoo autoencoder from a .keras file, or from the zoo by name.

    With ``detectors=True`` a saved ``AutoencoderDetector`` is returned as one.
    """
    import keras

    from aezoo import zoo
    from aezoo.anomaly import AnomalyEnsemble, AutoencoderDetector
    from aezoo.models import Autoencoder

    if os.path.isfile(path):
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as error:  # noqa: BLE001  (a foreign or damaged file)
            raise UsageError(f"cannot load {path}: {error}")
    elif path.endswith(".keras"):
        raise UsageError(f"{path} does not exist")
    else:
        try:
            model = zoo.load(path, compile=False)
        except zoo.ZooError as error:
            raise UsageError(f"MODEL is neither a .keras file nor a zoo model: {error}")
    if detectors and isinstance(model, AnomalyEnsemble):
        return AutoencoderDetector.from_model(model)
    if not isinstance(model, Autoencoder):
        raise UsageError(f"{path} holds a {type(model).__name__}, not an aezoo autoencoder")
    return model


def check_features(model, data, path):
    """``data`` for ``model``: the feature count checked, rows reshaped to a conv model's images."""
    expected = getattr(model, "n_features_in_", None) or model.input_dim
    if data.features != expected:
        raise UsageError(f"{data.description} has {data.features} features, but {path} was "
                         f"trained on {expected}")
    return data.shaped(getattr(model, "example_shape", (expected,)))


def check_new_file(path, overwrite, suffixes):
    """The absolute path of an output file that may be written; UsageError otherwise."""
    full = os.path.abspath(os.path.expanduser(path))
    if not full.endswith(suffixes):
        raise UsageError(f"--out must end in {' or '.join(suffixes)}, got {path!r}")
    if os.path.isdir(full):
        raise UsageError(f"--out {path!r} is a directory")
    if os.path.exists(full) and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it")
    if not os.path.isdir(os.path.dirname(full)):
        raise UsageError(f"the folder of --out {path} does not exist")
    return full


