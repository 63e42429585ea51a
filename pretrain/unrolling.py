"""Unrolling a pretrained stack into a deep autoencoder or a classifier.

The encoder takes each layer's weights and hidden biases, the decoder the
transposed weights and visible biases, so before fine-tuning the autoencoder
computes exactly the stack's deterministic up-down pass (Hinton &
Salakhutdinov 2006, Fig. 1).
"""

import keras
import numpy as np

from aezoo.models import DeepAutoencoder


def _check_stack(layers):
    if not layers:
        raise ValueError("the stack is empty: pretrain at least one layer.")
    for below, above in zip(layers, layers[1:]):
        if below.n_hidden != above.n_visible:
            raise ValueError(
                f"layer widths do not chain: {below.n_hidden} hidden units feed "
                f"{above.n_visible} visible units."
            )
    for index, layer in enumerate(layers[:-1]):
        if layer.hidden != "binary":
            raise ValueError(f"layer {index} has {layer.hidden} hidden units; only the "
                             "top (code) layer may be linear.")
    for index, layer in enumerate(layers[1:], start=1):
        if layer.visible != "binary":
            raise ValueError(f"layer {index} has {layer.visible} visible units; only the "
                             "bottom layer may be Gaussian.")


def unroll(layers, tied=False, seed=None, input_scaling=None, model_class=DeepAutoencoder,
           **model_args):
    """A ``DeepAutoencoder`` initialised from a pretrained stack (bottom first).

    Sigmoid hidden layers; the code layer is linear when the top layer's
    hidden units are; the output is sigmoid with cross-entropy for binary
    bottom visible units, linear with squared error for Gaussian ones.
    ``tied=True`` keeps decoder kernels as the transposed encoder kernels.
    ``input_scaling`` gives the model the scaling the stack was trained behind
    (fit it with ``model.adapt`` on the raw training data).
    ``model_class`` (another dense ``Autoencoder`` such as
    ``DenoisingAutoencoder``) and ``model_args`` (its own arguments, e.g.
    ``noise_level``) make the unrolled model that variant instead.
    """
    _check_stack(layers)
    bottom, top = layers[0], layers[-1]
    binary_input = bottom.visible == "binary"
    model = model_class(
        bottom.n_visible,
        [layer.n_hidden for layer in layers[:-1]],
        top.n_hidden,
        activation="sigmoid",
        code_activation=None if top.hidden == "linear" else "sigmoid",
        output_activation="sigmoid" if binary_input else "linear",
        reconstruction_loss="cross_entropy" if binary_input else "squared_error",
        tied=tied,
        input_scaling=input_scaling,
        seed=seed,
        **model_args,
    )
    # Variants may put other layers (a corruption) around the dense ones.
    encoder_dense = [layer for layer in model.encoder_layers
                     if isinstance(layer, keras.layers.Dense)]
    for dense, layer in zip(encoder_dense, layers):
        dense.kernel.assign(layer.kernel)
        dense.bias.assign(layer.hidden_bias)
    for decoder, layer in zip(model.decoder_layers, reversed(layers)):
        if not tied:
            decoder.kernel.assign(np.transpose(np.asarray(layer.kernel)))
        decoder.bias.assign(layer.visible_bias)
    return model


def unroll_classifier(layers, n_classes=10, seed=None):
    """The stack's encoder (sigmoid units) plus a softmax layer, as a Keras model.

    For the 2006 paper's 784-500-500-2000-10 classifier: pretrain
    (500, 500, 2000) with ``linear_top=False``, then fine-tune this model with
    ``compile(loss="sparse_categorical_crossentropy")`` and ``fit``.
    """
    _check_stack(layers)
    if layers[-1].hidden != "binary":
        raise ValueError("a classifier's top pretrained layer must be binary "
                         "(pretrain with linear_top=False).")
    inputs = keras.Input((layers[0].n_visible,), name="x")
    hidden = inputs
    for index, layer in enumerate(layers):
        dense = keras.layers.Dense(layer.n_hidden, activation="sigmoid", name=f"encoder_{index}")
        hidden = dense(hidden)
        dense.set_weights([np.asarray(layer.kernel), np.asarray(layer.hidden_bias)])
    outputs = keras.layers.Dense(
        n_classes, activation="softmax", name="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
    )(hidden)
    return keras.Model(inputs, outputs, name="pretrained_classifier")
