"""LinearAutoencoder is PCA's twin: same error, same subspace (Baldi & Hornik 1989)."""

import keras
import numpy as np

from aezoo.models import LinearAutoencoder

CODE = 16


def principal_angles_degrees(a, b):
    """Principal angles between the column spaces of a and b."""
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))


def test_linear_autoencoder_reaches_pca(mnist_small):
    x_train, _, x_test, _ = mnist_small
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    components = vt[:CODE].T

    def pca_error(x):
        centred = x - mean
        return float(((centred - centred @ components @ components.T) ** 2).sum(1).mean())

    keras.utils.set_random_seed(0)
    model = LinearAutoencoder(784, latent_dim=CODE, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x_train, epochs=40, batch_size=100, verbose=0)

    test_ratio = float(model.reconstruction_error(x_test).numpy().mean()) / pca_error(x_test)
    assert test_ratio < 1.02, test_ratio
    # PCA is the floor on the data it was fit to: no linear model beats it.
    train_ratio = float(model.reconstruction_error(x_train).numpy().mean()) / pca_error(x_train)
    assert train_ratio > 1.0 - 1e-4, train_ratio
    # The decoder's columns span the top principal subspace.
    decoder_columns = model.decoder_layers[-1].kernel.numpy().T  # (784, CODE)
    angles = principal_angles_degrees(decoder_columns, components)
    assert angles.max() < 10.0, angles
