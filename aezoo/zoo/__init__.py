"""The pretrained-model zoo: checksummed models that load in one line and fine-tune in Keras.

    import aezoo.zoo as zoo
    zoo.list_models()                   # ['mnist-hinton-30', ...]
    zoo.info("mnist-hinton-30")         # the model card, a dict
    model = zoo.load("mnist-hinton-30") # compiled, trainable, ready for fit
    encoder = zoo.encoder("mnist-hinton-30")  # x -> code, sharing the model's layers

Layout under the zoo root (``saved_models/`` in the repository; ``AEZOO_ZOO_DIR``
or ``root=`` overrides it)::

    <root>/<name>/card.json              the model card (written last: it marks the entry)
    <root>/<name>/<name>.keras           float32 weights, no optimizer state
    <root>/serving/<name>/<version>/...  the SavedModel, TF Serving layout
    <root>/serving/models.config         lists every exported model

Every file an entry owns is listed in its card with its sha256 and size;
``load`` checks the ``.keras`` file against them before building anything,
``verify`` checks them all. Nothing here imports TensorFlow until a model is
loaded or published.
"""

import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile

CARD_FILE = "card.json"
SERVING_DIR = "serving"
CARD_SCHEMA = 1
DEFAULT_OPTIMIZER = {"name": "adam", "learning_rate": 1e-3}
METRIC_KEYS = ("name", "value", "paper", "baseline", "command", "definition")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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


class ZooError(Exception):
    """Base class of the zoo's errors."""


class ZooIntegrityError(ZooError):
    """A file of a zoo entry is missing, truncated or altered (the message names it)."""


class UnknownModelError(ZooError, KeyError):
    """No entry of that name under the zoo root; the message lists the ones there are."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


# ------------------------------------------------------------------ layout
def zoo_root(root=None):
    """The zoo folder: ``root``, else ``$AEZOO_ZOO_DIR``, else the repository's saved_models/."""
    if root is None:
        root = os.environ.get("AEZOO_ZOO_DIR") or os.path.join(_REPO_ROOT, "saved_models")
    return os.path.abspath(os.path.expanduser(os.fspath(root)))


def _check_name(name):
    if not (isinstance(name, str) and _NAME_PATTERN.match(name)) or name == SERVING_DIR:
        raise ValueError(
            f"a zoo name is letters, digits, '_', '.' or '-' (not {SERVING_DIR!r}), "
            f"got {name!r}."
        )
    return name


def keras_relpath(name):
    return f"{name}/{name}.keras"


def card_path(name, root=None):
    return os.path.join(zoo_root(root), name, CARD_FILE)


def list_models(root=None):
    """Sorted names of the entries (folders with a card.json) under the zoo root."""
    base = zoo_root(root)
    if not os.path.isdir(base):
        return []
    return sorted(
        entry
        for entry in os.listdir(base)
        if entry != SERVING_DIR
        and not entry.startswith(".")
        and os.path.isfile(os.path.join(base, entry, CARD_FILE))
    )


def info(name, root=None):
    """The model card of ``name`` as a dict."""
    path = card_path(name if isinstance(name, str) else str(name), root)
    if not (isinstance(name, str) and _NAME_PATTERN.match(name)) or not os.path.isfile(path):
        available = list_models(root)
        listing = ", ".join(available) if available else "none: the zoo is empty"
        raise UnknownModelError(
            f"no zoo model named {name!r} under {zoo_root(root)} (available: {listing})"
        )
    try:
        with open(path) as handle:
            card = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ZooIntegrityError(f"{path}: the model card cannot be read: {error}")
    if not isinstance(card, dict) or not isinstance(card.get("files"), dict):
        raise ZooIntegrityError(f"{path}: the model card has no 'files' table")
    return card


# --------------------------------------------------------------- checksums
def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def file_digest(path, chunk=1 << 20):
    """(sha256 hex, size in bytes) of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _check_file(path, expected):
    """'ok' or what is wrong with ``path`` against ``{sha256, bytes}``."""
    if not os.path.isfile(path):
        return "missing"
    sha, size = file_digest(path)
    if size != expected.get("bytes"):
        return f"size mismatch: {size} bytes, the card says {expected.get('bytes')}"
    if sha != expected.get("sha256"):
        return "sha256 mismatch: the file was altered"
    return "ok"


def _entry_files(name, base):
    """Relative paths of the files an entry owns on disk: its folder and its serving folder."""
    found = []
    for top in (os.path.join(base, name), os.path.join(base, SERVING_DIR, name)):
        for directory, _, files in os.walk(top):
            for file in files:
                path = os.path.join(directory, file)
                found.append(os.path.relpath(path, base).replace(os.sep, "/"))
    return sorted(p for p in found if p != f"{name}/{CARD_FILE}")


def verify(name=None, root=None):
    """Checks every file of one entry (or all); returns [{name, file, status}].

    ``status`` is "ok", "missing", "size mismatch: ...", "sha256 mismatch: ...",
    or "unlisted: not in the card" for a file found in the entry's folders
    that the card does not list. Anything but "ok" is a failure.
    """
    base = zoo_root(root)
    names = list_models(root) if name is None else [name]
    report = []
    for entry in names:
        try:
            card = info(entry, root)
        except ZooIntegrityError as error:
            report.append({"name": entry, "file": f"{entry}/{CARD_FILE}", "status": str(error)})
            continue
        listed = card["files"]
        for relative in sorted(listed):
            status = _check_file(os.path.join(base, relative), listed[relative])
            report.append({"name": entry, "file": relative, "status": status})
        for relative in _entry_files(entry, base):
            if relative not in listed:
                report.append(
                    {"name": entry, "file": relative, "status": "unlisted: not in the card"}
                )
    return report


# ------------------------------------------------------------------ loading
def _read_verified(name, root):
    """The card and the verified bytes of the entry's .keras file."""
    card = info(name, root)
    relative = card.get("keras_file", keras_relpath(name))
    expected = card["files"].get(relative)
    path = os.path.join(zoo_root(root), relative)
    if expected is None:
        raise ZooIntegrityError(f"{path}: not listed in the model card's files")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ZooIntegrityError(f"{path}: missing (model {name!r})")
    except OSError as error:
        raise ZooIntegrityError(f"{path}: cannot be read: {error}")
    if len(data) != expected["bytes"]:
        raise ZooIntegrityError(
            f"{path}: truncated or padded: {len(data)} bytes, the card says "
            f"{expected['bytes']} (model {name!r})"
        )
    if sha256_bytes(data) != expected["sha256"]:
        raise ZooIntegrityError(
            f"{path}: sha256 mismatch, the file was altered (model {name!r})"
        )
    return card, data


def _load_keras_bytes(data, suffix):
    """Loads a .keras archive from verified bytes (no second read of the zoo file)."""
    import keras

    import aezoo.models  # noqa: F401  (registers the aezoo classes)
    import pretrain.rbm  # noqa: F401

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
        inputs = keras.Input((model.input_dim,), name="x")
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


def _clean_copy(model):
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
        unknown = sorted(set(metric) - set(METRIC_KEYS) - {"target", "unit", "note"})
        if unknown:
            raise ValueError(f"metric {metric['name']!r} has unknown keys: {', '.join(unknown)}")
        result.append({key: metric.get(key) for key in METRIC_KEYS} | {
            key: metric[key] for key in ("target", "unit", "note") if key in metric
        })
    return result


def _recipe_entry(recipe_path):
    if recipe_path is None:
        return {"path": None, "contents": None}
    path = os.path.abspath(os.fspath(recipe_path))
    with open(path) as handle:
        contents = json.load(handle)
    relative = os.path.relpath(path, _REPO_ROOT)
    shown = relative.replace(os.sep, "/") if not relative.startswith("..") else path
    return {"path": shown, "contents": contents}


def _write_json_atomic(path, payload):
    directory = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(prefix=".card-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(payload, out, indent=2, sort_keys=False)
            out.write("\n")
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


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
):
    """Adds ``model`` to the zoo as ``name``; returns the card (a dict).

    Writes ``<root>/<name>/<name>.keras`` (float32, no optimizer state), the
    SavedModel ``<root>/serving/<name>/<version>/`` (aezoo autoencoders only;
    other models get a note in the card), the card (atomically, last) and
    ``<root>/serving/models.config``. ``metrics`` is a list of
    {name, value, paper, baseline, command, definition}; ``data`` a dict
    {name, splits, preprocessing}; ``optimizer`` {name, learning_rate} is what
    ``load`` compiles with (default Adam 1e-3). An existing entry is replaced
    only with ``overwrite=True``.
    """
    import keras

    from aezoo.export import export_saved_model, exported_models, write_models_config
    from aezoo.models import Autoencoder

    _check_name(name)
    base = zoo_root(root)
    metrics = _check_metrics(metrics)
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("data must be a dict with at least 'name' (and splits, preprocessing)")
    entry_dir = os.path.join(base, name)
    serving_root = os.path.join(base, SERVING_DIR)
    version_dir = os.path.join(serving_root, name, str(int(version)))
    existing = [p for p in (entry_dir, version_dir) if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f"zoo entry {name!r} already exists ({', '.join(existing)}); pass "
            "overwrite=True to replace it"
        )
    recipe = _recipe_entry(recipe_path)
    copy = _clean_copy(model)

    # The old card goes first and the new one is written last, so a
    # half-written entry is never listed.
    os.makedirs(entry_dir, exist_ok=True)
    old_card = os.path.join(entry_dir, CARD_FILE)
    if os.path.exists(old_card):
        os.remove(old_card)
    keras_path = os.path.join(base, keras_relpath(name))
    temp_keras = os.path.join(entry_dir, f".{name}.tmp.keras")
    copy.save(temp_keras)
    os.replace(temp_keras, keras_path)

    serving_note = None
    if isinstance(copy, Autoencoder):
        export_saved_model(copy, serving_root, name, int(version), overwrite=overwrite)
    else:
        serving_note = (
            f"no SavedModel: export_saved_model serves aezoo autoencoders only and this "
            f"is a {type(copy).__name__}; use the .keras file"
        )
        if os.path.isdir(os.path.join(serving_root, name)):
            shutil.rmtree(os.path.join(serving_root, name))

    files = {}
    for relative in _entry_files(name, base):
        sha, size = file_digest(os.path.join(base, relative))
        files[relative] = {"sha256": sha, "bytes": size}

    card = {
        "schema": CARD_SCHEMA,
        "name": name,
        "description": description,
        "kind": "autoencoder" if isinstance(copy, Autoencoder) else "classifier",
        "model": {
            "class": type(copy).__name__,
            "module": type(copy).__module__,
            "config": keras.saving.serialize_keras_object(copy)["config"]
            if not isinstance(copy, Autoencoder)
            else copy.get_config(),
        },
        "parameters": int(copy.count_params()),
        "dtype": "float32",
        "optimizer": {**DEFAULT_OPTIMIZER, **(optimizer or {})},
        "data": data,
        "recipe": recipe,
        "metrics": metrics,
        "training_seconds": None if training_seconds is None else float(training_seconds),
        "library_versions": library_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "keras_file": keras_relpath(name),
        "serving": None
        if serving_note
        else {"name": name, "version": int(version),
              "path": f"{SERVING_DIR}/{name}/{int(version)}"},
        "files": files,
    }
    if serving_note:
        card["serving_note"] = serving_note
    _write_json_atomic(old_card, card)
    if exported_models(serving_root):
        write_models_config(serving_root)
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
    _write_json_atomic(card_path(name, root), card)
    return card


def format_report(report):
    """Lines for ``aezoo zoo verify``: one per file, then a summary."""
    lines = [f"{row['status'] == 'ok' and 'ok  ' or 'FAIL'}  {row['file']}"
             + ("" if row["status"] == "ok" else f": {row['status']}") for row in report]
    failed = sum(row["status"] != "ok" for row in report)
    lines.append(f"{len(report)} files checked, {failed} failed")
    return lines


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(list_models()) or "(the zoo is empty)", file=sys.stdout)
