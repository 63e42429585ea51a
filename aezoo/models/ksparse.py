"""The k-sparse autoencoder (Makhzani & Frey 2013)."""

import keras

from aezoo.layers.ksparse import KSparse
from aezoo.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aezoo")
class KSparseAutoencoder(Autoencoder):
    """A linear code of which only the top ``k`` units per example survive.

    Training keeps k units (annealed from ``k_start`` over ``anneal_steps``
    steps); ``encode`` and inference keep ``alpha * k``. Tied weights by
    default, as in the paper.
    """

    def __init__(
        self,
        input_dim,
        hidden_dims=(),
        latent_dim=1000,
        *,
        k=25,
        alpha=3.0,
        k_start=None,
        anneal_steps=0,
        tied=True,
        **kwargs,
    ):
        self.k_sparse = KSparse(
            k, alpha=alpha, k_start=k_start, anneal_steps=anneal_steps, name="k_sparse"
        )
        super().__init__(input_dim, hidden_dims, latent_dim, tied=tied, **kwargs)

    def _make_encoder_layers(self):
        return [*super()._make_encoder_layers(), self.k_sparse]

    def get_config(self):
        layer = self.k_sparse
        return {
            **super().get_config(),
            "k": layer.k,
            "alpha": layer.alpha,
            "k_start": layer.k_start,
            "anneal_steps": layer.anneal_steps,
        }
