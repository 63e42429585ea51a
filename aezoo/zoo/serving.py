"""SavedModels for TensorFlow Serving, made from the zoo's verified .keras files.

The zoo stores one file per model, the ``.keras`` file; ``export_for_serving``
turns it into TF Serving's ``<base_dir>/<name>/<version>/`` layout (see
``aezoo.export``), checks that the SavedModel gives the Keras model's codes,
reconstructions and anomaly scores to within ``ATOL``, and rewrites
``<base_dir>/models.config``. ``aezoo zoo export`` and ``aezoo zoo fetch
--serving`` call it.
"""

import os
import shutil

import numpy as np

from aezoo.errors import ZooError

ATOL = 1e-5
_PROBE_ROWS = 16


def _probe(example_shape):
    """Fixed inputs in [0, 1), the range every zoo model was trained on."""
    return np.random.default_rng(0).uniform(size=(_PROBE_ROWS, *example_shape)).astype("float32")


def check_export(model, version_dir, atol=ATOL):
    """The largest absolute difference between the SavedModel's signatures and ``model``.

    Raises ``ZooError`` when one exceeds ``atol``.
    """
    import tensorflow as tf

    x = _probe(model.example_shape)
    loaded = tf.saved_model.load(os.fspath(version_dir)).signatures
    pairs = {
        "encode/code": (loaded["encode"](x=tf.constant(x))["code"], model.encode(x)),
        "reconstruct/x_hat": (loaded["reconstruct"](x=tf.constant(x))["x_hat"],
                              model(x, training=False)),
        "anomaly_score/score": (loaded["anomaly_score"](x=tf.constant(x))["score"],
                                model.reconstruction_error(x)),
    }
    worst = 0.0
    for what, (served, keras_value) in pairs.items():
        difference = float(np.max(np.abs(np.asarray(served) - np.asarray(keras_value))))
        if not difference <= atol:
            raise ZooError(f"{version_dir}: the SavedModel's {what} differs from the Keras "
                           f"model by {difference:.3g} (> {atol:g})")
        worst = max(worst, difference)
    return worst


def export_for_serving(name, base_dir, root=None, version=None, overwrite=False,
                       warmup=True, progress=None):
    """Exports zoo model ``name`` to ``base_dir``; returns (version folder, largest difference).

    The model comes from its verified .keras file (fetched if need be); the
    TF Serving name and version are the card's (``version`` overrides it). A
    version folder that fails the check is removed again. Classifiers have no
    SavedModel (``ZooError``).
    """
    from aezoo import zoo
    from aezoo.export import write_models_config, export_saved_model

    card = zoo.info(name, root)
    if card.get("kind") != "autoencoder" or not card.get("serving"):
        raise ZooError(f"{name} is a {card['model']['class']}: "
                       + card.get("serving_note", "it has no SavedModel"))
    serving = card["serving"]
    zoo.fetch(name, root=root, progress=progress)
    model = zoo.load(name, compile=False, root=root)
    version_dir = export_saved_model(model, base_dir, serving["name"],
                                     int(version or serving["version"]),
                                     overwrite=overwrite, warmup=warmup)
    try:
        difference = check_export(model, version_dir)
    except ZooError:
        shutil.rmtree(version_dir, ignore_errors=True)
        raise
    write_models_config(base_dir)
    return version_dir, difference
