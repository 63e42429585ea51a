"""Activity regularizers: penalties on a layer's activations."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="aezoo")
class KLSparsityRegularizer(keras.regularizers.Regularizer):
    """beta * sum_j KL(rho || rho_hat_j), rho_hat_j = mean activation of unit j.

    The sparse autoencoder penalty of Ng's CS294A notes. Activations must lie in
    (0, 1) (sigmoid units); the batch mean is clipped away from 0 and 1 so the
    logarithms stay finite.
    """

    def __init__(self, rho=0.1, beta=3.0):
        if not 0.0 < float(rho) < 1.0:
            raise ValueError(f"rho must be in (0, 1), got {rho}.")
        if float(beta) < 0.0:
            raise ValueError(f"beta must be >= 0, got {beta}.")
        self.rho = float(rho)
        self.beta = float(beta)

    def __call__(self, activations):
        # Keras 3 divides an activity regularizer's value by the batch size
        # (keras/src/layers/layer.py), which suits per-example penalties. This
        # one is already a batch statistic, so undo the division: the loss
        # then gains exactly beta * sum_j KL(rho || rho_hat_j).
        batch = ops.cast(ops.shape(activations)[0], activations.dtype)
        return self.penalty(activations) * batch

    def penalty(self, activations):
        """beta * sum_j KL(rho || rho_hat_j) for a batch of activations."""
        eps = keras.backend.epsilon()
        rho_hat = ops.clip(ops.mean(activations, axis=0), eps, 1.0 - eps)
        rho = self.rho
        kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log(
            (1.0 - rho) / (1.0 - rho_hat)
        )
        return self.beta * ops.sum(kl)

    def get_config(self):
        return {"rho": self.rho, "beta": self.beta}
