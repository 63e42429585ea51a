"""The contractive autoencoder (Rifai et al. 2011)."""

import keras

from aezoo.layers.contractive import jacobian_frobenius_norm, sigmoid_dense_jacobian_norm
from aezoo.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aezoo")
class ContractiveAutoencoder(Autoencoder):
    """Adds ``contractive_weight * ||J_f(x)||_F^2``, the encoder Jacobian's norm.

    A single sigmoid code layer (the paper's model) uses the closed form;
    deeper encoders use the batch Jacobian, which costs memory of order
    batch x latent_dim x input_dim.
    """

    has_penalty = True

    def __init__(
        self,
        input_dim,
        hidden_dims=(),
        latent_dim=1000,
        *,
        contractive_weight=0.1,
        code_activation="sigmoid",
        **kwargs,
    ):
        if float(contractive_weight) < 0:
            raise ValueError(
                f"contractive_weight must be >= 0, got {contractive_weight}."
            )
        self.contractive_weight = float(contractive_weight)
        super().__init__(
            input_dim, hidden_dims, latent_dim, code_activation=code_activation, **kwargs
        )

    @property
    def uses_closed_form(self):
        return (not self.hidden_dims and self.code_activation == "sigmoid"
                and self.backbone is None)

    def jacobian_norm(self, x, training=False):
        """||J_f(x)||_F^2 per example, for raw ``x`` (the Jacobian is the scaled input's)."""
        return self._jacobian_norm(self.scaled_inputs(x), training)

    def _jacobian_norm(self, x, training=False):
        if self.uses_closed_form:
            code = self._encode(x, training)
            return sigmoid_dense_jacobian_norm(code, self.encoder_layers[-1].kernel)
        return jacobian_frobenius_norm(lambda inputs: self._encode(inputs, training), x)

    def penalty(self, x, code, training=False):
        if self.uses_closed_form:
            norm = sigmoid_dense_jacobian_norm(code, self.encoder_layers[-1].kernel)
        else:
            norm = self._jacobian_norm(x, training)
        return self.contractive_weight * norm

    def get_config(self):
        return {**super().get_config(), "contractive_weight": self.contractive_weight}
