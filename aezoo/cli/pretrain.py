"""``aezoo pretrain``: greedy pretraining, unrolling and fine-tuning from flags or a recipe.

    aezoo pretrain --hidden-dims 1000,500,250,30 --epochs-per-layer 10 \\
        --finetune-epochs 10 --checkpoint-dir runs/hinton --out hinton.keras

With ``--checkpoint-dir``, finished layers, the current layer's last epoch and
each fine-tuning epoch are saved there; rerunning the same command resumes.
``--recipe FILE.json`` supplies any of the flags (as their long names with
underscores, e.g. ``{"hidden_dims": [1000, 500, 250, 30]}``); flags given on
the command line win.
"""

import json
import os

from aezoo.argtypes import dims, non_negative_int, positive_float, positive_int
from aezoo.cli.common import (
    UsageError,
    add_strategy_arguments,
    backup_callbacks,
    check_out_path,
    save_on_chief,
    start_strategy,
)
from aezoo.cli.data import add_data_arguments, load_source


def add_parser(commands):
    parser = commands.add_parser(
        "pretrain",
        help="greedy RBM/DAE pretraining, unrolling and fine-tuning on MNIST or --data",
        description=__doc__.split("\n\n")[0],
        allow_abbrev=False,
    )
    parser.add_argument("--recipe", metavar="FILE.json",
                        help="read settings from a JSON file; flags override it")
    parser.add_argument("--hidden-dims", type=dims, default=(1000, 500, 250, 30),
                        metavar="DIMS", help="stack widths, the last is the code "
                        "(default: 1000,500,250,30)")
    parser.add_argument("--method", choices=("rbm", "dae"), default="rbm",
                        help="layer-wise pretraining (default: rbm)")
    parser.add_argument("--epochs-per-layer", type=positive_int, default=10,
                        help="default: %(default)s (the paper: 50)")
    parser.add_argument("--finetune", choices=("adam", "lbfgs"), default="adam",
                        help="fit with Adam, or Hinton's large-batch quasi-Newton "
                        "schedule (default: adam)")
    parser.add_argument("--finetune-epochs", type=non_negative_int, default=10,
                        help="default: %(default)s (the paper: 200)")
    parser.add_argument("--learning-rate", type=positive_float, default=1e-3,
                        help="Adam's fine-tuning rate (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=100)
    parser.add_argument("--rbm-dtype", choices=("float32", "mixed_bfloat16"), default="float32",
                        help="the RBMs' matrix products: float32 (default), or bfloat16 with "
                        "float32 weights (faster on CPUs with AVX512-BF16 or AMX; "
                        "benchmarks/rbm_speed.py measures it)")
    parser.add_argument("--tied", action="store_true",
                        help="keep decoder kernels tied to the encoder's")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="use the first N training images only")
    parser.add_argument("--data-dir", help="MNIST IDX folder (default: $AEZOO_DATA_DIR)")
    parser.add_argument("--checkpoint-dir", help="save progress here and resume from it")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--out", metavar="PATH.keras", help="save the fine-tuned model")
    parser.add_argument("--overwrite", action="store_true")
    add_strategy_arguments(parser)
    group = add_data_arguments(parser, required=False, what="pretrain on this instead of "
                               "MNIST (data outside [0, 1] is min-max scaled inside the model, "
                               "as binary RBM units need)")
    group.add_argument("--validation-data", metavar="SOURCE",
                       help="with --data: report the error on this (default: the training data)")
    parser.set_defaults(handler=pretrain_command, subparser=parser)
    return parser


def apply_recipe(parser, args, argv):
    """Re-parses ``argv`` with the recipe's values as the subcommand's defaults.

    ``parser`` is the top-level parser; flags given on the command line win.
    """
    if not args.recipe:
        return args
    try:
        with open(args.recipe) as handle:
            recipe = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read the recipe {args.recipe}: {error}")
    if not isinstance(recipe, dict):
        raise UsageError(f"the recipe {args.recipe} must hold a JSON object")
    subparser = args.subparser
    known = {action.dest for action in subparser._actions}
    unknown = sorted(set(recipe) - known - {"recipe"})
    if unknown:
        raise UsageError(f"the recipe {args.recipe} has unknown settings: {', '.join(unknown)}")
    if "hidden_dims" in recipe:
        recipe["hidden_dims"] = tuple(recipe["hidden_dims"])
    subparser.set_defaults(**recipe)
    return parser.parse_args(argv)


def pretrain_command(args):
    out_path = check_out_path(args)
    if args.strategy and args.finetune == "lbfgs" and args.finetune_epochs:
        raise UsageError("--finetune lbfgs runs on one device; use --finetune adam with "
                         "--strategy")
    if args.rbm_dtype != "float32" and args.method != "rbm":
        raise UsageError(f"--rbm-dtype applies to --method rbm, not {args.method}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    strategy, scope = start_strategy(args)
    import keras
    import numpy as np

    from aezoo.data import DataError, load_mnist
    from aezoo.evaluation import squared_error_per_image
    from pretrain import finetune_lbfgs, greedy_pretrain, unroll
    from pretrain.stack import EpochCheckpoint, load_epoch_checkpoint

    if args.data:
        x_raw, x_eval, scaling = _user_data(args)
    else:
        if args.validation_data:
            raise UsageError("--validation-data needs --data (the MNIST run reports the test set)")
        try:
            x_raw = load_mnist("train", data_dir=args.data_dir)[0]
            x_eval = load_mnist("test", data_dir=args.data_dir)[0]
        except DataError as error:
            raise UsageError(str(error))
        scaling = None
    x_raw = x_raw[: args.limit] if args.limit else x_raw
    x_train, scaler = x_raw, None
    if scaling:  # the RBMs see what the unrolled model's scaling layer will give them
        from aezoo.layers.scaling import FeatureScaling

        scaler = FeatureScaling(scaling, x_raw.shape[1]).adapt(x_raw)
        x_train = np.clip(scaler.transform_numpy(x_raw), 0.0, 1.0).astype("float32")
    keras.utils.set_random_seed(args.seed)
    what = "rows" if args.data else "MNIST images"
    print(f"Pretraining {args.method.upper()} stack {x_raw.shape[1]}-"
          f"{'-'.join(map(str, args.hidden_dims))} on {len(x_raw):,} {what}: "
          f"{args.epochs_per_layer} epochs per layer, then "
          f"{args.finetune_epochs} {args.finetune} fine-tuning epochs", flush=True)
    with scope():  # the layers' and the unrolled model's weights, mirrored under a strategy
        layers = greedy_pretrain(
            x_train, args.hidden_dims, epochs=args.epochs_per_layer, method=args.method,
            batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir, seed=args.seed,
            **({"dtype": args.rbm_dtype} if args.method == "rbm" else {}),
        )
        model = unroll(layers, tied=args.tied, seed=args.seed, input_scaling=scaling)
    if scaler is not None:  # the statistics the stack was trained behind
        model.scaler.set_weights(scaler.get_weights())
    print(f"Unrolled: {_error_text(model, x_eval, args.data)} before fine-tuning", flush=True)
    x_train = x_raw  # fine-tuning takes raw rows; the model scales them

    if args.finetune_epochs and args.finetune == "lbfgs":
        finetune_lbfgs(model, x_train, epochs=args.finetune_epochs, seed=args.seed)
    elif args.finetune_epochs:
        first_epoch, callbacks = 0, []
        if args.checkpoint_dir:
            path = os.path.join(args.checkpoint_dir, "finetune.keras")
            with scope():
                saved, first_epoch = load_epoch_checkpoint(path)
            if saved is not None:
                print(f"Resuming fine-tuning at epoch {first_epoch + 1}", flush=True)
                model = saved
            callbacks.append(EpochCheckpoint(path))
        callbacks += backup_callbacks(args)
        if not model.compiled:
            with scope():
                model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        model.fit(x_train, epochs=args.finetune_epochs, initial_epoch=first_epoch,
                  batch_size=args.batch_size, callbacks=callbacks, verbose=2)

    if args.data:
        print(f"After fine-tuning: {_error_text(model, x_eval, args.data)}")
    else:
        error = squared_error_per_image(model, x_eval)
        print(f"Test squared error per image: {error:.3f} (sum over 784 pixels, mean over "
              f"{len(x_eval):,} test images)")
    if out_path:
        save_on_chief(model, out_path, args, strategy)
    return 0


def _user_data(args):
    """(training rows, rows to report on, scaling) for ``--data``."""
    import numpy as np

    data = load_source(args)
    if data.streamed:
        raise UsageError(f"{data.description} is streamed; greedy pretraining needs the rows in "
                         "memory (save them as .npy or .npz)")
    evaluation = load_source(args, args.validation_data) if args.validation_data else data
    if evaluation.features != data.features:
        raise UsageError(f"--validation-data has {evaluation.features} features, --data "
                         f"{data.features}")
    low, high = float(np.min(data.x)), float(np.max(data.x))
    scaling = None if 0.0 <= low and high <= 1.0 else "minmax"
    print(f"The data lie in [{low:.4g}, {high:.4g}]: "
          + ("no scaling" if scaling is None else "min-max scaling to [0, 1] inside the model "
             "(fitted on the training data), as the binary RBM units need"), flush=True)
    return data.x, evaluation.x, scaling


def _error_text(model, x, user_data):
    from aezoo.evaluation import squared_error_per_image

    if not user_data:
        return f"test squared error per image {squared_error_per_image(model, x):.3f}"
    import numpy as np

    scaled = float(np.mean(model.reconstruction_error(x)))
    raw = float(np.mean(model.reconstruction_error(x, scale="raw")))
    where = f" ({model.input_scaling} scale; {raw:.4g} raw)" if model.scaler else ""
    return f"mean squared error per row {scaled:.4g}{where} on {len(x):,} rows"

