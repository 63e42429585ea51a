"""The k-sparse layer of Makhzani & Frey (2013)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aezoo")
class KSparse(keras.layers.Layer):
    """Keeps the ``k`` largest activations per example and zeros the rest.

    Training keeps ``k`` units, annealed linearly from ``k_start`` down to ``k``
    over the first ``anneal_steps`` training calls (a large k early on lets
    every unit receive gradient, so fewer die). Inference keeps
    ``round(alpha * k)`` units, capped at the layer width.

    The top-k is taken with a static width (``k_start``) and then cut to the
    current k by rank, so the result has exactly k non-zeros even with ties and
    the graph has static shapes (XLA-friendly).
    """

    def __init__(self, k, alpha=3.0, k_start=None, anneal_steps=0, **kwargs):
        super().__init__(**kwargs)
        k = int(k)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        if float(alpha) < 1.0:
            raise ValueError(f"alpha must be >= 1, got {alpha}.")
        k_start = k if k_start is None else int(k_start)
        if k_start < k:
            raise ValueError(f"k_start ({k_start}) must be >= k ({k}).")
        if int(anneal_steps) < 0:
            raise ValueError(f"anneal_steps must be >= 0, got {anneal_steps}.")
        self.k = k
        self.alpha = float(alpha)
        self.k_start = k_start
        self.anneal_steps = int(anneal_steps)

    def build(self, input_shape):
        units = input_shape[-1]
        if self.k > units:
            raise ValueError(f"k ({self.k}) exceeds the layer width ({units}).")
        self.units = units
        # Counts training calls; saved with the model so a resumed run
        # continues the annealing schedule where it stopped.
        self.step = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
            name="step",
        )

    @property
    def inference_k(self):
        return min(self.units, max(self.k, int(round(self.alpha * self.k))))

    def current_k(self):
        """The training k at the current step (a scalar tensor)."""
        if self.anneal_steps == 0 or self.k_start == self.k:
            return ops.convert_to_tensor(self.k, "int32")
        progress = ops.minimum(
            ops.cast(self.step, "float32") / float(self.anneal_steps), 1.0
        )
        k = self.k_start - (self.k_start - self.k) * progress
        return ops.cast(ops.round(k), "int32")

    def call(self, inputs, training=None):
        if training:
            width = min(self.units, self.k_start)
            k = self.current_k()
            self.step.assign_add(1)
        else:
            width = k = self.inference_k
        values, indices = ops.top_k(inputs, width, sorted=True)
        rank = ops.arange(width, dtype="int32")
        kept = ops.where(rank[None, :] < k, values, ops.zeros_like(values))
        # Scatter the kept values back to their units; gradients flow to them.
        batch = ops.shape(inputs)[0]
        rows = ops.repeat(ops.arange(batch, dtype="int32"), width)
        coordinates = ops.stack([rows, ops.reshape(indices, (-1,))], axis=1)
        return ops.scatter(
            coordinates, ops.reshape(kept, (-1,)), (batch, self.units)
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "k": self.k,
            "alpha": self.alpha,
            "k_start": self.k_start,
            "anneal_steps": self.anneal_steps,
        }
