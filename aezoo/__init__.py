"""aezoo: the autoencoder model zoo for Keras 3 and TensorFlow.

Importing ``aezoo`` is cheap; the models (and TensorFlow) load on first use of
``aezoo.DeepAutoencoder`` and friends, so ``aezoo.data`` stays usable without
paying TensorFlow's start-up time.
"""

import importlib
import os

# aezoo's models use TensorFlow-only pieces (tf.distribute, batch Jacobians,
# SavedModel export), so Keras must run on the TensorFlow backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# The model classes, by name: listed here so code that only needs the names
# (argument parsing, recipe validation) does not import TensorFlow.
MODEL_NAMES = (
    "Autoencoder",
    "LinearAutoencoder",
    "DeepAutoencoder",
    "DenoisingAutoencoder",
    "SparseAutoencoder",
    "KSparseAutoencoder",
    "ContractiveAutoencoder",
    "VariationalAutoencoder",
)

__all__ = list(MODEL_NAMES) + ["__version__"]


def __getattr__(name):
    if name in MODEL_NAMES:
        return getattr(importlib.import_module("aezoo.models"), name)
    raise AttributeError(f"module 'aezoo' has no attribute {name!r}")
