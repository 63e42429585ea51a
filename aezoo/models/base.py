"""The base autoencoder: encoder and decoder stacks, losses, training step, checks.

Every variant subclasses ``Autoencoder`` and changes one thing: the layers in
its encoder (noise, k-sparse), a regularizer on its code (KL sparsity), a
penalty term (contractive) or the loss as a whole (variational).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from aezoo import (
    backend,  # noqa: F401  (TensorFlow backend check)
    distribute,
)
from aezoo.layers.losses import bernoulli_cross_entropy, squared_error
from aezoo.layers.scaling import SCALINGS, FeatureScaling
from aezoo.layers.tied import TiedDense
from aezoo.models.backbones import backbone_from_config
from aezoo.validation import check_array, check_input

RECONSTRUCTION_LOSSES = ("cross_entropy", "squared_error")
ERROR_SCALES = ("scaled", "raw")


@keras.saving.register_keras_serializable(package="aezoo")
class Autoencoder(keras.Model):
    """A fully connected autoencoder: input -> hidden_dims -> code -> mirror -> output.

    Args:
        input_dim: number of input features (784 for MNIST), or with a conv
            backbone one image's shape (height, width, channels).
        hidden_dims: widths of the encoder's hidden dense layers, input side
            first (after the conv blocks, with a conv backbone); the decoder
            mirrors them.
        latent_dim: width of the code layer.
        activation: activation of the hidden layers (both stacks).
        code_activation: activation of the code layer; None (linear) as in
            Hinton & Salakhutdinov 2006.
        output_activation: "sigmoid" (inputs in [0, 1]) or "linear".
        reconstruction_loss: "cross_entropy" (Bernoulli, needs sigmoid
            outputs) or "squared_error"; summed over features, averaged over
            the batch.
        tied: decoder kernels are the transposed encoder kernels.
        weight_decay: L2 penalty on every kernel (not biases).
        input_scaling: None, "standardize" or "minmax": a ``FeatureScaling``
            layer inside the model, fitted on the training data (``adapt``, or
            the first ``fit``), so every method and export takes raw features
            and ``decode``/``call`` return them on the raw scale. The losses
            are computed on the scaled features.
        seed: seeds weight initialisation (and any noise) for reproducible runs.
        backbone: None (dense layers only) or ``ConvBackbone(...)`` (see
            ``aezoo.models.backbones``): conv blocks between the image and the
            dense layers, and their mirror in the decoder. Tied weights are
            dense-only.

    Train with ``model.compile(optimizer=...)`` and ``model.fit(x)``: the input
    is the target unless ``y`` is given. Metrics: ``loss``, ``reconstruction``
    and, where the model has one, ``penalty``. ``fit`` refuses data outside
    [0, 1] (after the scaling) for the cross-entropy loss, naming the range
    found.
    """

    # The loss terms every model of this class reports, besides the total.
    primary_loss_terms = ("reconstruction",)
    # Whether this variant always adds a penalty term (reported as "penalty").
    has_penalty = False

    def __init__(
        self,
        input_dim,
        hidden_dims=(),
        latent_dim=30,
        *,
        activation="sigmoid",
        code_activation=None,
        output_activation="sigmoid",
        reconstruction_loss="cross_entropy",
        tied=False,
        weight_decay=0.0,
        input_scaling=None,
        seed=None,
        backbone=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.backbone = backbone_from_config(backbone)
        # One example's shape: (features,) for dense models, (height, width,
        # channels) for conv ones; input_dim is its size either way.
        self.example_shape = _example_shape(input_dim, self.backbone)
        self.input_dim = int(np.prod(self.example_shape))
        self.hidden_dims = tuple(
            _positive_int(units, "hidden_dims entry") for units in hidden_dims
        )
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"unknown reconstruction_loss {reconstruction_loss!r}; choose one "
                f"of {sorted(RECONSTRUCTION_LOSSES)}."
            )
        if reconstruction_loss == "cross_entropy" and output_activation != "sigmoid":
            raise ValueError(
                "reconstruction_loss='cross_entropy' needs output_activation="
                f"'sigmoid', got {output_activation!r}."
            )
        if tied and self.backbone is not None:
            raise ValueError("tied weights are a dense-only option: a conv backbone's decoder "
                             "has its own transposed kernels; pass tied=False.")
        if float(weight_decay) < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
        if input_scaling is not None and input_scaling not in SCALINGS:
            raise ValueError(f"unknown input_scaling {input_scaling!r}; choose None or one "
                             f"of {list(SCALINGS)}.")
        self.input_scaling = input_scaling
        self.scaler = (None if input_scaling is None
                       else FeatureScaling(input_scaling, self._input_dim_config(),
                                           name="input_scaling"))
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.reconstruction_loss = reconstruction_loss
        self.tied = bool(tied)
        self.weight_decay = float(weight_decay)
        self.seed = seed
        self._output_fn = keras.activations.get(output_activation)

        self.encoder_layers = self._make_encoder_layers()
        self.decoder_layers = self._make_decoder_layers()

        self.reports_penalty = self.has_penalty or self.weight_decay > 0
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.term_trackers = {
            term: keras.metrics.Mean(name=term) for term in self.loss_term_names()
        }
        self.build((None, *self.example_shape))

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self._input_dim_config(),
            "hidden_dims": list(self.hidden_dims),
            "latent_dim": self.latent_dim,
            "activation": self.activation,
            "code_activation": self.code_activation,
            "output_activation": self.output_activation,
            "reconstruction_loss": self.reconstruction_loss,
            "tied": self.tied,
            "weight_decay": self.weight_decay,
            "input_scaling": self.input_scaling,
            "seed": self.seed,
            "backbone": None if self.backbone is None else self.backbone.get_config(),
        }

    # ----------------------------------------------------------- architecture
    def _input_dim_config(self):
        """``input_dim`` as the constructor takes it: the feature count, or the image shape."""
        return self.input_dim if self.backbone is None else list(self.example_shape)

    def loss_term_names(self):
        """The loss terms reported as metrics besides the total ``loss``."""
        penalty = ("penalty",) if self.reports_penalty else ()
        return (*self.primary_loss_terms, *penalty)

    def code_units(self):
        """Width of the encoder's last dense layer (the VAE doubles it)."""
        return self.latent_dim

    def code_activity_regularizer(self):
        """Activity regularizer on the code layer; the sparse variant sets one."""
        return None

    def _kernel_settings(self, index):
        """Layer ``index``'s seeded kernel initializer and weight decay."""
        initializer = (
            "glorot_uniform"
            if self.seed is None
            else keras.initializers.GlorotUniform(seed=self.seed + index)
        )
        regularizer = (
            keras.regularizers.L2(self.weight_decay / 2) if self.weight_decay else None
        )
        return {"kernel_initializer": initializer, "kernel_regularizer": regularizer}

    def _dense(self, units, activation, name, index, **kwargs):
        return keras.layers.Dense(
            units, activation=activation, name=name, **self._kernel_settings(index), **kwargs
        )

    def _make_encoder_layers(self):
        """Conv blocks (if any), hidden layers, then the code layer; variants add layers around them."""
        conv = [] if self.backbone is None else self.backbone.encoder_layers(self._kernel_settings)
        layers = conv + [
            self._dense(units, self.activation, f"encoder_{i}", i)
            for i, units in enumerate(self.hidden_dims)
        ]
        layers.append(
            self._dense(
                self.code_units(),
                self.code_activation,
                "code",
                len(self.hidden_dims),
                activity_regularizer=self.code_activity_regularizer(),
            )
        )
        return layers

    def _make_decoder_layers(self):
        """The mirror of the encoder; the last layer outputs pre-activations."""
        offset = len(self.hidden_dims) + 1
        if self.backbone is not None:
            dense = [self._dense(units, self.activation, f"decoder_{i}", offset + i)
                     for i, units in enumerate(reversed(self.hidden_dims))]
            return dense + self.backbone.decoder_layers(self.example_shape, self._kernel_settings)
        widths = [*reversed(self.hidden_dims), self.input_dim]
        activations = [self.activation] * len(self.hidden_dims) + [None]
        if self.tied:
            encoder_dense = [
                layer
                for layer in self.encoder_layers
                if isinstance(layer, keras.layers.Dense)
            ]
            return [
                TiedDense(dense, activation=activation, name=f"decoder_{i}")
                for i, (dense, activation) in enumerate(
                    zip(reversed(encoder_dense), activations)
                )
            ]
        return [
            self._dense(units, activation, f"decoder_{i}", offset + i)
            for i, (units, activation) in enumerate(zip(widths, activations))
        ]

    def build(self, input_shape=None):
        if self.built:  # load_model calls build again after the constructor
            return
        shape = (None, *self.example_shape)
        for layer in self.encoder_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        shape = (None, self.latent_dim)
        for layer in self.decoder_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    # ---------------------------------------------------------------- forward
    def scaled_inputs(self, x, name="x"):
        """``x`` checked (shape, dtype, finite) and mapped to the model's scale."""
        x = check_input(x, self.example_shape, name=name)
        return x if self.scaler is None else self.scaler(x)

    def raw_outputs(self, x_hat):
        """Reconstructions on the model's scale mapped back to the raw features."""
        return x_hat if self.scaler is None else self.scaler.invert(x_hat)

    def encode(self, x, training=False):
        """The code for raw ``x`` (batch, input_dim) -> (batch, latent_dim)."""
        return self._encode(self.scaled_inputs(x), training)

    def decode(self, code, training=False):
        """The raw-scale reconstruction for ``code`` (batch, latent_dim) -> (batch, input_dim)."""
        code = check_input(code, self.latent_dim, name="code")
        return self.raw_outputs(self._output_fn(self._decode_logits(code, training)))

    def call(self, x, training=False):
        """The reconstruction of raw ``x``, on the raw scale."""
        return self.raw_outputs(self._reconstruct_scaled(self.scaled_inputs(x), training))

    def _reconstruct_scaled(self, x, training=False):
        return self._output_fn(self._decode_logits(self._encode(x, training), training))

    def reconstruction_error(self, x, scale="scaled"):
        """Per-example squared error summed over features: the anomaly score.

        ``scale="scaled"`` (the default) measures it on the model's scale
        (standardized units with ``input_scaling="standardize"``, so every
        feature counts alike; the raw features without scaling);
        ``scale="raw"`` on the raw features.
        """
        if scale not in ERROR_SCALES:
            raise ValueError(f"scale must be one of {ERROR_SCALES}, got {scale!r}.")
        scaled = self.scaled_inputs(x)
        x_hat = self._reconstruct_scaled(scaled)
        if scale == "raw" and self.scaler is not None:
            return squared_error(check_input(x, self.example_shape), self.raw_outputs(x_hat))
        return squared_error(scaled, x_hat)

    def _encode(self, x, training=False):
        for layer in self.encoder_layers:
            x = layer(x, training=training)
        return x

    def _decode_logits(self, code, training=False):
        for layer in self.decoder_layers:
            code = layer(code, training=training)
        return code

    # ------------------------------------------------------------------ losses
    def compute_loss_terms(self, x, target, training=False):
        """Per-batch loss terms, averaged over examples, keyed by metric name.

        Called inside the gradient tape; the total loss is their sum.
        """
        code = self._encode(x, training)
        logits = self._decode_logits(code, training)
        terms = {"reconstruction": self.reconstruction_loss_per_example(target, logits)}
        return self.with_penalty(terms, self.penalty(x, code, training))

    def with_penalty(self, terms, penalty=0.0):
        """Adds the "penalty" term: ``penalty`` plus ``self.losses``.

        Activity regularizers and weight decay land in ``self.losses`` during
        the forward pass, so call this after it.
        """
        if self.reports_penalty:
            terms["penalty"] = sum(self.losses, penalty)
        return terms

    def reconstruction_loss_per_example(self, target, logits):
        if self.reconstruction_loss == "cross_entropy":
            return bernoulli_cross_entropy(target, logits)
        return squared_error(target, self._output_fn(logits))

    def penalty(self, x, code, training=False):
        """Per-example penalty beyond ``self.losses``; the contractive AE adds one."""
        return 0.0

    # ---------------------------------------------------------------- training
    def compile(self, optimizer="adam", loss=None, **kwargs):
        if loss is not None:
            raise ValueError(
                "aezoo models define their own loss (see reconstruction_loss and "
                "the variant's penalty); call compile(optimizer=...) without loss."
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # Keras skips restoring the compile state of models that override
        # compile(); do what Trainer.compile_from_config does, so a reloaded
        # model comes back compiled with its optimizer state.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        x, target, sample_weight = self._unpack(data)
        with tf.GradientTape() as tape:
            terms = self._reduce_terms(
                self.compute_loss_terms(x, target, training=True), sample_weight
            )
            loss = sum(terms.values())
            # The optimizer sums gradients over replicas, so each replica's
            # loss is divided by their number to average over the global batch.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._record(loss, terms, sample_weight, x)

    def test_step(self, data):
        x, target, sample_weight = self._unpack(data)
        terms = self._reduce_terms(
            self.compute_loss_terms(x, target, training=False), sample_weight
        )
        return self._record(sum(terms.values()), terms, sample_weight, x)

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = self.scaled_inputs(x)
        target = x if y is None else self.scaled_inputs(y, name="y")
        return x, target, sample_weight

    @staticmethod
    def _reduce_terms(terms, sample_weight):
        """Averages per-example terms over the batch (weighted if asked)."""
        reduced = {}
        for name, value in terms.items():
            value = ops.convert_to_tensor(value, "float32")
            if value.shape.rank == 0:
                reduced[name] = value
            elif sample_weight is None:
                reduced[name] = ops.mean(value)
            else:
                weight = ops.cast(ops.reshape(sample_weight, (-1,)), value.dtype)
                reduced[name] = ops.sum(value * weight) / ops.maximum(
                    ops.sum(weight), keras.backend.epsilon()
                )
        return reduced

    def _record(self, loss, terms, sample_weight, x):
        batch = ops.shape(x)[0]
        self.total_loss_tracker.update_state(loss, sample_weight=batch)
        for name, value in terms.items():
            self.term_trackers[name].update_state(value, sample_weight=batch)
        return {metric.name: metric.result() for metric in self.metrics}

    @property
    def metrics(self):
        return [self.total_loss_tracker, *self.term_trackers.values()]

    # ---------------------------------------------------------------- scaling
    def adapt(self, data):
        """Fits the input scaling on ``data`` (array or dataset of batches); returns self."""
        if self.scaler is None:
            raise ValueError("this model has no input_scaling to adapt")
        self.scaler.adapt(data)
        return self

    def target_range(self):
        """(low, high) the loss needs the scaled targets in, or None for any value."""
        return (0.0, 1.0) if self.reconstruction_loss == "cross_entropy" else None

    def check_target_range(self, data, name="x"):
        """Raises ValueError naming the range found when the loss cannot take ``data``.

        ``data`` is an array of raw rows, or a dataset whose first batch is checked.
        """
        needed = self.target_range()
        if needed is None:
            return
        if isinstance(data, tf.data.Dataset):
            batch = next(iter(data.take(1)), None)
            if batch is None:
                return
            data = batch[0] if isinstance(batch, (tuple, list)) else batch
            name = f"the first batch of {name}"
        array = np.asarray(data)
        if array.size == 0:
            return
        if self.scaler is not None:
            array = self.scaler.transform_numpy(array)
        low, high = float(np.min(array)), float(np.max(array))
        # Float32 statistics put min-max-scaled training data a rounding error
        # outside [0, 1]; that is not what this check is for.
        slack = 1e-5
        if low < needed[0] - slack or high > needed[1] + slack:
            scaled = f" after input_scaling={self.input_scaling!r}" if self.scaler else ""
            raise ValueError(
                f"{type(self).__name__}'s {self.reconstruction_loss} loss needs {name} in "
                f"[{needed[0]:g}, {needed[1]:g}]{scaled}, but it lies in [{low:.4g}, "
                f"{high:.4g}]. Use reconstruction_loss='squared_error' with "
                "output_activation='linear' (and input_scaling='standardize') for real-"
                "valued data, or input_scaling='minmax' to map it into [0, 1]."
            )

    # Concrete inputs are checked up front so a bad array fails at once with
    # a plain error rather than inside the compiled step; the scaling is
    # fitted on the first fit's data when ``adapt`` was not called.
    def fit(self, x=None, y=None, *args, **kwargs):
        self._check_concrete(x, "x")
        self._check_concrete(y, "y")
        if self.scaler is not None and not self.scaler.adapted:
            self.scaler.adapt(x)
        self.check_target_range(x if y is None else y, "x" if y is None else "y")
        y = _target_for_weights(x, y, kwargs)
        if distribute.is_explicit(self.distribute_strategy) and isinstance(x, (np.ndarray, list)):
            # Deterministic, disjoint shards per worker (see aezoo.distribute).
            return distribute.fit_on_replicas(super().fit, self, (x, y, *args), kwargs,
                                              seed=self.seed)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_concrete(x, "x")
        self._check_concrete(y, "y")
        return super().evaluate(x, _target_for_weights(x, y, kwargs), *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check_concrete(x, "x")
        return super().predict(x, *args, **kwargs)

    def _check_concrete(self, value, name):
        if isinstance(value, (np.ndarray, list)):
            check_array(value, self.example_shape, name)


def _target_for_weights(x, y, kwargs):
    """``y``, or ``x`` itself when only ``sample_weight`` is given.

    Keras' data adapters drop ``sample_weight`` when ``y`` is None, so
    ``fit(x, sample_weight=w)`` would silently train unweighted.
    """
    if y is None and kwargs.get("sample_weight") is not None:
        return x
    return y


def _example_shape(input_dim, backbone):
    if isinstance(input_dim, (list, tuple)):
        shape = tuple(_positive_int(s, "input_dim entry") for s in input_dim)
    else:
        shape = (_positive_int(input_dim, "input_dim"),)
    if backbone is not None:
        backbone.check_input_shape(shape)
    elif len(shape) != 1:
        raise ValueError(f"input_dim {shape} is image-shaped: pass backbone=ConvBackbone(...) "
                         f"(aezoo.models.backbones), or flatten the images to "
                         f"{int(np.prod(shape))} features.")
    return shape


def _positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
