"""Helpers the test files share: child Python processes, damaged files, tiny recipes."""

import os
import subprocess
import sys

HEAVY_MODULES = ("tensorflow", "keras")


def start(argv, **kwargs):
    """A child process with piped, text stdout and stderr; stop it with ``finish``."""
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def finish(process, timeout):
    """(returncode, stdout, stderr) of ``process``; it is killed if it outlives ``timeout``.

    A child left running would hold a CPU and its pipes after the test, and a
    hung one would hang the suite, so every exit path kills it.
    """
    try:
        out, err = process.communicate(timeout=timeout)
        return process.returncode, out, err
    finally:
        stop(process)


def stop(process):
    """Kills ``process`` if it still runs, and reaps it."""
    if process.poll() is None:
        process.kill()
        process.communicate()


def run_python(script, timeout=120, **kwargs):
    """Runs ``python -c script`` in a fresh interpreter; returns (returncode, out, err)."""
    return finish(start([sys.executable, "-c", script], **kwargs), timeout)


def assert_script_imports_no_tensorflow(script, timeout=120):
    """Runs ``script`` in a fresh interpreter, then checks it loaded neither TensorFlow nor Keras.

    Returns the script's stdout.
    """
    check = (
        "\nimport sys\n"
        f"loaded = [m for m in {HEAVY_MODULES!r} if m in sys.modules]\n"
        "assert not loaded, f'imported {loaded}'\n"
    )
    code, out, err = run_python(script + check, timeout=timeout)
    assert code == 0, err[-3000:]
    return out


def damage_file(path, how, offset=None):
    """Damages ``path`` in place: "missing" (removed), "truncated" (the second half cut)
    or "flipped" (one byte inverted, at ``offset`` or in the middle)."""
    if how == "missing":
        os.remove(path)
        return
    with open(path, "rb") as handle:
        data = handle.read()
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "flipped":
        at = len(data) // 2 if offset is None else offset
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
    else:
        raise ValueError(f"unknown damage {how!r}")
    with open(path, "wb") as handle:
        handle.write(data)


def tiny_curves_recipe(epochs, metrics=({"name": "squared_error"},)):
    """A zoo recipe that trains in seconds: a 784-16-4 autoencoder on 64 curves."""
    return {
        "name": "tiny-curves-ae",
        "description": "a test recipe: 64 curves",
        "model": {"class": "DeepAutoencoder",
                  "args": {"input_dim": 784, "hidden_dims": [16], "latent_dim": 4}},
        "data": {"name": "curves", "train": 64, "test": 16},
        "training": {"epochs": epochs, "optimizer": "adam", "learning_rate": 0.001,
                     "batch_size": 32},
        "seed": 0,
        "metrics": [dict(metric) for metric in metrics],
    }


def tiny_pretrained_recipe(epochs, **model_args):
    """mnist-hinton-30's recipe shrunk to train in seconds: 20 inputs, RBMs of 12 and 4 units
    (one epoch each), ``epochs`` of fine-tuning; ``model_args`` add to the 20-12-4 model's."""
    from aezoo.zoo import recipes

    recipe = recipes.load_recipe("mnist-hinton-30")
    recipe["model"]["args"] = {"input_dim": 20, "hidden_dims": [12], "latent_dim": 4,
                               **model_args}
    recipe["pretraining"].update(hidden_dims=[12, 4], epochs_per_layer=1)
    recipe["training"]["epochs"] = epochs
    return recipe


def tiny_binary_images(n=300, seed=0):
    """``n`` random binary 20-pixel images (30 % ones) for ``tiny_pretrained_recipe``."""
    import numpy as np

    return (np.random.default_rng(seed).uniform(size=(n, 20)) < 0.3).astype("float32")
