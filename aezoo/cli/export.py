"""The ``aezoo export`` subcommand's arguments, kept free of TensorFlow.

``aezoo export MODEL.keras --base-dir saved_models/serving --name NAME [--version N]``
writes ``saved_models/serving/NAME/N/`` (see ``aezoo.export``) and refreshes
``saved_models/serving/models.config``. Parsing imports nothing heavy; the handler
imports ``aezoo.export`` (and TensorFlow) once the arguments are known to be
valid, as ``aezoo train`` does.

Wired into ``aezoo.cli.build_parser`` with ``add_parser(commands)``.
"""

import os
import re

from aezoo.argtypes import positive_int
from aezoo.cli.common import UsageError, fail

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def export_command(args):
    """``aezoo export MODEL.keras --base-dir DIR --name NAME [--version N]``.

    Checks the arguments first (``UsageError``: the CLI prints usage, exits 2),
    then imports TensorFlow, loads, exports and rewrites models.config.
    """
    path = os.path.expanduser(args.model)
    if not path.endswith(".keras"):
        raise UsageError(f"MODEL must be a .keras file, got {args.model!r}")
    if not os.path.isfile(path):
        raise UsageError(f"{args.model} does not exist")
    if not _NAME_PATTERN.match(args.name):
        raise UsageError(f"--name must be letters, digits, '_', '.' or '-', got {args.name!r}")
    target = os.path.join(args.base_dir, args.name, str(args.version))
    if os.path.exists(target) and not args.overwrite:
        raise UsageError(f"{target} already exists; pass --overwrite to replace it")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TensorFlow's INFO lines
    import keras

    from aezoo.export import export_saved_model, exported_models, signatures, write_models_config
    from aezoo.models import Autoencoder

    try:
        model = keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001  (bad or foreign file)
        return fail("export", f"cannot load {args.model}: {error}")
    if not isinstance(model, Autoencoder):
        return fail("export", f"{args.model} holds a {type(model).__name__}, not an aezoo "
                    "autoencoder")
    version_dir = export_saved_model(model, args.base_dir, args.name, args.version,
                                     overwrite=args.overwrite, warmup=not args.no_warmup)
    names = ["serving_default", *signatures(model)]
    print(f"Exported {type(model).__name__} to {version_dir}")
    print(f"  signatures: {', '.join(names)}")
    if not args.no_config:
        config = write_models_config(args.base_dir)
        print(f"  wrote {config} (models: {', '.join(exported_models(args.base_dir))})")
    return 0


def add_parser(commands):
    """Adds ``export`` to ``commands`` (the result of ``add_subparsers``); returns it."""
    export = commands.add_parser(
        "export",
        help="export a .keras model as a SavedModel for TensorFlow Serving",
        description=(
            "Export a trained aezoo model (.keras) to BASE_DIR/NAME/VERSION/, a "
            "SavedModel with the signatures serving_default, reconstruct, encode, "
            "decode, anomaly_score (and sample for vae) that TensorFlow Serving "
            "loads as it is, then rewrite BASE_DIR/models.config to list every "
            "model under BASE_DIR."
        ),
        allow_abbrev=False,
    )
    export.add_argument("model", metavar="MODEL.keras", help="the model to export")
    export.add_argument("--base-dir", default="saved_models/serving",
                        help="TF Serving's model folder (default: %(default)s)")
    export.add_argument("--name", required=True,
                        help="the model's name in TF Serving (URLs, models.config)")
    export.add_argument("--version", type=positive_int, default=1,
                        help="the version folder's number (default: %(default)s)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing version folder")
    export.add_argument("--no-warmup", action="store_true",
                        help="do not write assets.extra/tf_serving_warmup_requests")
    export.add_argument("--no-config", action="store_true",
                        help="do not rewrite BASE_DIR/models.config")
    export.set_defaults(handler=export_command, subparser=export)
    return export
