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
import time

from aezoo import MODEL_NAMES
from aezoo.zoo.metrics import METRICS, is_cheap
from aezoo.zoo.registry import recipe_dir

# The checkout's zoo/recipes/, or the copy the wheel carries (aezoo.zoo.recipe_files).
RECIPE_DIR = recipe_dir()

# aezoo.MODEL_NAMES needs no TensorFlow, so validation stays light.
AUTOENCODER_CLASSES = tuple(name for name in MODEL_NAMES if name != "Autoencoder")
CLASSIFIER_CLASSES = ("PretrainedClassifier",)  # pretrain.unroll_classifier
MODEL_CLASSES = AUTOENCODER_CLASSES + CLASSIFIER_CLASSES
DATASETS = ("mnist", "curves")
BINARIZATION = ("none", "static", "dynamic")

TOP_KEYS = {"name": True, "description": True, "model": True, "data": True, "training": True,
            "seed": True, "metrics": True, "pretraining": False, "artifacts": False,
            "notes": False}
MODEL_KEYS = {"class": True, "args": False}
DATA_KEYS = {"name": True, "train": True, "test": True, "binarization": False,
             "preprocessing": False, "train_seed": False, "test_seed": False}
PRETRAINING_KEYS = {"method": True, "hidden_dims": True, "epochs_per_layer": True,
                    "batch_size": False, "linear_top": False, "top_learning_rate": False,
                    "settings": False}
TRAINING_KEYS = {"epochs": True, "optimizer": True, "learning_rate": True, "batch_size": True,
                 "schedule": False, "notes": False}
SCHEDULES = ("constant", "cosine")
METRIC_KEYS = {"name": True, "target": False, "aim": False, "paper": False, "baseline": False,
               "definition": False}
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
        if cls not in ("DeepAutoencoder",) + CLASSIFIER_CLASSES:
            raise RecipeError(f"{where}: pretraining unrolls into a DeepAutoencoder or a "
                              f"PretrainedClassifier, not {cls}")
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
    if not isinstance(recipe["seed"], int) or recipe["seed"] < 0:
        raise RecipeError(f"{where}: seed must be an integer >= 0")
    if not isinstance(recipe["metrics"], list) or not recipe["metrics"]:
        raise RecipeError(f"{where}: metrics must be a non-empty list")
    for metric in recipe["metrics"]:
        _keys(metric, METRIC_KEYS, where, "metric")
        if metric["name"] not in METRICS:
            raise RecipeError(f"{where}: unknown metric {metric['name']!r} (known: "
                              f"{', '.join(METRICS)})")
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

    from aezoo.models import Autoencoder, VARIANTS

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
    """The recipe's optimizer; ``schedule: cosine`` decays the rate to 0 over ``steps``."""
    import keras

    rate = training["learning_rate"]
    if training.get("schedule", "constant") == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, steps))
    return keras.optimizers.get({"class_name": training["optimizer"],
                                 "config": {"learning_rate": rate}})


def _scaled(epochs, scale):
    return max(1, int(round(epochs * scale))) if epochs else 0


def build_model(recipe):
    """The untrained model of a plain (not pretrained) recipe."""
    from aezoo.models import VARIANTS

    classes = {c.__name__: c for c in VARIANTS.values()}
    args = dict(recipe["model"].get("args", {}))
    for key in ("hidden_dims",):
        if key in args:
            args[key] = tuple(args[key])
    args.setdefault("seed", recipe["seed"])
    return classes[recipe["model"]["class"]](**args)


def train_from_recipe(recipe, data_dir=None, epochs_scale=1.0, arrays=None, verbose=2):
    """Trains the recipe's model; returns (model, training seconds).

    ``arrays`` = (x_train, y_train, x_test, y_test) replaces the recipe's data
    (tests use a few synthetic images); ``epochs_scale`` scales every epoch
    count (at least 1). Plain recipes build the class and ``fit`` it;
    pretrained ones run ``pretrain.greedy_pretrain``, unroll into a
    DeepAutoencoder or a classifier, then ``fit``.
    """
    import keras

    if isinstance(recipe, (str, os.PathLike)):
        recipe = load_recipe(recipe)
    x_train, y_train, _, _ = arrays if arrays is not None else load_data(recipe, data_dir)
    training, seed = recipe["training"], recipe["seed"]
    if training["optimizer"] == "lbfgs":
        raise RecipeError("train_from_recipe fits with Keras optimizers; use "
                          "`aezoo pretrain --finetune lbfgs` for the L-BFGS schedule")
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    classifier = recipe["model"]["class"] in CLASSIFIER_CLASSES
    pretraining = recipe.get("pretraining")
    if pretraining is not None:
        from pretrain import greedy_pretrain, unroll, unroll_classifier

        layers = greedy_pretrain(
            x_train, pretraining["hidden_dims"],
            epochs=_scaled(pretraining["epochs_per_layer"], epochs_scale),
            method=pretraining["method"], batch_size=pretraining.get("batch_size", 100),
            linear_top=pretraining.get("linear_top", not classifier),
            top_learning_rate=pretraining.get("top_learning_rate", 0.001),
            seed=seed, verbose=verbose, **pretraining.get("settings", {}),
        )
        if classifier:
            n_classes = recipe["model"].get("args", {}).get("n_classes", 10)
            model = unroll_classifier(layers, n_classes=n_classes, seed=seed)
        else:
            model = unroll(layers, seed=seed)
    else:
        model = build_model(recipe)
    epochs = _scaled(training["epochs"], epochs_scale)
    optimizer = _optimizer(training, epochs * math.ceil(len(x_train) / training["batch_size"]))
    if classifier:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    else:
        model.compile(optimizer=optimizer)
    if epochs:
        if classifier:
            model.fit(x_train, y_train, epochs=epochs, batch_size=training["batch_size"],
                      verbose=verbose)
        elif recipe["data"].get("binarization") == "dynamic":
            from aezoo.data import dynamic_binarization_dataset

            data = dynamic_binarization_dataset(x_train, batch_size=training["batch_size"],
                                                seed=seed)
            model.fit(data, epochs=epochs, verbose=verbose)
        else:
            model.fit(x_train, epochs=epochs, batch_size=training["batch_size"], verbose=verbose)
    return model, time.perf_counter() - start


# ---------------------------------------------------------------- metrics
def metric_command(name, metric_name, nll_images=None):
    """The command that reproduces a card's metric."""
    if is_cheap(metric_name):
        return f"aezoo zoo evaluate {name}"
    extra = f" --nll-images {nll_images}" if metric_name == "nll" and nll_images else ""
    return f"aezoo zoo evaluate {name} --all{extra}"


def card_metrics(recipe, measured, nll_images=None, previous=None):
    """The card's metric list: the recipe's metrics with the measured values filled in.

    ``previous`` (a card's metric list) keeps the values and commands of
    metrics not measured this time.
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
        if name not in measured and name in kept:
            for key in ("value", "command", "note"):
                if key in kept[name]:
                    row[key] = kept[name][key]
        rows.append(row)
    return rows


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
