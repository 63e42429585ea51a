"""SparseAutoencoder: the KL penalty drives the mean code activation to rho."""

import keras
import numpy as np
import pytest

from aezoo.layers import KLSparsityRegularizer
from aezoo.models import SparseAutoencoder


def test_mean_activation_approaches_rho(mnist_small):
    x_train = mnist_small[0]
    keras.utils.set_random_seed(0)
    model = SparseAutoencoder(
        784, latent_dim=196, rho=0.1, beta=3.0, seed=0, reconstruction_loss="squared_error"
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    start = float(model.encode(x_train).numpy().mean())
    model.fit(x_train, epochs=9, batch_size=100, verbose=0)
    unit_means = model.encode(x_train).numpy().mean(axis=0)
    assert start > 0.4  # sigmoid units start near 0.5
    assert abs(unit_means.mean() - 0.1) < 0.025, unit_means.mean()
    assert unit_means.max() < 0.25


def test_penalty_metric_is_beta_times_kl(binary_patterns):
    model = SparseAutoencoder(20, latent_dim=8, rho=0.2, beta=2.0, seed=3)
    model.compile(optimizer="sgd")
    x = binary_patterns[:64]
    logs = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    rho_hat = model.encode(x).numpy().mean(axis=0)
    kl = 0.2 * np.log(0.2 / rho_hat) + 0.8 * np.log(0.8 / (1 - rho_hat))
    assert logs["penalty"] == pytest.approx(2.0 * kl.sum(), rel=1e-4)


def test_regularizer_value_and_validation():
    activations = np.array([[0.1, 0.5], [0.3, 0.5]], "float32")
    regularizer = KLSparsityRegularizer(rho=0.1, beta=3.0)
    rho_hat = np.array([0.2, 0.5])
    expected = 3.0 * np.sum(0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat)))
    assert float(regularizer.penalty(activations)) == pytest.approx(expected, rel=1e-5)
    # Keras divides activity penalties by the batch size; __call__ undoes it.
    assert float(regularizer(activations)) == pytest.approx(2 * expected, rel=1e-5)
    assert KLSparsityRegularizer.from_config(regularizer.get_config()).rho == 0.1
    for bad in (dict(rho=0.0), dict(rho=1.0), dict(beta=-1.0)):
        with pytest.raises(ValueError):
            KLSparsityRegularizer(**bad)
    with pytest.raises(ValueError, match="sigmoid"):
        SparseAutoencoder(20, latent_dim=8, code_activation="relu")
