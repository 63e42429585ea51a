"""Latent priors for the variational autoencoder, as tfp distributions.

Each prior is a Keras layer (so a learnable one's weights train and save with
the model) with a ``distribution()`` method; they are not called like layers
because their output is a distribution, not a tensor.
"""

import keras
import tensorflow_probability as tfp
from keras import ops

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="aezoo")
class StandardNormalPrior(keras.layers.Layer):
    """p(z) = N(0, I)."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.built = True

    def distribution(self):
        zeros = ops.zeros((self.latent_dim,))
        return tfd.Independent(tfd.Normal(zeros, 1.0), reinterpreted_batch_ndims=1)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@keras.saving.register_keras_serializable(package="aezoo")
class GaussianMixturePrior(keras.layers.Layer):
    """A learnable mixture of ``components`` diagonal Gaussians.

    Means start spread as N(0, 1) draws, scales at 1 and weights uniform, so
    training starts near the standard normal prior's behaviour.
    """

    def __init__(self, latent_dim, components=10, seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(components) < 1:
            raise ValueError(f"components must be >= 1, got {components}.")
        self.latent_dim = int(latent_dim)
        self.components = int(components)
        self.seed = seed
        shape = (self.components, self.latent_dim)
        self.logits = self.add_weight(
            shape=(self.components,), initializer="zeros", name="logits"
        )
        self.locs = self.add_weight(
            shape=shape,
            initializer=keras.initializers.RandomNormal(seed=seed),
            name="locs",
        )
        # softplus(0.5413) = 1.0: unit scales at the start.
        self.raw_scales = self.add_weight(
            shape=shape,
            initializer=keras.initializers.Constant(0.5413),
            name="raw_scales",
        )
        self.built = True

    def distribution(self):
        scales = ops.softplus(self.raw_scales) + 1e-4
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=self.logits),
            components_distribution=tfd.Independent(
                tfd.Normal(self.locs, scales), reinterpreted_batch_ndims=1
            ),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "components": self.components,
            "seed": self.seed,
        }


PRIORS = {"standard_normal": StandardNormalPrior, "mixture": GaussianMixturePrior}
