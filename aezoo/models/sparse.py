"""The KL-sparse autoencoder (Ng, CS294A notes)."""

import keras

from aezoo.layers.regularizers import KLSparsityRegularizer
from aezoo.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aezoo")
class SparseAutoencoder(Autoencoder):
    """Sigmoid code units whose mean activation is pulled towards ``rho``.

    The penalty beta * sum_j KL(rho || mean activation_j) is the code layer's
    activity regularizer and is reported as the ``penalty`` metric.
    Defaults follow the UFLDL MNIST exercise: 784-196-784, rho 0.1, beta 3.
    """

    has_penalty = True

    def __init__(
        self,
        input_dim,
        hidden_dims=(),
        latent_dim=196,
        *,
        rho=0.1,
        beta=3.0,
        **kwargs,
    ):
        if kwargs.get("code_activation", "sigmoid") != "sigmoid":
            raise ValueError("the KL sparsity penalty needs sigmoid code units.")
        kwargs["code_activation"] = "sigmoid"
        self.sparsity = KLSparsityRegularizer(rho, beta)
        super().__init__(input_dim, hidden_dims, latent_dim, **kwargs)

    def code_activity_regularizer(self):
        return self.sparsity

    def get_config(self):
        return {**super().get_config(), "rho": self.sparsity.rho, "beta": self.sparsity.beta}
