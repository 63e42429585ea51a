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

    With ``dead_steps`` > 0 the layer also counts, per unit, the training calls
    since the unit was last kept for any example; a unit not kept for
    ``dead_steps`` calls is dead (``dead_units``), and ``auxiliary_code`` picks
    the largest activations among the dead units only, for a loss that puts
    them back to work (``KSparseAutoencoder``'s ``auxiliary_k``).
    """

    def __init__(self, k, alpha=3.0, k_start=None, anneal_steps=0, dead_steps=0, **kwargs):
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
        if int(dead_steps) < 0:
            raise ValueError(f"dead_steps must be >= 0, got {dead_steps}.")
        self.k = k
        self.alpha = float(alpha)
        self.k_start = k_start
        self.anneal_steps = int(anneal_steps)
        self.dead_steps = int(dead_steps)

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
        if self.dead_steps:
            # Created only when counted, so models saved without it still load.
            self.steps_since_kept = self.add_weight(
                shape=(units,),
                initializer="zeros",
                trainable=False,
                aggregation="only_first_replica",
                name="steps_since_kept",
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
        in_top_k = ops.arange(width, dtype="int32")[None, :] < k
        if training and self.dead_steps:
            kept_somewhere = ops.max(
                self._scatter(indices, ops.where(in_top_k, ops.ones_like(values), 0.0)),
                axis=0) > 0
            self.steps_since_kept.assign(
                ops.where(kept_somewhere, 0.0, self.steps_since_kept + 1.0))
        return self._scatter(indices, ops.where(in_top_k, values, ops.zeros_like(values)))

    def dead_units(self):
        """Boolean (units,): the units not kept for ``dead_steps`` training calls."""
        if not self.dead_steps:
            raise ValueError("this KSparse layer does not count dead units (dead_steps=0)")
        return self.steps_since_kept >= float(self.dead_steps)

    def auxiliary_code(self, inputs, k):
        """The ``k`` largest activations among the dead units per example, the rest 0.

        Where fewer than ``k`` units are dead, only the dead ones are kept.
        """
        k = min(int(k), self.units)
        dead = self.dead_units()[None, :]
        values, indices = ops.top_k(ops.where(dead, inputs, float("-inf")), k, sorted=False)
        from_dead = ops.take_along_axis(ops.broadcast_to(dead, ops.shape(inputs)), indices,
                                        axis=1)
        return self._scatter(indices, ops.where(from_dead, values, ops.zeros_like(values)))

    def _scatter(self, indices, values):
        """(batch, width) values at (batch, width) unit indices -> (batch, units), 0 elsewhere.

        Gradients flow to the scattered values.
        """
        batch, width = ops.shape(indices)[0], ops.shape(indices)[1]
        rows = ops.repeat(ops.arange(batch, dtype="int32"), width)
        coordinates = ops.stack([rows, ops.reshape(indices, (-1,))], axis=1)
        return ops.scatter(coordinates, ops.reshape(values, (-1,)), (batch, self.units))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "k": self.k,
            "alpha": self.alpha,
            "k_start": self.k_start,
            "anneal_steps": self.anneal_steps,
            "dead_steps": self.dead_steps,
        }
