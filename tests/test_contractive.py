"""The contractive penalty: closed form == batch Jacobian == finite differences."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aezoo.layers import jacobian_frobenius_norm, sigmoid_dense_jacobian_norm
from aezoo.models import ContractiveAutoencoder


def finite_difference_norm(function, x, step=1e-3):
    """||J||_F^2 per example by central differences, in float64."""
    norms = []
    for row in x.astype("float64"):
        columns = []
        for i in range(row.size):
            plus, minus = row.copy(), row.copy()
            plus[i] += step
            minus[i] -= step
            columns.append((function(plus[None]) - function(minus[None]))[0] / (2 * step))
        norms.append(np.sum(np.square(columns)))
    return np.array(norms)


def test_closed_form_matches_jacobian_and_finite_differences(binary_patterns):
    model = ContractiveAutoencoder(20, latent_dim=6, contractive_weight=0.5, seed=0)
    assert model.uses_closed_form
    x = binary_patterns[:4]
    encoder = lambda inputs: model._encode(tf.cast(inputs, "float32")).numpy()  # noqa: E731
    closed = sigmoid_dense_jacobian_norm(model.encode(x), model.encoder_layers[-1].kernel)
    general = jacobian_frobenius_norm(model._encode, tf.constant(x))
    numeric = finite_difference_norm(encoder, x)
    np.testing.assert_allclose(closed, general, rtol=1e-5)
    np.testing.assert_allclose(closed, numeric, rtol=1e-3)
    # The model's penalty is lambda times the norm.
    penalty = model.penalty(tf.constant(x), model.encode(x))
    np.testing.assert_allclose(penalty, 0.5 * np.asarray(closed), rtol=1e-6)


def test_deep_encoder_uses_the_jacobian(binary_patterns):
    model = ContractiveAutoencoder(20, hidden_dims=(12,), latent_dim=5, seed=0)
    assert not model.uses_closed_form
    x = binary_patterns[:3]
    encoder = lambda inputs: model._encode(tf.cast(inputs, "float32")).numpy()  # noqa: E731
    np.testing.assert_allclose(
        model.jacobian_norm(tf.constant(x)), finite_difference_norm(encoder, x), rtol=1e-3
    )
    model.compile(optimizer="adam")
    history = model.fit(x, epochs=2, verbose=0)
    assert np.isfinite(history.history["penalty"]).all()


def test_conv_encoder_uses_the_jacobian_over_every_pixel(binary_patterns):
    from aezoo.models.backbones import ConvBackbone

    model = ContractiveAutoencoder((5, 4, 1), latent_dim=3, seed=0,
                                   backbone=ConvBackbone(filters=(2,), activation="tanh"))
    assert not model.uses_closed_form
    x = binary_patterns[:2].reshape(2, 5, 4, 1)
    encoder = lambda inputs: model._encode(  # noqa: E731
        tf.cast(tf.reshape(inputs, (-1, 5, 4, 1)), "float32")).numpy()
    np.testing.assert_allclose(model.jacobian_norm(tf.constant(x)),
                               finite_difference_norm(encoder, x.reshape(2, 20)), rtol=1e-3)


def test_penalty_shrinks_the_jacobian(binary_patterns):
    norms = {}
    for weight in (0.0, 1.0):
        keras.utils.set_random_seed(0)
        model = ContractiveAutoencoder(20, latent_dim=30, contractive_weight=weight, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(binary_patterns, epochs=10, batch_size=32, verbose=0)
        norms[weight] = float(np.mean(model.jacobian_norm(tf.constant(binary_patterns))))
    assert norms[1.0] < 0.5 * norms[0.0], norms


def test_rejects_negative_weight():
    with pytest.raises(ValueError, match="contractive_weight"):
        ContractiveAutoencoder(20, latent_dim=5, contractive_weight=-1)
