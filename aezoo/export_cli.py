"""The ``aezoo export`` subcommand's arguments, kept free of TensorFlow.

``aezoo export MODEL.keras --base-dir saved_models/serving --name NAME [--version N]``
writes ``saved_models/serving/NAME/N/`` (see ``aezoo.export``) and refreshes
``saved_models/serving/models.config``. Parsing imports nothing heavy; the handler
imports ``aezoo.export`` (and TensorFlow) once the arguments are known to be
valid, as ``aezoo train`` does.

Wired into ``aezoo.cli.build_parser`` with ``add_export_parser(commands)``.
"""


from aezoo.argtypes import positive_int


def export_command(args):
    """Handler for ``aezoo export``: imports TensorFlow only now."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TensorFlow's INFO lines
    from aezoo.export import main_export

    return main_export(args)


def add_export_parser(commands):
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
