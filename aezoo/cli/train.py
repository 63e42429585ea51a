"""``aezoo train --model deep [--data SOURCE] --epochs 10 --out deep.keras``: one variant.

Without ``--data`` it trains on MNIST (``--data-dir``) and reports the test
squared error; with ``--data`` on the user's table or images, with the loss,
output and input scaling chosen from the data (and printed) unless given,
an optional validation split and early stopping.

Parsing imports neither TensorFlow nor the models, so argument errors are
instant; ``train_command`` imports them once the arguments are known to be
valid.
"""

import argparse
import os

from aezoo.argtypes import (
    dims,
    finite_float,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from aezoo.cli.common import (
    UsageError,
    add_strategy_arguments,
    backup_callbacks,
    check_out_path,
    fail,
    save_on_chief,
    start_strategy,
)
from aezoo.cli.data import add_data_arguments, load_source

MODELS = ("linear", "deep", "denoising", "sparse", "ksparse", "contractive", "vae")
# Kept in step with aezoo.layers.noise.CORRUPTIONS and the VAE's LIKELIHOODS and
# PRIORS (tests/test_cli.py checks it); spelled out here so parsing stays free of
# TensorFlow.
NOISES = ("masking", "gaussian", "salt_and_pepper")
LIKELIHOODS = ("bernoulli", "gaussian")
PRIORS = ("standard_normal", "mixture")

# Variant hyperparameter -> the --model values whose constructor takes it. Each
# is passed only when given; giving it for another variant is an error.
VARIANT_OPTIONS = {
    "noise": ("denoising",),
    "noise_level": ("denoising",),
    "rho": ("sparse",),
    "beta": ("sparse",),
    "k": ("ksparse",),
    "alpha": ("ksparse",),
    "k_start": ("ksparse",),
    "anneal_steps": ("ksparse",),
    "dead_steps": ("ksparse",),
    "auxiliary_k": ("ksparse",),
    "contractive_weight": ("contractive",),
    "likelihood": ("vae",),
    "prior": ("vae",),
    "weight_decay": MODELS,
    "tied": tuple(m for m in MODELS if m != "vae"),  # the VAE's code layer has two heads
}



# --------------------------------------------------------------------- parser
def add_parser(commands):
    """Adds ``train`` to ``commands`` (the result of ``add_subparsers``); returns it."""
    train = commands.add_parser(
        "train",
        help="train an autoencoder on MNIST or on your own data (--data)",
        description=(
            "Train an autoencoder variant on MNIST (reporting its squared error per "
            "test image, and the test ELBO for vae) or on --data SOURCE, and "
            "optionally save it."
        ),
        allow_abbrev=False,
    )
    train.add_argument("--model", required=True, choices=MODELS, help="the variant to train")
    train.add_argument(
        "--hidden-dims",
        type=dims,
        metavar="DIMS",
        help="encoder hidden widths, input side first, e.g. 1000,500,250; '' for "
        "none (default: the variant's own)",
    )
    train.add_argument(
        "--latent-dim", type=positive_int, help="code width (default: the variant's own)"
    )
    train.add_argument("--backbone", choices=("dense", "conv"), default="dense",
                       help="conv: a convolutional encoder and decoder on image data "
                       "(--data with images: a folder, MNIST, an npz of images, TFDS); "
                       "default: %(default)s")
    train.add_argument("--filters", type=dims, metavar="FILTERS",
                       help="conv: the conv blocks' filters, input side first (default: 32,64)")
    train.add_argument("--epochs", type=positive_int, default=10,
                       help="default: %(default)s")
    train.add_argument("--batch-size", type=positive_int, default=100,
                       help="default: %(default)s")
    train.add_argument("--learning-rate", type=positive_float, default=1e-3,
                       help="Adam's learning rate (default: %(default)s)")
    train.add_argument("--seed", type=non_negative_int, default=0,
                       help="seeds Keras, the weights, noise and binarization "
                       "(default: %(default)s)")
    train.add_argument("--limit", type=positive_int, metavar="N",
                       help="train on the first N training images only (quick runs)")
    train.add_argument("--data-dir", help="folder with the MNIST IDX files (default: "
                       "$AEZOO_DATA_DIR, else download with tensorflow_datasets)")
    train.add_argument("--out", metavar="PATH.keras", help="save the trained model here")
    group = add_data_arguments(train, required=False,
                               what="train on this instead of MNIST")
    group.add_argument("--validation-data", metavar="SOURCE",
                       help="held-out data of the same kind, for validation and early stopping")
    group.add_argument("--validation-split", type=_fraction, metavar="F",
                       help="hold out this fraction of --data (seeded shuffle) for validation")
    group.add_argument("--early-stopping", type=positive_int, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without a better validation (else "
                            "training) loss, keeping the best weights")
    group.add_argument("--scaling", choices=("auto", "none", "standardize", "minmax"),
                       default="auto", help="input scaling inside the model (default: auto: "
                       "none for data in [0, 1], else standardize)")
    group.add_argument("--loss", choices=("auto", "cross_entropy", "squared_error"),
                       default="auto", help="reconstruction loss (default: auto: cross-entropy "
                       "for data in [0, 1] after scaling, else squared error)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an existing --out file")
    add_strategy_arguments(train)

    variant = train.add_argument_group(
        "variant hyperparameters",
        "Passed only to the variant that takes them (default: the variant's own); "
        "giving one to another variant is an error.",
    )
    variant.add_argument("--noise", choices=NOISES, help="denoising: corruption")
    variant.add_argument("--noise-level", type=non_negative_float,
                         help="denoising: masked fraction or Gaussian sd")
    variant.add_argument("--rho", type=finite_float, help="sparse: target mean activation")
    variant.add_argument("--beta", type=non_negative_float, help="sparse: penalty weight")
    variant.add_argument("--k", type=positive_int, help="ksparse: units kept in training")
    variant.add_argument("--alpha", type=finite_float, help="ksparse: inference keeps alpha * k")
    variant.add_argument("--k-start", type=positive_int, help="ksparse: k at step 0")
    variant.add_argument("--anneal-steps", type=non_negative_int,
                         help="ksparse: steps from k-start down to k")
    variant.add_argument("--dead-steps", type=non_negative_int,
                         help="ksparse: revive units the top-k has not kept for this many "
                         "steps, with an auxiliary loss (0: off)")
    variant.add_argument("--auxiliary-k", type=positive_int,
                         help="ksparse: dead units trained per example when reviving (2k)")
    variant.add_argument("--contractive-weight", type=non_negative_float,
                         help="contractive: Jacobian penalty weight")
    variant.add_argument("--likelihood", choices=LIKELIHOODS,
                         help="vae: p(x|z); bernoulli trains on dynamically binarized images")
    variant.add_argument("--prior", choices=PRIORS, help="vae: p(z)")
    variant.add_argument("--weight-decay", type=non_negative_float,
                         help="any variant: L2 penalty on the kernels")
    variant.add_argument("--tied", action=argparse.BooleanOptionalAction,
                         help="any variant but vae: decoder kernels are the transposed "
                         "encoder kernels (ksparse ties by default; --no-tied unties)")
    train.set_defaults(handler=train_command, subparser=train)
    return train


def _option_flag(dest):
    return "--tied/--no-tied" if dest == "tied" else "--" + dest.replace("_", "-")


def variant_kwargs(args):
    """The variant hyperparameters given on the command line, as constructor kwargs.

    Raises UsageError naming the flag and the variant when one does not apply.
    """
    kwargs = {}
    for dest, models in VARIANT_OPTIONS.items():
        value = getattr(args, dest)
        if value is None:
            continue
        if args.model not in models:
            raise UsageError(
                f"{_option_flag(dest)} does not apply to --model {args.model} "
                f"(it is used by: {', '.join(models)})"
            )
        kwargs[dest] = value
    return kwargs


# ---------------------------------------------------------------------- train
def _fail(message):
    return fail("train", message)


def _architecture(model):
    if model.backbone is not None:
        shape = "x".join(map(str, model.example_shape))
        convs = "-".join(f"conv{f}" for f in model.backbone.filters)
        widths = [convs, *model.hidden_dims]
        return "-".join(str(w) for w in [shape, *widths, model.latent_dim, "mirror", shape])
    widths = [model.input_dim, *model.hidden_dims]
    return "-".join(str(w) for w in [*widths, model.latent_dim, *reversed(widths)])


def _conv_input(args, data, validation, kwargs):
    """(data, validation) reshaped to images, and the conv backbone in ``kwargs``."""
    from aezoo.models.backbones import ConvBackbone

    if data.image_shape is None:
        raise UsageError(f"--backbone conv needs images (an image folder, mnist, an npz or "
                         f"TFDS set of images); {data.description} holds rows of "
                         f"{data.features} features")
    shape = tuple(data.image_shape) + ((1,) if len(data.image_shape) == 2 else ())
    kwargs["backbone"] = ConvBackbone(**({"filters": args.filters} if args.filters else {}))
    kwargs.setdefault("hidden_dims", ())
    if args.model == "ksparse":
        kwargs.setdefault("tied", False)  # tied weights are dense-only
    return (data.shaped(shape), None if validation is None else validation.shaped(shape),
            shape)


def _fraction(text):
    value = float(text) if text.replace(".", "", 1).isdigit() else -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def train_command(args):
    """``aezoo train``: validate everything cheap first, then load, train, save, evaluate."""
    kwargs = variant_kwargs(args)
    out_path = check_out_path(args)
    if args.data is not None:
        return train_on_data(args, kwargs, out_path)
    if args.backbone == "conv" or args.filters:
        raise UsageError("--backbone conv trains on --data (e.g. --data mnist)")
    for flag, given in (("--validation-data", args.validation_data),
                        ("--validation-split", args.validation_split),
                        ("--early-stopping", args.early_stopping)):
        if given is not None:
            raise UsageError(f"{flag} needs --data (the MNIST run reports the test set)")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TensorFlow's INFO lines
    strategy, scope = start_strategy(args)
    from aezoo.data import DataError, binarize_static, dynamic_binarization_dataset, load_mnist
    from aezoo.data.mnist import resolve_data_dir

    try:
        x_train, _ = load_mnist("train", data_dir=args.data_dir)
        x_test, _ = load_mnist("test", data_dir=args.data_dir)
    except DataError as error:
        return _fail(str(error))
    if args.limit is not None:
        if args.limit > len(x_train):
            return _fail(f"--limit {args.limit} exceeds the {len(x_train):,} training images")
        x_train = x_train[: args.limit]

    import keras

    from aezoo.evaluation import squared_error_per_image
    from aezoo.models import VARIANTS

    keras.utils.set_random_seed(args.seed)
    cls = VARIANTS[args.model]
    if args.hidden_dims is not None:
        kwargs["hidden_dims"] = args.hidden_dims
    if args.latent_dim is not None:
        kwargs["latent_dim"] = args.latent_dim
    try:
        with scope():
            model = cls(input_dim=x_train.shape[1], seed=args.seed, **kwargs)
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate))
    except (ValueError, TypeError) as error:
        return _fail(f"cannot build --model {args.model}: {error}")

    dynamic = args.model == "vae" and model.likelihood == "bernoulli"
    directory = resolve_data_dir(args.data_dir)
    source = f"from {directory}" if directory else "from tensorflow_datasets"
    print(
        f"Training {cls.__name__} (--model {args.model}) {_architecture(model)}, "
        f"{model.count_params():,} parameters, on {len(x_train):,} MNIST training "
        f"images{' (dynamically binarized)' if dynamic else ''} {source}; "
        f"{args.epochs} epochs, batch {args.batch_size}, Adam lr {args.learning_rate:g}, "
        f"seed {args.seed}",
        flush=True,
    )
    config = model.get_config()
    shown = [d for d, models in VARIANT_OPTIONS.items() if args.model in models and d in config]
    print("  hyperparameters: " + ", ".join(f"{d}={config[d]!r}" for d in shown), flush=True)

    if dynamic:
        data = dynamic_binarization_dataset(x_train, batch_size=args.batch_size, seed=args.seed)
        model.fit(data, epochs=args.epochs, verbose=2, shuffle=False,  # shuffled already
                  callbacks=backup_callbacks(args))
    else:
        model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=2,
                  callbacks=backup_callbacks(args))

    if out_path is not None:
        save_on_chief(model, out_path, args, strategy)

    error = squared_error_per_image(model, x_test, batch_size=1000)
    print(f"Test squared error per image: {error:.3f} (sum over {x_test.shape[1]} pixels, "
          f"mean over {len(x_test):,} test images)")
    if args.model == "vae":
        bernoulli = model.likelihood == "bernoulli"
        # Test binarization uses a fixed seed so ELBOs compare across training seeds.
        x_elbo = binarize_static(x_test, seed=0) if bernoulli else x_test
        what = "statically binarized" if bernoulli else "grey-level"
        elbo = float(model.elbo(x_elbo).mean())
        print(f"Test ELBO: {elbo:.3f} nats per image ({what} test images, one z sample each)")
    return 0


def _split(data, fraction, seed):
    """(train rows, validation rows) by a seeded permutation (the file may be sorted)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(data.x))
    held = max(1, int(round(fraction * len(order))))
    if held >= len(order):
        raise UsageError(f"--validation-split {fraction} leaves no training rows")
    return data.x[order[held:]], data.x[order[:held]]


def _sample(data, rows=10000):
    """Rows to choose the defaults from: the data, or the first batches of a stream."""
    import numpy as np

    if not data.streamed:
        return data.x
    batches, count = [], 0
    for batch in data.dataset:
        batches.append(batch.numpy())
        count += len(batches[-1])
        if count >= rows:
            break
    if not batches:
        raise UsageError(f"{data.description}: no data")
    return np.concatenate(batches)


def train_on_data(args, kwargs, out_path):
    """``aezoo train --data SOURCE``: defaults from the data, validation, early stopping."""
    if args.limit is not None:
        raise UsageError("--limit applies to MNIST; give a smaller --data file instead")
    if args.validation_data and args.validation_split:
        raise UsageError("give --validation-data or --validation-split, not both")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    strategy, scope = start_strategy(args)
    import keras
    import numpy as np

    from aezoo.models import VARIANTS
    from aezoo.models.data_defaults import settings_for_data

    data = load_source(args)
    if data.streamed and args.validation_split:
        raise UsageError(f"--validation-split needs data in memory; {data.description} is "
                         "streamed: give --validation-data (e.g. tfds:NAME:train[90%:])")
    validation = load_source(args, args.validation_data) if args.validation_data else None
    if validation is not None and validation.features != data.features:
        raise UsageError(f"--validation-data has {validation.features} features, --data "
                         f"{data.features}")
    cls = VARIANTS[args.model]
    input_dim = data.features
    if args.backbone == "conv":
        data, validation, input_dim = _conv_input(args, data, validation, kwargs)
    elif args.filters:
        raise UsageError("--filters applies to --backbone conv")
    sample = _sample(data)
    try:
        settings, reason = settings_for_data(cls, sample, args.scaling, args.loss)
    except ValueError as error:
        raise UsageError(str(error))
    for given in ("likelihood",):
        if given in kwargs:
            settings.pop(given, None)
    print(f"Chose {reason}", flush=True)

    keras.utils.set_random_seed(args.seed)
    for key in ("hidden_dims", "latent_dim"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    try:
        with scope():
            model = cls(input_dim=input_dim, seed=args.seed, **settings, **kwargs)
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate))
    except (ValueError, TypeError) as error:
        return _fail(f"cannot build --model {args.model}: {error}")

    if data.streamed:
        x_train, x_val = data.dataset, None if validation is None else validation.batches(
            args.batch_size)
    elif args.validation_split:
        x_train, x_val = _split(data, args.validation_split, args.seed)
    else:
        x_train, x_val = data.x, None if validation is None else validation.batches(
            args.batch_size)
    if model.scaler is not None:
        model.adapt(x_train)
        print(f"  fitted {model.input_scaling} scaling on the training data", flush=True)
    try:
        model.check_target_range(x_train, "the training data")
    except ValueError as error:
        raise UsageError(str(error))
    callbacks = backup_callbacks(args)
    if args.early_stopping:
        monitor = "val_loss" if x_val is not None else "loss"
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, patience=args.early_stopping, restore_best_weights=True))
    print(f"Training {cls.__name__} (--model {args.model}) {_architecture(model)}, "
          f"{model.count_params():,} parameters; {args.epochs} epochs, batch "
          f"{args.batch_size}, Adam lr {args.learning_rate:g}, seed {args.seed}"
          + ("; validation " + (f"{len(x_val):,} rows" if isinstance(x_val, np.ndarray)
                                else "from --validation-data") if x_val is not None else "")
          + (f"; early stopping on {callbacks[-1].monitor}, patience {args.early_stopping}"
             if args.early_stopping else ""), flush=True)
    fit_kwargs = dict(epochs=args.epochs, verbose=2, callbacks=callbacks,
                      validation_data=x_val)
    if isinstance(x_train, np.ndarray):
        model.fit(x_train, batch_size=args.batch_size, shuffle=True, **fit_kwargs)
    else:
        model.fit(x_train, **fit_kwargs)
    if args.early_stopping and callbacks[-1].stopped_epoch > 0:
        print(f"Early stopping after {callbacks[-1].stopped_epoch + 1} epochs (best weights "
              "kept)", flush=True)
    if out_path is not None:
        save_on_chief(model, out_path, args, strategy)
    _report_errors(model, x_val if x_val is not None else x_train,
                   "validation" if x_val is not None else "training")
    return 0


def _report_errors(model, x, which):
    """Prints the mean reconstruction error on the model's scale and on the raw scale."""
    import numpy as np

    scaled, raw = [], []
    batches = [x[i:i + 1000] for i in range(0, len(x), 1000)] if isinstance(x, np.ndarray) \
        else (b[0] if isinstance(b, tuple) else b for b in x)
    for batch in batches:
        scaled.append(np.asarray(model.reconstruction_error(batch)))
        raw.append(np.asarray(model.reconstruction_error(batch, scale="raw")))
    scaled, raw = np.concatenate(scaled), np.concatenate(raw)
    where = f"{model.input_scaling} scale" if model.scaler is not None else "raw scale"
    print(f"Mean {which} squared error per row: {scaled.mean():.4g} ({where}, summed over "
          f"{model.input_dim} features, {len(scaled):,} rows)"
          + (f"; {raw.mean():.4g} on the raw scale" if model.scaler is not None else ""))

