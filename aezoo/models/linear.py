"""The linear autoencoder: PCA's twin (Bourlard & Kamp 1988; Baldi & Hornik 1989)."""

import keras

from aezoo.models.base import Autoencoder

# Set by the class itself, so neither accepted nor saved.
FIXED = ("activation", "code_activation", "output_activation", "reconstruction_loss")


@keras.saving.register_keras_serializable(package="aezoo")
class LinearAutoencoder(Autoencoder):
    """Linear units and squared error everywhere.

    Its only minimum projects onto the top ``latent_dim`` principal subspace,
    so trained to convergence it matches PCA's reconstruction error, and no
    linear model can beat that.
    """

    def __init__(self, input_dim, hidden_dims=(), latent_dim=30, **kwargs):
        for fixed in FIXED:
            if fixed in kwargs:
                raise ValueError(f"LinearAutoencoder fixes {fixed}; do not pass it.")
        super().__init__(
            input_dim,
            hidden_dims,
            latent_dim,
            activation=None,
            code_activation=None,
            output_activation="linear",
            reconstruction_loss="squared_error",
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        for fixed in FIXED:
            config.pop(fixed)
        return config
