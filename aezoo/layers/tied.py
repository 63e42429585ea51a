"""Tied decoder layers: the decoder reuses the transposed encoder kernel."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aezoo")
class TiedDense(keras.layers.Layer):
    """Dense layer whose kernel is the transpose of another Dense layer's.

    Only the bias belongs to this layer; the kernel stays owned (and saved) by
    ``tied_to``, so the pair trains as one weight matrix. The model that makes
    the pair re-creates the link in its constructor, which is why ``tied_to``
    is not part of the config.
    """

    def __init__(self, tied_to, activation=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(tied_to, keras.layers.Dense):
            raise TypeError(
                f"tied_to must be a keras.layers.Dense, got {type(tied_to).__name__}."
            )
        self.tied_to = tied_to
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        if not self.tied_to.built:
            raise ValueError(
                f"build {self.tied_to.name!r} before the TiedDense tied to it."
            )
        in_units, out_units = self.tied_to.kernel.shape
        if input_shape[-1] != out_units:
            raise ValueError(
                f"TiedDense tied to {self.tied_to.name!r} takes {out_units} "
                f"features, got {input_shape[-1]}."
            )
        self.units = in_units
        self.bias = self.add_weight(
            shape=(in_units,), initializer="zeros", name="bias"
        )

    def call(self, inputs):
        outputs = ops.matmul(inputs, ops.transpose(self.tied_to.kernel))
        return self.activation(outputs + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        # For inspection only: from_config cannot restore the link, which is
        # the owning model's job.
        return {
            **super().get_config(),
            "tied_to": self.tied_to.name,
            "activation": keras.activations.serialize(self.activation),
        }
