"""The shared building blocks: corruption, tied decoders, reconstruction losses."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aezoo.layers import (
    AdditiveGaussianNoise,
    MaskingNoise,
    SaltAndPepperNoise,
    TiedDense,
    bernoulli_cross_entropy,
    make_corruption,
    squared_error,
)
from aezoo.models import DeepAutoencoder

X = np.full((200, 50), 0.5, "float32")


@pytest.mark.parametrize("layer_class", [MaskingNoise, AdditiveGaussianNoise, SaltAndPepperNoise])
def test_corruption_only_in_training(layer_class):
    layer = layer_class(0.3, seed=0)
    np.testing.assert_array_equal(layer(X), X)
    np.testing.assert_array_equal(layer(X, training=False), X)
    assert not np.array_equal(layer(X, training=True), X)
    assert layer_class.from_config(layer.get_config()).level == 0.3


def test_masking_zeroes_the_given_fraction():
    corrupted = MaskingNoise(0.3, seed=0)(X, training=True).numpy()
    assert set(np.unique(corrupted)) == {0.0, 0.5}
    assert np.mean(corrupted == 0) == pytest.approx(0.3, abs=0.02)


def test_salt_and_pepper_sets_zeros_and_ones_evenly():
    corrupted = SaltAndPepperNoise(0.4, seed=0)(X, training=True).numpy()
    assert set(np.unique(corrupted)) == {0.0, 0.5, 1.0}
    assert np.mean(corrupted != 0.5) == pytest.approx(0.4, abs=0.02)
    assert np.mean(corrupted == 1.0) == pytest.approx(0.2, abs=0.02)


def test_gaussian_noise_has_the_given_stddev():
    corrupted = AdditiveGaussianNoise(0.2, seed=0)(X, training=True).numpy()
    assert np.std(corrupted - X) == pytest.approx(0.2, rel=0.05)


def test_corruption_arguments_are_checked():
    with pytest.raises(ValueError, match="noise level"):
        MaskingNoise(1.5)
    with pytest.raises(ValueError, match="unknown noise"):
        make_corruption("pink", 0.1)


def test_tied_decoder_shares_the_transposed_kernel(binary_patterns):
    tied = DeepAutoencoder(20, (12,), 4, tied=True, seed=0)
    untied = DeepAutoencoder(20, (12,), 4, seed=0)
    assert tied.count_params() == untied.count_params() - (20 * 12 + 12 * 4)
    assert all(isinstance(layer, TiedDense) for layer in tied.decoder_layers)
    output = tied.decoder_layers[-1]
    assert output.tied_to is tied.encoder_layers[0]
    code = tied.encode(binary_patterns[:3])
    hidden = tied.decoder_layers[0](code)
    expected = hidden.numpy() @ tied.encoder_layers[0].kernel.numpy().T + output.bias.numpy()
    np.testing.assert_allclose(output(hidden), expected, rtol=1e-5)
    # Training the tied pair moves the one shared kernel.
    before = tied.encoder_layers[0].kernel.numpy().copy()
    tied.compile(optimizer="adam")
    tied.fit(binary_patterns, epochs=1, verbose=0)
    assert not np.allclose(before, tied.encoder_layers[0].kernel.numpy())


def test_tied_dense_checks_its_partner():
    with pytest.raises(TypeError, match="Dense"):
        TiedDense(keras.layers.ReLU())
    dense = keras.layers.Dense(3)
    dense.build((None, 5))
    with pytest.raises(ValueError, match="takes 3 features"):
        TiedDense(dense).build((None, 4))


def test_losses_are_per_example_sums():
    target = np.array([[0.0, 1.0, 0.5]], "float32")
    logits = np.array([[-2.0, 3.0, 0.0]], "float32")
    p = 1 / (1 + np.exp(-logits))
    expected = -(target * np.log(p) + (1 - target) * np.log(1 - p)).sum(axis=1)
    np.testing.assert_allclose(bernoulli_cross_entropy(target, logits), expected, rtol=1e-5)
    np.testing.assert_allclose(squared_error(target, p), ((target - p) ** 2).sum(1), rtol=1e-6)
    # Logits keep the cross-entropy finite where probabilities would saturate.
    extreme = bernoulli_cross_entropy(np.array([[1.0, 0.0]]), np.array([[-200.0, 200.0]]))
    np.testing.assert_allclose(extreme, [400.0], rtol=1e-6)
    assert tf.reduce_all(tf.math.is_finite(extreme))
