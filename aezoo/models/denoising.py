"""The denoising autoencoder (Vincent et al. 2008, 2010)."""

import keras

from aezoo.layers.noise import make_corruption
from aezoo.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aezoo")
class DenoisingAutoencoder(Autoencoder):
    """Corrupts its input in training and learns to reconstruct the clean input.

    ``noise`` is "masking" (zero a fraction ``noise_level`` of the inputs),
    "gaussian" (additive, standard deviation ``noise_level``) or
    "salt_and_pepper". The corruption is the first encoder layer and is
    active only with ``training=True``, so ``fit(x)`` needs no noisy copy of
    the data and ``encode``/``predict`` see clean inputs.
    """

    def __init__(
        self,
        input_dim,
        hidden_dims=(),
        latent_dim=1000,
        *,
        noise="masking",
        noise_level=0.25,
        code_activation="sigmoid",
        **kwargs,
    ):
        self.noise = noise
        self.noise_level = float(noise_level)
        super().__init__(
            input_dim, hidden_dims, latent_dim, code_activation=code_activation, **kwargs
        )

    def _make_encoder_layers(self):
        corruption = make_corruption(self.noise, self.noise_level, seed=self.seed)
        return [corruption, *super()._make_encoder_layers()]

    def get_config(self):
        return {
            **super().get_config(),
            "noise": self.noise,
            "noise_level": self.noise_level,
        }
