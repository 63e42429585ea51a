"""Zoo recipes: one JSON file per model in zoo/recipes/, how to rebuild it and what to measure.

A recipe names the model class and its constructor arguments, the data, the
training schedule (RBM pretraining per layer if any, then fine-tuning), the
seed and the metrics with their targets and the papers' values. Measured
values are never stored here: training fills them into the model card.

``load_recipe`` reads and validates without TensorFlow; ``train_from_recipe``
imports it. The metrics themselves live in ``aezoo.zoo.metrics``.
"""

import json
import math
import os

from aezoo import MODEL_NAMES
from aezoo.zoo.metrics import METRICS, is_cheap, meets, paper_goal
from aezoo.zoo.registry import recipe_dir

# The checkout's zoo/recipes/, or the copy the wheel carries (aezoo.zoo.recipe_files).
RECIPE_DIR = recipe_dir()

# aezoo.MODEL_NAMES needs no TensorFlow, so validation stays light.
AUTOENCODER_CLASSES = tuple(name for name in MODEL_NAMES if name != "Autoencoder")
CLASSIFIER_CLASSES = ("PretrainedClassifier",)  # pretrain.unroll_classifier
MODEL_CLASSES = AUTOENCODER_CLASSES + CLASSIFIER_CLASSES
# The autoencoders a pretrained stack unrolls into (pretrain.unroll's model_class).
UNROLLS_INTO = ("DeepAutoencoder", "DenoisingAutoencoder")
DATASETS = ("mnist", "curves")
BINARIZATION = ("none", "static", "dynamic")

TOP_KEYS = {"name": True, "description": True, "model": True, "data": True, "training": True,
            "seed": True, "metrics": True, "pretraining": False, "artifacts": False,
            "notes": False, "fast": False}
MODEL_KEYS = {"class": True, "args": False}
DATA_KEYS = {"name": True, "train": True, "test": True, "binarization": False,
             "preprocessing": False, "train_seed": False, "test_seed": False}
PRETRAINING_KEYS = {"method": True, "hidden_dims": True, "epochs_per_layer": True,
                    "batch_size": False, "linear_top": False, "top_learning_rate": False,
                    "noise_level": False, "settings": False}
TRAINING_KEYS = {"epochs": True, "optimizer": True, "learning_rate": True, "batch_size": True,
                 "schedule": False, "notes": False, "momentum": False, "epsilon": False,
                 "stages": False, "init_output_bias": False}
SCHEDULES = ("constant", "cosine", "staged")
METRIC_KEYS = {"name": True, "target": False, "aim": False, "paper": False, "baseline": False,
               "definition": False, "settings": False}
# Keyword arguments a metric's ``settings`` may pass to its function.
METRIC_SETTINGS = {"finetuned_error": ("learning_rates", "epochs", "batch_size", "weight_decay",
                                       "validation")}
TARGET_OPS = ("<=", ">=", "within_percent")

ARTIFACTS = ("code_scatter", "filters", "latent_grid")


class RecipeError(ValueError):
    """A recipe that cannot be used; the message says which file and which setting."""


def recipe_path(path_or_name):
    """A recipe's path: an existing file, or the name of one in RECIPE_DIR (zoo/recipes/)."""
    text = os.fspath(path_or_name)
    if os.path.isfile(text):
        return os.path.abspath(text)
    candidate = os.path.join(RECIPE_DIR, f"{text}.json")
    if os.path.isfile(candidate):
        return candidate
    available = ", ".join(available_recipes()) or "none"
    raise RecipeError(f"no recipe {text!r} (not a file; recipes in {RECIPE_DIR}: {available})")


def available_recipes():
    if not os.path.isdir(RECIPE_DIR):
        return []
    return sorted(f[:-5] for f in os.listdir(RECIPE_DIR) if f.endswith(".json"))


def load_recipe(path_or_name):
    """The validated recipe (a dict) from a file path or a name in zoo/recipes/."""
    path = recipe_path(path_or_name)
    try:
        with open(path) as handle:
            recipe = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise RecipeError(f"cannot read the recipe {path}: {error}")
    validate_recipe(recipe, where=path)
    return recipe


def _keys(section, spec, where, what):
    if not isinstance(section, dict):
        raise RecipeError(f"{where}: {what} must be a JSON object")
    unknown = sorted(set(section) - set(spec))
    if unknown:
        raise RecipeError(f"{where}: unknown {what} keys: {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(spec))})")
    missing = sorted(key for key, required in spec.items() if required and key not in section)
    if missing:
        raise RecipeError(f"{where}: {what} is missing: {', '.join(missing)}")


def _positive_int(value, where, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RecipeError(f"{where}: {what} must be a positive integer, got {value!r}")


def validate_recipe(recipe, where="recipe"):
    """Raises RecipeError naming the first problem; returns the recipe."""
    _keys(recipe, TOP_KEYS, where, "recipe")
    _keys(recipe["model"], MODEL_KEYS, where, "model")
    cls = recipe["model"]["class"]
    if cls not in MODEL_CLASSES:
        raise RecipeError(f"{where}: unknown model class {cls!r} (known: "
                          f"{', '.join(MODEL_CLASSES)})")
    if not isinstance(recipe["model"].get("args", {}), dict):
        raise RecipeError(f"{where}: model.args must be a JSON object")
    data = recipe["data"]
    _keys(data, DATA_KEYS, where, "data")
    if data["name"] not in DATASETS:
        raise RecipeError(f"{where}: unknown data set {data['name']!r} (known: "
                          f"{', '.join(DATASETS)})")
    if data.get("binarization", "none") not in BINARIZATION:
        raise RecipeError(f"{where}: data.binarization must be one of {BINARIZATION}")
    _positive_int(data["train"], where, "data.train")
    _positive_int(data["test"], where, "data.test")
    pretraining = recipe.get("pretraining")
    if cls in CLASSIFIER_CLASSES and pretraining is None:
        raise RecipeError(f"{where}: {cls} needs a pretraining section")
    if pretraining is not None:
        _keys(pretraining, PRETRAINING_KEYS, where, "pretraining")
        if pretraining["method"] not in ("rbm", "dae"):
            raise RecipeError(f"{where}: pretraining.method must be 'rbm' or 'dae'")
        if cls not in UNROLLS_INTO + CLASSIFIER_CLASSES:
            raise RecipeError(f"{where}: pretraining unrolls into a "
                              f"{', '.join(UNROLLS_INTO + CLASSIFIER_CLASSES)}, not {cls}")
        dims = pretraining["hidden_dims"]
        if not isinstance(dims, list) or not dims:
            raise RecipeError(f"{where}: pretraining.hidden_dims must be a non-empty list")
        for width in dims:
            _positive_int(width, where, "pretraining.hidden_dims entry")
        _positive_int(pretraining["epochs_per_layer"], where, "pretraining.epochs_per_layer")
    training = recipe["training"]
    _keys(training, TRAINING_KEYS, where, "training")
    if not isinstance(training["epochs"], int) or training["epochs"] < 0:
        raise RecipeError(f"{where}: training.epochs must be an integer >= 0")
    _positive_int(training["batch_size"], where, "training.batch_size")
    if training.get("schedule", "constant") not in SCHEDULES:
        raise RecipeError(f"{where}: training.schedule must be one of {SCHEDULES}")
    if training["optimizer"] not in ("adam", "sgd", "rmsprop", "lbfgs"):
        raise RecipeError(f"{where}: unknown optimizer {training['optimizer']!r}")
    if not (isinstance(training["learning_rate"], (int, float)) and training["learning_rate"] > 0):
        raise RecipeError(f"{where}: training.learning_rate must be a number > 0")
    if "stages" in training:
        _positive_int(training["stages"], where, "training.stages")
    for key in ("momentum", "epsilon"):
        value = training.get(key, 0.5)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise RecipeError(f"{where}: training.{key} must be a number in [0, 1), got {value!r}")
    if training.get("init_output_bias", "logit_mean") != "logit_mean":
        raise RecipeError(f"{where}: training.init_output_bias can only be 'logit_mean'")
    fast = recipe.get("fast")
    if fast is not None:
        _keys(fast, {"pretraining": False, "training": False, "notes": False}, where, "fast")
    if not isinstance(recipe["seed"], int) or recipe["seed"] < 0:
        raise RecipeError(f"{where}: seed must be an integer >= 0")
    if not isinstance(recipe["metrics"], list) or not recipe["metrics"]:
        raise RecipeError(f"{where}: metrics must be a non-empty list")
    for metric in recipe["metrics"]:
        _keys(metric, METRIC_KEYS, where, "metric")
        if metric["name"] not in METRICS:
            raise RecipeError(f"{where}: unknown metric {metric['name']!r} (known: "
                              f"{', '.join(METRICS)})")
        settings = metric.get("settings", {})
        allowed = METRIC_SETTINGS.get(metric["name"], ())
        if not isinstance(settings, dict) or sorted(set(settings) - set(allowed)):
            raise RecipeError(f"{where}: metric {metric['name']!r} settings must be a JSON "
                              f"object with keys among ({', '.join(allowed) or 'none'}), got "
                              f"{settings!r}")
        target = metric.get("target")
        if target is not None:
            _keys(target, {"op": True, "value": True, "of": False}, where, "metric target")
            if target["op"] not in TARGET_OPS:
                raise RecipeError(f"{where}: target op must be one of {TARGET_OPS}")
    for artifact in recipe.get("artifacts", []):
        if artifact not in ARTIFACTS:
            raise RecipeError(f"{where}: unknown artifact {artifact!r} (known: "
                              f"{', '.join(ARTIFACTS)})")
    return recipe


def check_model_args(recipe):
    """Checks model.args against the class's constructor (imports the models)."""
    import inspect

    from aezoo.models import VARIANTS, Autoencoder

    cls_name = recipe["model"]["class"]
    args = recipe["model"].get("args", {})
    if cls_name in CLASSIFIER_CLASSES:
        allowed = {"n_classes"}
    else:
        cls = {c.__name__: c for c in VARIANTS.values()}[cls_name]
        allowed = set()
        for klass in (cls, Autoencoder):
            allowed |= set(inspect.signature(klass.__init__).parameters) - {"self", "kwargs"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise RecipeError(f"{recipe['name']}: {cls_name} takes no argument "
                          f"{', '.join(unknown)}")


# ---------------------------------------------------------------- training
def load_data(recipe, data_dir=None):
    """(x_train, y_train, x_test, y_test) as the recipe names them; y is None for curves."""
    data = recipe["data"]
    if data["name"] == "curves":
        from aezoo.data import make_curves

        x_train = make_curves(data["train"], seed=data.get("train_seed", 1))
        x_test = make_curves(data["test"], seed=data.get("test_seed", 2))
        return x_train, None, x_test, None
    from aezoo.data import load_mnist

    x_train, y_train = load_mnist("train", data_dir=data_dir)
    x_test, y_test = load_mnist("test", data_dir=data_dir)
    shape = example_shape(recipe)
    x_train, x_test = (x[: data[part]].reshape(-1, *shape)
                       for x, part in ((x_train, "train"), (x_test, "test")))
    return x_train, y_train[: data["train"]], x_test, y_test[: data["test"]]


def example_shape(recipe):
    """One example's shape for the recipe's model: (784,), or (28, 28, 1) for a conv model."""
    dim = recipe["model"].get("args", {}).get("input_dim", 784)
    return tuple(dim) if isinstance(dim, list) else (int(dim),)


def _optimizer(training, steps):
    """The recipe's optimizer and learning-rate schedule over ``steps`` steps.

    ``schedule``: "constant"; "cosine" (decay to 0); "staged" (the IWAE
    benchmark's: the rate falls by 10^(-1/7) at each stage, the stages'
    lengths growing as 3^i, scaled to the run). ``momentum`` (SGD) and
    ``epsilon`` (Adam, RMSprop) pass through.
    """
    import keras

    rate = training["learning_rate"]
    schedule = training.get("schedule", "constant")
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, steps))
    elif schedule == "staged":
        stages = training.get("stages", 8)
        lengths = [3 ** i for i in range(stages)]
        ends = [round(steps * sum(lengths[:i + 1]) / sum(lengths)) for i in range(stages)]
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            ends[:-1], [rate * 10 ** (-i / 7) for i in range(stages)])
    config = {"learning_rate": rate}
    for key in ("momentum", "epsilon"):
        if key in training:
            config[key] = training[key]
    return keras.optimizers.get({"class_name": training["optimizer"], "config": config})


def _scaled(epochs, scale):
    return max(1, int(round(epochs * scale))) if epochs else 0


def _model_args(recipe):
    args = dict(recipe["model"].get("args", {}))
    for key in ("hidden_dims",):
        if key in args:
            args[key] = tuple(args[key])
    return args


def build_model(recipe):
    """The untrained model of a plain (not pretrained) recipe."""
    from aezoo.models import VARIANTS

    classes = {c.__name__: c for c in VARIANTS.values()}
    args = _model_args(recipe)
    args.setdefault("seed", recipe["seed"])
    return classes[recipe["model"]["class"]](**args)


def with_fast_mode(recipe):
    """The recipe with its ``fast`` section's pretraining and training settings applied.

    A recipe's fast mode is a shorter schedule for the same model (e.g.
    mnist-hinton-30's, which reaches the paper's figure within 10 minutes on
    a 2-core CPU); the name, model, data and metrics stay.
    """
    fast = recipe.get("fast")
    if fast is None:
        raise RecipeError(f"{recipe['name']} has no fast mode (no 'fast' section)")
    merged = json.loads(json.dumps(recipe))
    for section in ("pretraining", "training"):
        if section in fast:
            merged[section] = {**merged.get(section, {}), **fast[section]}
    merged["notes"] = f"fast mode: {fast.get('notes', '')}".strip()
    del merged["fast"]
    return validate_recipe(merged, where=f"{recipe['name']} (fast mode)")


def init_output_bias(model, x_train):
    """Sets the output layer's bias to the logit of the training set's mean pixel.

    The IWAE benchmark code's initialisation (Burda et al. 2015): the decoder
    starts out predicting the mean image, so early training goes to the
    shapes, not to the background.
    """
    import numpy as np

    mean = np.clip(np.mean(np.asarray(x_train, dtype="float64"), axis=0), 1e-3, 1 - 1e-3)
    model.build()
    bias = model.decoder_layers[-1].bias
    if tuple(bias.shape) != mean.shape:
        # A conv decoder's output convolution shares one bias per channel over all pixels.
        raise RecipeError(f"{model.name}: training.init_output_bias needs one output bias per "
                          f"pixel ({mean.shape}); this decoder's output layer has "
                          f"{tuple(bias.shape)} (a conv backbone); leave init_output_bias out")
    bias.assign(np.log(mean / (1 - mean)).astype("float32"))


def train_from_recipe(recipe, data_dir=None, epochs_scale=1.0, arrays=None, verbose=2,
                      report=None, log=print, checkpoint=None):
    """Trains the recipe's model; returns (model, training seconds).

    ``arrays`` = (x_train, y_train, x_test, y_test) replaces the recipe's data
    (tests use a few synthetic images); ``epochs_scale`` scales every epoch
    count (at least 1). Plain recipes build the class and ``fit`` it;
    pretrained ones run ``pretrain.greedy_pretrain``, unroll into the
    recipe's autoencoder class or a classifier, then ``fit``.

    ``report`` (a dict) receives ``time_to_target``: for each cheap metric
    with a paper value, the training seconds (pretraining included, metric
    checks excluded) and epoch at which the test-set value first reached
    the paper's, measured after every fine-tuning epoch; and
    ``pretraining_seconds``.

    ``checkpoint`` (an ``aezoo.zoo.checkpoints.TrainingCheckpoint``) saves
    the run after pretraining and after every epoch, and resumes a run it
    holds from its last finished epoch, its clock and time-to-target
    readings included.
    """
    import keras

    from aezoo.zoo.metrics import evaluate_metrics
    from aezoo.zoo.timing import TimeToTarget, TrainingClock, paper_goals

    if isinstance(recipe, (str, os.PathLike)):
        recipe = load_recipe(recipe)
    x_train, y_train, x_test, y_test = (arrays if arrays is not None
                                        else load_data(recipe, data_dir))
    training, seed = recipe["training"], recipe["seed"]
    if training["optimizer"] == "lbfgs":
        raise RecipeError("train_from_recipe fits with Keras optimizers; use "
                          "`aezoo pretrain --finetune lbfgs` for the L-BFGS schedule")
    keras.utils.set_random_seed(seed)
    resumed = checkpoint is not None and checkpoint.resuming
    clock = TrainingClock(already=checkpoint.state["training_seconds"] if resumed else 0.0)
    classifier = recipe["model"]["class"] in CLASSIFIER_CLASSES
    pretraining = recipe.get("pretraining")
    if pretraining is not None and resumed and checkpoint.has_pretrained:
        model = checkpoint.load_pretrained()
        pretraining_seconds = checkpoint.state["pretraining_seconds"]
    elif pretraining is not None:
        from aezoo.models import VARIANTS
        from pretrain import greedy_pretrain, unroll, unroll_classifier

        layers = greedy_pretrain(
            x_train, pretraining["hidden_dims"],
            epochs=_scaled(pretraining["epochs_per_layer"], epochs_scale),
            method=pretraining["method"], batch_size=pretraining.get("batch_size", 100),
            linear_top=pretraining.get("linear_top", not classifier),
            top_learning_rate=pretraining.get("top_learning_rate", 0.001),
            noise_level=pretraining.get("noise_level", 0.25),
            seed=seed, verbose=verbose, **pretraining.get("settings", {}),
        )
        if classifier:
            n_classes = recipe["model"].get("args", {}).get("n_classes", 10)
            model = unroll_classifier(layers, n_classes=n_classes, seed=seed)
        else:
            classes = {c.__name__: c for c in VARIANTS.values()}
            args = {key: value for key, value in _model_args(recipe).items()
                    if key not in ("input_dim", "hidden_dims", "latent_dim", "seed")}
            model = unroll(layers, seed=seed, model_class=classes[recipe["model"]["class"]],
                           **args)
        pretraining_seconds = clock.seconds()
        if checkpoint is not None:
            checkpoint.save_pretrained(model, pretraining_seconds)
    else:
        model = build_model(recipe)
        pretraining_seconds = 0.0
    if training.get("init_output_bias") == "logit_mean" and not resumed:
        init_output_bias(model, x_train)
    if not model.built:
        model.build()  # the weights a checkpoint restores must exist before fit
    epochs = _scaled(training["epochs"], epochs_scale)
    optimizer = _optimizer(training, epochs * math.ceil(len(x_train) / training["batch_size"]))
    if classifier:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    else:
        model.compile(optimizer=optimizer)
    goals = paper_goals(recipe) if x_test is not None else {}
    callbacks = []
    if goals:
        callbacks.append(TimeToTarget(
            lambda: evaluate_metrics(model, recipe, x_test, y_test, names=list(goals)),
            goals, clock, label="[time to target] ", log=log if verbose else None,
            reached=checkpoint.state["time_to_target"] if resumed else None))
    if checkpoint is not None:
        callbacks += checkpoint.callbacks(clock, callbacks[0] if goals else None)
    # A resumed run's data pipeline draws fresh randomness, not the first epochs' again.
    data_seed = seed + (checkpoint.state["epoch"] if resumed else 0)
    fit = dict(epochs=epochs, verbose=verbose, callbacks=callbacks)
    if resumed:
        keras.utils.set_random_seed(data_seed)  # fit's shuffling too
    if epochs:
        if classifier:
            model.fit(x_train, y_train, batch_size=training["batch_size"], **fit)
        elif recipe["data"].get("binarization") == "dynamic":
            from aezoo.data import dynamic_binarization_dataset

            data = dynamic_binarization_dataset(x_train, batch_size=training["batch_size"],
                                                seed=data_seed)
            model.fit(data, **fit)
        else:
            model.fit(x_train, batch_size=training["batch_size"], **fit)
    seconds = clock.seconds()
    if report is not None:
        report["pretraining_seconds"] = pretraining_seconds
        report["time_to_target"] = {
            name: callbacks[0].reached.get(name) if goals else None for name in goals}
    return model, seconds


# ---------------------------------------------------------------- metrics
def metric_command(name, metric_name, nll_images=None):
    """The command that reproduces a card's metric."""
    if is_cheap(metric_name):
        return f"aezoo zoo evaluate {name}"
    extra = f" --nll-images {nll_images}" if metric_name == "nll" and nll_images else ""
    return f"aezoo zoo evaluate {name} --all{extra}"


def card_metrics(recipe, measured, nll_images=None, previous=None, details=None,
                 time_to_target=None, training_seconds=None):
    """The card's metric list: the recipe's metrics with the measured values filled in.

    ``previous`` (a card's metric list) keeps the values and commands of
    metrics not measured this time. ``details`` ({metric: what it chose},
    from ``evaluate_metrics``) becomes the metric's note. ``time_to_target``
    (from ``train_from_recipe``'s report) gives each tracked metric's
    ``time_to_paper``: the training seconds and epoch at which it first
    reached the paper's value; an untracked metric that reaches it after
    training gets ``training_seconds`` with epoch None (checked at the end only).
    An evaluation (``previous`` given, ``time_to_target`` None) keeps the
    training's readings, except for a metric checked at the end only and
    measured again: its reading follows the new value, with
    ``training_seconds`` (the card's) as the time.
    """
    kept = {m["name"]: m for m in previous or []}
    rows = []
    for metric in recipe["metrics"]:
        name = metric["name"]
        row = {
            "name": name,
            "value": measured.get(name),
            "paper": metric.get("paper"),
            "baseline": metric.get("baseline"),
            "command": metric_command(recipe["name"], name, nll_images)
            if name in measured else None,
            "definition": metric.get("definition") or METRICS[name][0],
            "target": metric.get("target"),
        }
        if name == "nll" and name in measured and nll_images:
            row["note"] = f"first {nll_images} test images"
        if details and name in details:
            row["note"] = choice_note(details[name])
        if time_to_target is not None and paper_goal(metric) is not None:
            row["time_to_paper"] = _time_to_paper(metric, measured.get(name),
                                                  time_to_target, training_seconds)
        elif name in measured and paper_goal(metric) is not None and not is_cheap(name):
            # Checked at the end only (never per epoch) and measured again with
            # other settings, it may now reach the paper's value, or no longer.
            row["time_to_paper"] = _reached_at_end(metric, measured[name], training_seconds)
        if name not in measured and name in kept:
            for key in ("value", "command", "note"):
                if key in kept[name]:
                    row[key] = kept[name][key]
        # The time to the paper's value is a fact about the training run: an
        # evaluation afterwards keeps it.
        if "time_to_paper" not in row and "time_to_paper" in kept.get(name, {}):
            row["time_to_paper"] = kept[name]["time_to_paper"]
        rows.append(row)
    return rows


def choice_note(chosen):
    """A card note for what a metric chose on its validation split (fine-tuning, a probe).

    ``chosen`` is the metric's details: ``choice`` says what was chosen, in
    the metric's own terms, and ``validation_error`` how it scored there.
    """
    return f"{chosen['choice']} chosen on validation ({chosen['validation_error']:.2f} % there)"


def _time_to_paper(metric, value, time_to_target, training_seconds):
    if metric["name"] in time_to_target:
        return time_to_target[metric["name"]]
    return _reached_at_end(metric, value, training_seconds)


def _reached_at_end(metric, value, training_seconds):
    """The reading of a metric checked after training only: the whole training time, or None."""
    op, paper = paper_goal(metric)
    if training_seconds and meets(op, value, paper):
        return {"seconds": float(training_seconds), "epoch": None, "value": value}
    return None


def data_description(recipe, arrays=None):
    data = recipe["data"]
    splits = ({"train": int(len(arrays[0])), "test": int(len(arrays[2]))} if arrays is not None
              else {"train": data["train"], "test": data["test"]})
    return {
        "name": data["name"],
        "splits": splits,
        "binarization": data.get("binarization", "none"),
        "preprocessing": data.get("preprocessing", "pixels / 255, float32, flattened to 784"),
    }
