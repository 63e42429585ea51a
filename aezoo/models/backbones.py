"""Backbones: the layers between an image and the dense code, and back.

Every variant is dense by default (hidden ``Dense`` layers, as in the
2006-2013 papers). ``backbone=ConvBackbone(...)`` gives any variant a
convolutional encoder and decoder instead:

    DeepAutoencoder((28, 28, 1), (), 30, backbone=ConvBackbone(filters=(32, 64)))

The encoder is ``len(filters)`` conv blocks, each a ``Conv2D`` of stride
``strides`` (so each block shrinks the image, 28 -> 14 -> 7 for two blocks),
then ``Flatten``; the model's own dense layers (``hidden_dims``, then the code
layer) follow, so everything the variants attach to the code (KL sparsity,
the k-sparse layer, the VAE's posterior head) and before the encoder (the
denoising corruption) is unchanged. The decoder mirrors it: the mirrored
dense layers, a ``Dense`` back to the last conv block's feature map, a
``Conv2DTranspose`` per block (the output padding chosen so odd sizes come
back exactly: 7 -> 4 -> 7), and a last ``Conv2D`` to the input's channels
that outputs the logits the loss takes.
"""

import math

import keras

NORMALIZATIONS = (None, "batch")

__all__ = ["NORMALIZATIONS", "ConvBackbone", "backbone_from_config"]


class ConvBackbone:
    """A convolutional encoder and decoder for images of shape (height, width, channels).

    Args:
        filters: the conv blocks' filter counts, input side first.
        kernel_size: the square kernel of every conv.
        strides: every block's stride (2 halves the image per block).
        activation: the conv blocks' activation.
        normalization: None or "batch" (``BatchNormalization`` before the
            activation, in both stacks).
    """

    def __init__(self, filters=(32, 64), kernel_size=3, strides=2, activation="relu",
                 normalization=None):
        self.filters = tuple(int(f) for f in filters)
        if not self.filters or min(self.filters) < 1:
            raise ValueError(f"filters must be positive integers, got {filters!r}.")
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        if self.kernel_size < 1 or self.strides < 1:
            raise ValueError(f"kernel_size and strides must be >= 1, got {kernel_size!r} and "
                             f"{strides!r}.")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; choose one of "
                             f"{list(NORMALIZATIONS)}.")
        self.activation = activation
        self.normalization = normalization

    def get_config(self):
        return {"type": "conv", "filters": list(self.filters), "kernel_size": self.kernel_size,
                "strides": self.strides, "activation": self.activation,
                "normalization": self.normalization}

    def check_input_shape(self, shape):
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError("a ConvBackbone needs an image input_dim (height, width, channels), "
                             f"got {shape!r}.")

    def spatial_sizes(self, shape):
        """The (height, width) at the input and after each block."""
        sizes = [tuple(shape[:2])]
        for _ in self.filters:
            sizes.append(tuple(math.ceil(s / self.strides) for s in sizes[-1]))
        return sizes

    def encoder_layers(self, kernel_settings):
        """The conv blocks and the ``Flatten`` before the model's dense layers.

        ``kernel_settings(index)`` gives a layer's seeded initializer and weight decay.
        """
        layers = []
        for i, filters in enumerate(self.filters):
            layers += self._block(keras.layers.Conv2D, filters, f"conv_{i}", kernel_settings(100 + i))
        return [*layers, keras.layers.Flatten(name="conv_flatten")]

    def decoder_layers(self, shape, kernel_settings):
        """From the mirrored dense layers' output back to logits of ``shape``."""
        sizes = self.spatial_sizes(shape)
        height, width = sizes[-1]
        layers = [
            keras.layers.Dense(height * width * self.filters[-1], activation=self.activation,
                               name="deconv_dense", **kernel_settings(200)),
            keras.layers.Reshape((height, width, self.filters[-1]), name="deconv_reshape"),
        ]
        for j, i in enumerate(reversed(range(len(self.filters)))):
            # Transposed conv with "same" padding gives (n - 1) * s + k - 2 * (k // 2)
            # + output_padding; the padding makes that the encoder's size at this depth.
            k, s = self.kernel_size, self.strides
            padding = [target - ((n - 1) * s + k - 2 * (k // 2))
                       for n, target in zip(sizes[i + 1], sizes[i])]
            layers += self._block(keras.layers.Conv2DTranspose, self.filters[i], f"deconv_{j}",
                                  kernel_settings(201 + j),
                                  output_padding=None if s == 1 else tuple(padding))
        layers.append(keras.layers.Conv2D(shape[-1], self.kernel_size, padding="same",
                                          name="deconv_output", **kernel_settings(300)))
        return layers

    def _block(self, conv, filters, name, settings, **kwargs):
        normalized = self.normalization == "batch"
        layers = [conv(filters, self.kernel_size, strides=self.strides, padding="same",
                       activation=None if normalized else self.activation, name=name,
                       **settings, **kwargs)]
        if normalized:
            layers += [keras.layers.BatchNormalization(name=f"{name}_norm"),
                       keras.layers.Activation(self.activation, name=f"{name}_activation")]
        return layers


def backbone_from_config(config):
    """None (dense) or a ``ConvBackbone`` from a ``get_config`` dict, "conv" or an instance."""
    if config is None or config == "dense":
        return None
    if isinstance(config, ConvBackbone):
        return config
    if config == "conv":
        return ConvBackbone()
    if isinstance(config, dict) and config.get("type") == "conv":
        return ConvBackbone(**{k: v for k, v in config.items() if k != "type"})
    raise ValueError(f"unknown backbone {config!r}; use None (dense), 'conv' or a "
                     "ConvBackbone(...)")
