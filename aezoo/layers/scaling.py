"""Feature scaling that travels inside a model: standardization or min-max, fitted on data.

``FeatureScaling(mode, features)`` maps raw features to the model's scale,
``(x - offset) / scale``, and ``invert`` maps back. ``mode`` is
"standardize" (offset = mean, scale = standard deviation) or "minmax"
(offset = minimum, scale = maximum - minimum, so training data lands in
[0, 1]). A constant feature gets scale 1, so it maps to 0 instead of
dividing by zero. ``features`` is the feature count, or one example's shape
(height, width, channels) for images: each pixel and channel gets its own
statistics. The statistics are non-trainable weights: they are saved
in the ``.keras`` file and in every exported SavedModel, so a model serves
raw rows. ``adapt`` fits them on an array or a ``tf.data.Dataset`` of
batches (one pass, in float64; data larger than memory streams).

Keras' ``Normalization`` layer standardizes but has no min-max mode, and
its inverse is a second layer; one layer with both directions keeps the
two from drifting apart.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

SCALINGS = ("standardize", "minmax")


@keras.saving.register_keras_serializable(package="aezoo")
class FeatureScaling(keras.layers.Layer):
    def __init__(self, mode, features, **kwargs):
        super().__init__(**kwargs)
        if mode not in SCALINGS:
            raise ValueError(f"unknown scaling {mode!r}; choose one of {list(SCALINGS)}.")
        self.mode = mode
        self.features = (int(features) if not isinstance(features, (list, tuple))
                         else [int(f) for f in features])
        self.shape = tuple(self.features) if isinstance(self.features, list) else (self.features,)
        self.offset = self.add_weight(shape=self.shape, initializer="zeros",
                                      trainable=False, name="offset")
        self.scale = self.add_weight(shape=self.shape, initializer="ones",
                                     trainable=False, name="scale")
        # Rows the statistics were fitted on: 0 until ``adapt`` runs.
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="count", dtype="float32")
        self.built = True

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "features": self.features}

    @property
    def adapted(self):
        return float(self.count.numpy()) > 0

    def call(self, x):
        return ops.divide(ops.subtract(x, self.offset), self.scale)

    def invert(self, x):
        return ops.add(ops.multiply(x, self.scale), self.offset)

    def transform_numpy(self, x):
        """``call`` on a NumPy array, in NumPy (for range checks without a graph)."""
        return (np.asarray(x, np.float64) - self.offset.numpy()) / self.scale.numpy()

    def adapt(self, data, batch_size=4096):
        """Fits the statistics on ``data``: an (N, features) array or a dataset of batches."""
        stats = _RunningStats(self.shape)
        if isinstance(data, tf.data.Dataset):
            for batch in data:
                if isinstance(batch, (tuple, list)):
                    batch = batch[0]
                stats.update(np.asarray(batch))
        else:
            array = np.asarray(data)
            for start in range(0, len(array), batch_size):
                stats.update(array[start:start + batch_size])
        if stats.count == 0:
            raise ValueError("cannot fit the input scaling on empty data")
        if self.mode == "standardize":
            offset, spread = stats.mean, np.sqrt(stats.m2 / stats.count)
        else:
            offset, spread = stats.minimum, stats.maximum - stats.minimum
        spread = np.where(spread > 0, spread, 1.0)
        self.offset.assign(offset.reshape(self.shape).astype("float32"))
        self.scale.assign(spread.reshape(self.shape).astype("float32"))
        self.count.assign(float(stats.count))
        return self


class _RunningStats:
    """Count, mean, sum of squared deviations (Chan et al.'s merge), minimum, maximum."""

    def __init__(self, shape):
        self.shape = tuple(shape)
        features = int(np.prod(self.shape))
        self.features = features
        self.count = 0
        self.mean = np.zeros(features)
        self.m2 = np.zeros(features)
        self.minimum = np.full(features, np.inf)
        self.maximum = np.full(features, -np.inf)

    def update(self, batch):
        batch = np.asarray(batch, np.float64)
        if batch.shape[1:] != self.shape:
            wanted = ", ".join(map(str, self.shape))
            raise ValueError(f"expected batches of shape (n, {wanted}) to fit the "
                             f"scaling, got {batch.shape}")
        batch = batch.reshape(len(batch), -1)
        if not np.isfinite(batch).all():
            raise ValueError("the data to fit the scaling on contains NaN or inf values")
        n = len(batch)
        if n == 0:
            return
        mean = batch.mean(axis=0)
        m2 = ((batch - mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * n / total
        self.count = total
        self.minimum = np.minimum(self.minimum, batch.min(axis=0))
        self.maximum = np.maximum(self.maximum, batch.max(axis=0))
