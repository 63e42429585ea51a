"""The pretrained-model zoo: checksummed models that load in one line and fine-tune in Keras.

    import aezoo.zoo as zoo
    zoo.list_models()                   # ['mnist-hinton-30', ...]
    zoo.info("mnist-hinton-30")         # the model card, a dict
    model = zoo.load("mnist-hinton-30") # compiled, trainable, ready for fit
    encoder = zoo.encoder("mnist-hinton-30")  # x -> code, sharing the model's layers

Which models exist: the registry shipped in the package (``aezoo.zoo.registry``),
unless a local zoo folder is given (``root=`` or ``$AEZOO_ZOO_DIR``): then the
cards in that folder. Where their bytes come from (that folder, the
checkout's ``saved_models/``, the user cache, a mirror): ``aezoo.zoo.resolver``,
which checks every file's size and sha256 before anything is built from it.

Layout of a local zoo folder (``saved_models/`` is the development zoo)::

    <root>/<name>/card.json              the model card (written last: it marks the entry)
    <root>/<name>/<name>.keras           float32 weights, no optimizer state

SavedModels for TF Serving are made from the verified ``.keras`` file on demand
(``aezoo.zoo.serving``, ``aezoo zoo export``). Nothing here imports TensorFlow
until a model is loaded or published.
"""

import datetime
import json
import os
import platform
import re
import tempfile

from aezoo.errors import UnknownModelError, ZooError, ZooIntegrityError
from aezoo.files import write_atomic
from aezoo.zoo import resolver
from aezoo.zoo.registry import checkout_root, read_registry, write_json_atomic

CARD_FILE = "card.json"
CARD_SCHEMA = 2
DEFAULT_OPTIMIZER = {"name": "adam", "learning_rate": 1e-3}
METRIC_KEYS = ("name", "value", "paper", "baseline", "command", "definition")
# time_to_paper: {seconds, epoch, value} when training first reached the paper's value.
OPTIONAL_METRIC_KEYS = ("target", "unit", "note", "time_to_paper")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

__all__ = [
    "ZooError",
    "ZooIntegrityError",
    "UnknownModelError",
    "zoo_root",
    "list_models",
    "info",
    "load",
    "encoder",
    "verify",
    "publish",
    "update_metrics",
]


# ------------------------------------------------------------------ catalog
def zoo_root(root=None):
    """The local zoo folder: ``root``, else ``$AEZOO_ZOO_DIR``, else the checkout's
    ``saved_models/``; None when installed and neither is given."""
    return resolver.local_zoo_dir(root)[0]


def _explicit_root(root):
    folder, explicit = resolver.local_zoo_dir(root)
    return folder if explicit else None


def describe_source(root=None):
    """Where the catalog comes from, for messages."""
    folder = _explicit_root(root)
    return f"the zoo folder {folder}" if folder else "the registry shipped with aezoo"


def _check_name(name):
    if not (isinstance(name, str) and _NAME_PATTERN.match(name)):
        raise ValueError(f"a zoo name is letters, digits, '_', '.' or '-', got {name!r}.")
    return name


def keras_relpath(name):
    return f"{name}/{name}.keras"


def card_path(name, root=None):
    """The card file of ``name`` in the local zoo folder."""
    folder = zoo_root(root)
    if folder is None:
        raise ZooError("no local zoo folder: pass root= or set AEZOO_ZOO_DIR")
    return os.path.join(folder, name, CARD_FILE)


def _folder_models(base):
    if not os.path.isdir(base):
        return []
    return sorted(
        entry for entry in os.listdir(base)
        if not entry.startswith(".") and os.path.isfile(os.path.join(base, entry, CARD_FILE))
    )


def list_models(root=None):
    """Sorted names of the models: the registry's, or those in the given zoo folder."""
    folder = _explicit_root(root)
    if folder is not None:
        return _folder_models(folder)
    return sorted(read_registry()["models"])


def info(name, root=None):
    """The model card of ``name`` as a dict (from the registry, or the given zoo folder)."""
    folder = _explicit_root(root)
    valid = isinstance(name, str) and bool(_NAME_PATTERN.match(name))
    card = None
    if folder is None:
        card = read_registry()["models"].get(name) if valid else None
        where = "the registry shipped with aezoo"
    elif valid and os.path.isfile(os.path.join(folder, name, CARD_FILE)):
        path = os.path.join(folder, name, CARD_FILE)
        try:
            with open(path) as handle:
                card = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise ZooIntegrityError(f"{path}: the model card cannot be read: {error}")
        where = path
    if card is None:
        available = list_models(root)
        listing = ", ".join(available) if available else "none: the zoo is empty"
        raise UnknownModelError(
            f"no zoo model named {name!r} in {describe_source(root)} (available: {listing})"
        )
    if not isinstance(card, dict) or not isinstance(card.get("files"), dict):
        raise ZooIntegrityError(f"{where}: the model card of {name!r} has no 'files' table")
    return card


# --------------------------------------------------------------- checksums
def _entry_files(name, base):
    """Relative paths of the files an entry's folder holds, its card excluded."""
    found = []
    for directory, _, files in os.walk(os.path.join(base, name)):
        for file in files:
            path = os.path.join(directory, file)
            found.append(os.path.relpath(path, base).replace(os.sep, "/"))
    return sorted(p for p in found if p != f"{name}/{CARD_FILE}")


NOT_DOWNLOADED = "not downloaded (aezoo zoo fetch NAME)"


def verify(name=None, root=None):
    """Checks every file of one entry (or all) wherever a copy is; returns rows.

    Each row is {name, file, where, path, status}. ``where`` is "zoo folder"
    (the local zoo folder: missing files are failures, and so are files there
    the card does not list: "unlisted: not in the card") or "cache" (checked
    when a copy is cached). A file with no copy anywhere and no local folder
    has the row status NOT_DOWNLOADED, which is not a failure. Any other
    status but "ok" is one: "missing", "truncated: ...", "sha256 mismatch ...".
    """
    folder = zoo_root(root)
    names = list_models(root) if name is None else [name]
    report = []
    for entry in names:
        try:
            card = info(entry, root)
        except ZooIntegrityError as error:
            report.append({"name": entry, "file": f"{entry}/{CARD_FILE}", "where": "zoo folder",
                           "path": None, "status": str(error)})
            continue
        listed = card["files"]
        for relative in sorted(listed):
            rows = []
            if folder is not None:
                path = os.path.join(folder, relative)
                rows.append(("zoo folder", path, resolver.problem(path, listed[relative])))
            cached = resolver.cached_path(relative, listed[relative])
            if os.path.exists(cached):
                rows.append(("cache", cached, resolver.problem(cached, listed[relative])))
            if not rows:
                rows.append(("cache", cached, NOT_DOWNLOADED))
            for where, path, status in rows:
                report.append({"name": entry, "file": relative, "where": where, "path": path,
                               "status": status or "ok"})
        if folder is not None:
            for relative in _entry_files(entry, folder):
                if relative not in listed:
                    report.append({"name": entry, "file": relative, "where": "zoo folder",
                                   "path": os.path.join(folder, relative),
                                   "status": "unlisted: not in the card"})
    return report


def is_failure(row):
    return row["status"] not in ("ok", NOT_DOWNLOADED)


# ------------------------------------------------------------------ loading
def keras_file(card):
    """(relative path, {sha256, bytes}) of a card's .keras file."""
    relative = card.get("keras_file", keras_relpath(card["name"]))
    expected = card["files"].get(relative)
    if expected is None:
        raise ZooIntegrityError(f"{relative}: not listed in the model card's files "
                                f"(model {card['name']!r})")
    return relative, expected


def _read_verified(name, root, progress=None):
    """The card and the verified bytes of the entry's .keras file (fetched if need be)."""
    card = info(name, root)
    relative, expected = keras_file(card)
    data = resolver.read_verified(relative, expected, root=root, label=f"{relative} "
                                  f"(model {name!r})", progress=progress)
    return card, data


def fetch(name, root=None, progress=None):
    """The path of a verified copy of ``name``'s .keras file, downloaded now if need be."""
    card = info(name, root)
    relative, expected = keras_file(card)
    return resolver.locate(relative, expected, root=root, progress=progress,
                           label=f"{relative} (model {name!r})")


def register_model_classes():
    """Imports the modules whose Keras classes a saved aezoo file may name, registering them."""
    import aezoo.models  # noqa: F401
    import pretrain.rbm  # noqa: F401


def _load_keras_bytes(data, suffix):
    """Loads a .keras archive from verified bytes (no second read of the zoo file)."""
    import keras

    register_model_classes()
    with tempfile.TemporaryDirectory(prefix="aezoo-zoo-") as directory:
        path = os.path.join(directory, suffix)
        with open(path, "wb") as handle:
            handle.write(data)
        return keras.saving.load_model(path, compile=False)


def _compile(model, card):
    import keras

    spec = {**DEFAULT_OPTIMIZER, **(card.get("optimizer") or {})}
    optimizer = keras.optimizers.get(
        {"class_name": spec["name"], "config": {"learning_rate": spec["learning_rate"]}}
    )
    if card.get("kind") == "classifier":
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    else:
        model.compile(optimizer=optimizer)


def load(name, compile=True, trainable=True, root=None):
    """The zoo model ``name`` as a Keras model, after checking its .keras file.

    The file's size and sha256 must match the card (else ``ZooIntegrityError``
    naming the file); the model is built from the checked bytes, so a file
    changed in between cannot slip through. ``compile=True`` compiles it with
    the card's optimizer (Adam, learning rate 1e-3, unless the card says
    otherwise; classifiers with sparse categorical cross-entropy) so ``fit``
    works at once; ``trainable=False`` freezes every layer.
    """
    card, data = _read_verified(name, root)
    model = _load_keras_bytes(data, f"{name}.keras")
    model.trainable = bool(trainable)
    if compile:
        _compile(model, card)
    return model


def _is_corruption(layer):
    from aezoo.layers.noise import _Corruption

    return isinstance(layer, _Corruption)


def encoder_of(model):
    """A functional ``x -> code`` model built from ``model``'s own encoder layers.

    For an aezoo autoencoder: its encoder layers (training-time corruption
    layers skipped), for the VAE the posterior mean; for a plain Keras
    classifier, everything below its last layer. Fine-tuning the result moves
    the weights of ``model`` itself.
    """
    import keras

    from aezoo.models import Autoencoder, VariationalAutoencoder

    if isinstance(model, Autoencoder):
        inputs = keras.Input(model.example_shape, name="x")
        hidden = inputs
        for layer in model.encoder_layers:
            if not _is_corruption(layer):
                hidden = layer(hidden)
        if isinstance(model, VariationalAutoencoder):
            hidden = keras.ops.split(hidden, 2, axis=-1)[0]  # the posterior mean
        return keras.Model(inputs, hidden, name=f"{model.name}_encoder")
    if isinstance(model, keras.Model) and len(model.layers) >= 2 and model.inputs:
        return keras.Model(model.inputs, model.layers[-2].output, name=f"{model.name}_encoder")
    raise TypeError(f"cannot take the encoder of a {type(model).__name__}")


def encoder(name, trainable=True, root=None):
    """The encoder of zoo model ``name`` alone, as an uncompiled Keras model (see encoder_of)."""
    model = load(name, compile=False, trainable=trainable, root=root)
    return encoder_of(model)


# --------------------------------------------------------------- publishing
def library_versions():
    from importlib import metadata

    from aezoo import __version__

    versions = {"python": platform.python_version(), "aezoo": __version__}
    for package in ("tensorflow", "keras", "tensorflow-probability"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def clean_copy(model):
    """A float32 copy of ``model`` with the same weights and no optimizer."""
    for weight in model.weights:
        if str(weight.dtype) not in ("float32", "int32", "int64", "uint32"):
            raise ValueError(
                f"the zoo stores float32 models; weight {weight.path} is {weight.dtype}"
            )
    # From the config alone: keras.models.clone_model would carry the
    # compile state over, and the optimizer's slots into the saved file.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _check_metrics(metrics):
    if not isinstance(metrics, (list, tuple)):
        raise TypeError("metrics must be a list of dicts with keys " + ", ".join(METRIC_KEYS))
    result = []
    for metric in metrics:
        if not isinstance(metric, dict) or "name" not in metric:
            raise ValueError(f"each metric needs at least a 'name', got {metric!r}")
        unknown = sorted(set(metric) - set(METRIC_KEYS) - set(OPTIONAL_METRIC_KEYS))
        if unknown:
            raise ValueError(f"metric {metric['name']!r} has unknown keys: {', '.join(unknown)}")
        result.append({key: metric.get(key) for key in METRIC_KEYS} | {
            key: metric[key] for key in OPTIONAL_METRIC_KEYS if key in metric
        })
    return result


def _recipe_entry(recipe_path):
    if recipe_path is None:
        return {"path": None, "contents": None}
    path = os.path.abspath(os.fspath(recipe_path))
    with open(path) as handle:
        contents = json.load(handle)
    checkout = checkout_root()
    relative = os.path.relpath(path, checkout) if checkout else ".."
    shown = relative.replace(os.sep, "/") if not relative.startswith("..") else path
    return {"path": shown, "contents": contents}


def publish(
    model,
    name,
    recipe_path,
    metrics,
    training_seconds,
    data,
    root=None,
    version=1,
    *,
    description="",
    optimizer=None,
    overwrite=False,
    hardware=None,
    recipe_mode=None,
):
    """Adds ``model`` to the local zoo folder as ``name``; returns the card (a dict).

    Writes ``<root>/<name>/<name>.keras`` (float32, no optimizer state), then
    the card (atomically, last). ``metrics`` is a list of
    {name, value, paper, baseline, command, definition}; ``data`` a dict
    {name, splits, preprocessing}; ``optimizer`` {name, learning_rate} is what
    ``load`` compiles with (default Adam 1e-3); ``hardware`` what it was
    trained on (``aezoo.zoo.timing.hardware()``); ``recipe_mode`` "fast" when
    the recipe's fast mode was trained; ``version`` is the TF Serving
    version ``aezoo zoo export`` gives it. An existing entry is replaced only
    with ``overwrite=True``. ``aezoo zoo release`` puts it in the registry.
    """
    import keras

    from aezoo.models import Autoencoder

    _check_name(name)
    base = zoo_root(root)
    if base is None:
        raise ZooError("publish needs a local zoo folder: pass root= or set AEZOO_ZOO_DIR")
    metrics = _check_metrics(metrics)
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("data must be a dict with at least 'name' (and splits, preprocessing)")
    entry_dir = os.path.join(base, name)
    if os.path.exists(entry_dir) and not overwrite:
        raise FileExistsError(
            f"zoo entry {name!r} already exists ({entry_dir}); pass overwrite=True to replace it"
        )
    recipe = _recipe_entry(recipe_path)
    if recipe_mode is not None:
        recipe["mode"] = recipe_mode
    copy = clean_copy(model)

    # The old card goes first and the new one is written last, so a
    # half-written entry is never listed.
    os.makedirs(entry_dir, exist_ok=True)
    old_card = os.path.join(entry_dir, CARD_FILE)
    if os.path.exists(old_card):
        os.remove(old_card)
    keras_path = os.path.join(base, keras_relpath(name))
    write_atomic(keras_path, copy.save)
    sha, size = resolver.file_digest(keras_path)

    autoencoder = isinstance(copy, Autoencoder)
    card = {
        "schema": CARD_SCHEMA,
        "name": name,
        "description": description,
        "kind": "autoencoder" if autoencoder else "classifier",
        "model": {
            "class": type(copy).__name__,
            "module": type(copy).__module__,
            "config": copy.get_config() if autoencoder
            else keras.saving.serialize_keras_object(copy)["config"],
        },
        "parameters": int(copy.count_params()),
        "dtype": "float32",
        "optimizer": {**DEFAULT_OPTIMIZER, **(optimizer or {})},
        "data": data,
        "recipe": recipe,
        "metrics": metrics,
        "training_seconds": None if training_seconds is None else float(training_seconds),
        "hardware": hardware,
        "library_versions": library_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "keras_file": keras_relpath(name),
        "serving": {"name": name, "version": int(version)} if autoencoder else None,
        "files": {keras_relpath(name): {"sha256": sha, "bytes": size}},
    }
    if not autoencoder:
        card["serving_note"] = (
            f"no SavedModel: aezoo exports serve aezoo autoencoders only and this is a "
            f"{type(copy).__name__}; use the .keras file"
        )
    write_json_atomic(old_card, card)
    return card


def update_metrics(name, metrics, root=None):
    """Replaces the metric list of ``name``'s card (atomically); returns the new card.

    Only the card changes: the model files and their checksums stay as they
    are, so ``aezoo zoo evaluate NAME --write`` can add an expensive metric
    to a published entry.
    """
    card = info(name, root)
    card["metrics"] = _check_metrics(metrics)
    card["metrics_updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    write_json_atomic(card_path(name, root), card)
    return card


def format_report(report):
    """Lines for ``aezoo zoo verify``: one per file, then a summary."""
    lines = []
    for row in report:
        mark = "FAIL" if is_failure(row) else ("ok  " if row["status"] == "ok" else "--  ")
        where = f" ({row['where']}: {row['path']})" if row.get("path") else ""
        lines.append(f"{mark}  {row['file']}{where}"
                     + ("" if row["status"] == "ok" else f": {row['status']}"))
    failed = sum(is_failure(row) for row in report)
    absent = sum(row["status"] == NOT_DOWNLOADED for row in report)
    lines.append(f"{len(report)} files checked, {failed} failed"
                 + (f", {absent} not downloaded" if absent else ""))
    return lines
