"""DenoisingAutoencoder: noise in training only, the clean input as target, and it denoises."""

import keras
import numpy as np
import pytest

from aezoo.models import DenoisingAutoencoder
from variants import make_small


def test_corruption_acts_in_training_only(binary_patterns):
    x = binary_patterns[:64]
    model = make_small("denoising", noise="masking", noise_level=0.5)
    corruption = model.encoder_layers[0]
    clean = np.asarray(corruption(x, training=False))
    np.testing.assert_array_equal(clean, x)
    noisy = np.asarray(corruption(x, training=True))
    # Masking zeroes about half the inputs (here: of the ones; zeros stay zero).
    zeroed = (x == 1) & (noisy == 0)
    assert noisy[x == 0].max() == 0 and zeroed.sum() / (x == 1).sum() == pytest.approx(0.5,
                                                                                        abs=0.08)
    # encode, call and predict see the clean input; the training forward pass does not.
    without_noise = x
    for layer in model.encoder_layers[1:]:
        without_noise = layer(without_noise)
    np.testing.assert_allclose(model.encode(x), without_noise, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), model(x), rtol=1e-6)
    assert not np.allclose(model.encode(x, training=True), model.encode(x))


def test_training_reconstructs_the_clean_input_and_denoises(binary_patterns):
    # Against the clean target the model learns to fill in masked pixels; a
    # model trained towards its corrupted input would learn about the identity
    # and could not beat leaving the corrupted input as it is.
    keras.utils.set_random_seed(0)
    x = binary_patterns
    model = DenoisingAutoencoder(20, (32,), 8, noise="masking", noise_level=0.3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=40, batch_size=32, verbose=0)
    corrupted = x * (np.random.default_rng(1).uniform(size=x.shape) >= 0.3)
    identity_error = np.mean(np.sum((corrupted - x) ** 2, axis=1))
    denoised = model.predict(corrupted.astype("float32"), verbose=0)
    denoised_error = np.mean(np.sum((denoised - x) ** 2, axis=1))
    assert denoised_error < 0.5 * identity_error, (denoised_error, identity_error)
