"""Greedy layer-wise pretraining (Hinton & Salakhutdinov 2006; Vincent et al. 2010).

Each layer is trained on the codes of the layer below, bottom-up. A layer is
either an ``RBM`` or a ``DenoisingLayer`` (a one-hidden-layer denoising
autoencoder); both expose ``kernel``, ``hidden_bias``, ``visible_bias``,
``visible``, ``hidden`` and ``transform``, which is all ``unroll`` needs.

With ``checkpoint_dir``, every finished layer and every finished epoch of the
current layer is saved, and a rerun with the same arguments resumes from the
last of them instead of starting over.
"""

import json
import os

import keras
import numpy as np

from aezoo import distribute
from aezoo.models import DenoisingAutoencoder
from aezoo.validation import check_array
from pretrain.rbm import RBM

METHODS = ("rbm", "dae")


def greedy_pretrain(
    x,
    hidden_dims,
    epochs=10,
    *,
    method="rbm",
    batch_size=100,
    linear_top=True,
    top_learning_rate=0.001,
    noise_level=0.25,
    validation_data=None,
    checkpoint_dir=None,
    seed=0,
    verbose=2,
    **settings,
):
    """Trains a stack of layers bottom-up and returns them, bottom first.

    Args:
        x: training data, (N, D) in [0, 1] for binary visible units.
        hidden_dims: widths of the stack, e.g. (1000, 500, 250, 30).
        epochs: epochs per layer (the paper: 50; the released code: 10).
        method: "rbm" (contrastive divergence) or "dae" (denoising autoencoder
            with masking noise ``noise_level``, Vincent et al. 2010).
        linear_top: the top RBM has linear hidden units (the code layer),
            trained at ``top_learning_rate``.
        validation_data: held-out data, for the free-energy gap and
            validation error of each layer.
        checkpoint_dir: where to save finished layers and epochs, and to
            resume from.
        seed: base seed; layer i uses seed + i.
        **settings: passed to every ``RBM`` (learning_rate, weight_cost,
            cd_steps, momentum...).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    hidden_dims = tuple(hidden_dims)
    if not hidden_dims:
        raise ValueError("hidden_dims is empty: give at least one layer width.")
    for width in hidden_dims:
        if isinstance(width, bool) or int(width) != width or width < 1:
            raise ValueError(f"layer widths must be positive integers, got {hidden_dims}.")
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    x = check_array(x, np.shape(x)[-1]).astype("float32", copy=False)
    if validation_data is not None:
        validation_data = check_array(validation_data, x.shape[1], "validation_data")
    if method == "rbm" and (x.min() < 0 or x.max() > 1):
        raise ValueError("x must lie in [0, 1] for the bottom RBM's binary visible units.")
    checkpoints = _Checkpoints(checkpoint_dir, hidden_dims, method, epochs)

    layers = []
    data, held_out = x, validation_data
    for index, width in enumerate(hidden_dims):
        top = index == len(hidden_dims) - 1
        if verbose:
            print(f"[pretrain] layer {index + 1}/{len(hidden_dims)} ({method}): "
                  f"{data.shape[1]} -> {width}", flush=True)
        layer = checkpoints.load_layer(index)
        if layer is None:
            layer, first_epoch = checkpoints.load_partial(index)
            if layer is None:
                layer = _make_layer(method, width, top and linear_top, top_learning_rate,
                                    noise_level, seed + index, data.shape[1], settings)
            elif verbose:
                print(f"[pretrain] resuming layer {index + 1} at epoch {first_epoch + 1}",
                      flush=True)
            layer.fit(
                data,
                epochs=int(epochs),
                batch_size=batch_size,
                validation_data=held_out,
                callbacks=checkpoints.epoch_callbacks(index),
                initial_epoch=first_epoch,
                verbose=verbose,
            )
            checkpoints.save_layer(index, layer)
        elif verbose:
            print(f"[pretrain] layer {index + 1} loaded from {checkpoints.directory}",
                  flush=True)
        layers.append(layer)
        if not top:
            data = layer.transform(data)
            held_out = None if held_out is None else layer.transform(held_out)
    return layers


def _make_layer(method, width, linear, top_learning_rate, noise_level, seed, n_visible,
                settings):
    if method == "rbm":
        kwargs = dict(settings)
        if linear:
            kwargs.update(hidden="linear", learning_rate=top_learning_rate)
        return RBM(width, seed=seed, **kwargs)
    return DenoisingLayer(n_visible, width, noise_level=noise_level, linear=linear,
                          seed=seed, **settings)


class DenoisingLayer:
    """One stacked denoising-autoencoder layer with the RBM's stacking interface.

    Trains a ``DenoisingAutoencoder`` with tied weights (Vincent et al. 2010),
    sigmoid codes (linear for the top code layer) and masking noise.
    """

    visible = "binary"

    def __init__(self, n_visible, n_hidden, noise_level=0.25, linear=False, seed=0,
                 learning_rate=1e-3, model=None):
        self.hidden = "linear" if linear else "binary"
        self.learning_rate = learning_rate
        self.model = model or DenoisingAutoencoder(
            n_visible, (), n_hidden, noise="masking", noise_level=noise_level,
            code_activation=None if linear else "sigmoid", tied=True, seed=seed,
        )
        self.n_visible, self.n_hidden = n_visible, n_hidden

    def fit(self, x, epochs, batch_size, validation_data=None, callbacks=None,
            initial_epoch=0, verbose=2):
        if not self.model.compiled:
            self.model.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        for callback in callbacks or []:
            callback.layer = self
        return self.model.fit(
            x, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
            callbacks=callbacks, initial_epoch=initial_epoch, verbose=verbose,
        )

    def transform(self, x, batch_size=1000):
        codes = [self.model.encode(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate([np.asarray(c) for c in codes])

    @property
    def kernel(self):
        return self.model.encoder_layers[-1].kernel

    @property
    def hidden_bias(self):
        return self.model.encoder_layers[-1].bias

    @property
    def visible_bias(self):
        return self.model.decoder_layers[-1].bias

    def save(self, path):
        self.model.save(path)

    @classmethod
    def load(cls, path):
        model = keras.models.load_model(path)
        return cls(model.input_dim, model.latent_dim,
                   linear=model.code_activation is None, model=model)


class _Checkpoints:
    """Files under ``checkpoint_dir``: layer_<i>.keras when done, plus the current epoch."""

    def __init__(self, directory, hidden_dims, method, epochs):
        self.directory = directory
        if directory is None:
            return
        os.makedirs(directory, exist_ok=True)
        manifest_path = os.path.join(directory, "stack.json")
        manifest = {"hidden_dims": list(hidden_dims), "method": method}
        if os.path.exists(manifest_path):
            with open(manifest_path) as handle:
                found = json.load(handle)
            if found != manifest:
                raise ValueError(
                    f"{manifest_path} holds a different stack {found}; use another "
                    f"checkpoint_dir or remove it to train {manifest}."
                )
        elif distribute.is_chief():  # on a cluster, in the strategy's scope
            with open(manifest_path, "w") as handle:
                json.dump(manifest, handle)
        self.method = method

    def _path(self, index, partial=False):
        suffix = "_partial" if partial else ""
        return os.path.join(self.directory, f"layer_{index}{suffix}.keras")

    def _load(self, path):
        if self.method == "rbm":
            return keras.models.load_model(path)
        return DenoisingLayer.load(path)

    def load_layer(self, index):
        if self.directory is None or not os.path.exists(self._path(index)):
            return None
        return self._load(self._path(index))

    def load_partial(self, index):
        """The layer saved after its last finished epoch, and that epoch count."""
        if self.directory is None or not os.path.exists(self._path(index, True)):
            return None, 0
        with open(self._path(index, True) + ".epoch") as handle:
            return self._load(self._path(index, True)), int(handle.read())

    def epoch_callbacks(self, index):
        if self.directory is None:
            return []
        return [EpochCheckpoint(self._path(index, True))]

    def save_layer(self, index, layer):
        if self.directory is None:
            return
        _atomic_save(layer, self._path(index))
        for leftover in (self._path(index, True), self._path(index, True) + ".epoch"):
            if os.path.exists(leftover):
                os.remove(leftover)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model (or layer) being trained and the number of finished epochs.

    ``load_epoch_checkpoint(path)`` reads both back, to resume with
    ``fit(..., initial_epoch=epochs)``.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.layer = None  # a DenoisingLayer sets itself; RBMs are the model

    def on_epoch_end(self, epoch, logs=None):
        if not _is_chief(self.layer or self.model):
            return
        _atomic_save(self.layer or self.model, self.path)
        with open(self.path + ".epoch.tmp", "w") as handle:
            handle.write(str(epoch + 1))
        os.replace(self.path + ".epoch.tmp", self.path + ".epoch")


def load_epoch_checkpoint(path):
    """The model saved by ``EpochCheckpoint`` at ``path`` and its finished epochs.

    Returns ``(None, 0)`` when there is no checkpoint yet.
    """
    if not os.path.exists(path) or not os.path.exists(path + ".epoch"):
        return None, 0
    with open(path + ".epoch") as handle:
        return keras.models.load_model(path), int(handle.read())


def _is_chief(layer):
    """Whether this process writes ``layer``'s files: on a cluster, the chief only."""
    model = layer.model if isinstance(layer, DenoisingLayer) else layer
    return distribute.is_chief(model.distribute_strategy)


def _atomic_save(layer, path):
    if not _is_chief(layer):
        return
    # Write then rename, so an interruption never leaves a half-written file.
    temporary = path[: -len(".keras")] + ".tmp.keras"
    layer.save(temporary)
    os.replace(temporary, path)
