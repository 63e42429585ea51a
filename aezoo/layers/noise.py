"""Corruption layers for denoising autoencoders (Vincent et al. 2008, 2010).

Each corrupts its input in training only and is the identity at inference, so
a denoising model's ``encode`` and ``call`` see clean input.
"""

import keras
from keras import ops


class _Corruption(keras.layers.Layer):
    """Shared plumbing: a noise level in [0, 1], a seed, identity at inference."""

    def __init__(self, level, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(level) <= 1.0:
            raise ValueError(f"noise level must be in [0, 1], got {level}.")
        self.level = float(level)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if training and self.level > 0.0:
            return self.corrupt(inputs)
        return inputs

    def corrupt(self, inputs):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "level": self.level, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aezoo")
class MaskingNoise(_Corruption):
    """Sets a random fraction ``level`` of the inputs to zero."""

    def corrupt(self, inputs):
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        return ops.where(keep >= self.level, inputs, ops.zeros_like(inputs))


@keras.saving.register_keras_serializable(package="aezoo")
class AdditiveGaussianNoise(_Corruption):
    """Adds isotropic Gaussian noise with standard deviation ``level``."""

    def corrupt(self, inputs):
        noise = keras.random.normal(
            ops.shape(inputs), stddev=self.level, seed=self.seed_generator
        )
        return inputs + ops.cast(noise, inputs.dtype)


@keras.saving.register_keras_serializable(package="aezoo")
class SaltAndPepperNoise(_Corruption):
    """Sets a random fraction ``level`` of the inputs to 0 or 1 with equal odds."""

    def corrupt(self, inputs):
        shape = ops.shape(inputs)
        hit = keras.random.uniform(shape, seed=self.seed_generator) < self.level
        salt = keras.random.uniform(shape, seed=self.seed_generator) < 0.5
        value = ops.cast(salt, inputs.dtype)
        return ops.where(hit, value, inputs)


CORRUPTIONS = {
    "masking": MaskingNoise,
    "gaussian": AdditiveGaussianNoise,
    "salt_and_pepper": SaltAndPepperNoise,
}


def make_corruption(kind, level, seed=None):
    """Builds the corruption layer named ``kind`` (one of ``CORRUPTIONS``)."""
    if kind not in CORRUPTIONS:
        raise ValueError(
            f"unknown noise {kind!r}; choose one of {sorted(CORRUPTIONS)}."
        )
    return CORRUPTIONS[kind](level, seed=seed, name=f"{kind}_noise")
