"""Reconstruction metrics and the PCA baseline, in NumPy.

"Squared error per image" follows Hinton & Salakhutdinov (2006): the sum over
the pixels of (x - x_hat)^2, averaged over the images. PCA with the same number
of components as an autoencoder's code is the baseline that a linear
autoencoder matches and a deep one should beat.

Nothing here imports TensorFlow: ``squared_error_per_image`` calls the model it
is given, and the PCA helpers are plain NumPy (no scikit-learn).
"""

import numpy as np


def squared_error_per_image(model_or_fn, x, batch_size=1000):
    """Mean over the rows of ``x`` of sum_i (x_i - x_hat_i)^2.

    ``model_or_fn`` is a model with a Keras-style ``predict(x, batch_size=,
    verbose=)`` (called once; it batches internally) or any callable mapping a
    (batch, features) array to its reconstruction, called on chunks of
    ``batch_size`` rows. Returns a Python float.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            f"x must be a non-empty (images, features) or (images, height, width, channels) "
            f"array, got shape {x.shape}."
        )
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    predict = getattr(model_or_fn, "predict", None)
    if callable(predict):
        return mean_squared_error(x, np.asarray(predict(x, batch_size=batch_size, verbose=0)))
    if not callable(model_or_fn):
        raise TypeError("model_or_fn must have a predict method or be callable.")
    total = 0.0
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size]
        reconstruction = np.asarray(model_or_fn(chunk))
        total += mean_squared_error(chunk, reconstruction) * len(chunk)
    return total / len(x)


def mean_squared_error(x, reconstruction):
    """Mean over the rows of sum (x - reconstruction)^2 over each row's features or pixels."""
    if reconstruction.shape != x.shape:
        raise ValueError(
            f"the reconstruction has shape {reconstruction.shape}, expected {x.shape}."
        )
    diff = (x.astype(np.float64) - reconstruction.astype(np.float64)).reshape(len(x), -1)
    return float(np.mean(np.sum(diff * diff, axis=1)))


def fit_pca(x, n_components):
    """The mean and the top ``n_components`` principal directions of ``x``.

    Eigendecomposition of the (features x features) covariance, in float64.
    Returns ``(mean, components)``: ``mean`` of shape (features,) and
    ``components`` of shape (n_components, features) with orthonormal rows,
    in order of decreasing variance (each row's sign is arbitrary).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(
            f"x must be an (examples, features) array with >= 2 rows, got shape {x.shape}."
        )
    n_components = int(n_components)
    if not 1 <= n_components <= x.shape[1]:
        raise ValueError(
            f"n_components must be in [1, {x.shape[1]}] (the number of features), "
            f"got {n_components}."
        )
    mean = x.mean(axis=0)
    # Accumulate the scatter matrix in chunks so a 60000 x 784 float64 copy
    # of the centred data is never made.
    scatter = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), 10000):
        centred = x[start : start + 10000] - mean
        scatter += centred.T @ centred
    covariance = scatter / (len(x) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending order
    components = eigenvectors[:, ::-1][:, :n_components].T
    return mean, np.ascontiguousarray(components)


def pca_reconstruct(x, mean, components):
    """Projects ``x`` onto the PCA subspace and maps it back: mean + (x - mean) C^T C."""
    centred = np.asarray(x, dtype=np.float64) - mean
    return mean + (centred @ components.T) @ components


def pca_baseline(x_train, x_test, n_components):
    """Squared error per image on ``x_test`` of PCA with ``n_components`` fit on ``x_train``."""
    mean, components = fit_pca(x_train, n_components)
    x_test = np.asarray(x_test, dtype=np.float64)
    total = 0.0
    for start in range(0, len(x_test), 10000):
        chunk = x_test[start : start + 10000]
        diff = chunk - pca_reconstruct(chunk, mean, components)
        total += float(np.sum(diff * diff))
    return total / len(x_test)


def error_percent(predicted, labels):
    """Classification error in %, as a count over a count: 140 of 10,000 reads 1.4, not 1.4000000000000001."""
    return 100.0 * int(np.sum(np.asarray(predicted) != np.asarray(labels))) / len(labels)
