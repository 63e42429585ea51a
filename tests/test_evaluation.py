"""Tests for aezoo.evaluation (squared error, NumPy PCA) and aezoo.plotting."""

import numpy as np
import pytest
from PIL import Image

from aezoo.evaluation import fit_pca, pca_baseline, pca_reconstruct, squared_error_per_image
from aezoo.plotting import image_grid


def correlated_data(n, features=20, seed=0):
    """Data with a decaying spectrum, so the top components are well separated."""
    rng = np.random.default_rng(seed)
    scales = 2.0 ** -np.arange(features)
    rotation, _ = np.linalg.qr(rng.normal(size=(features, features)))
    return (rng.normal(size=(n, features)) * scales) @ rotation.T + rng.normal(size=features)


# --------------------------------------------------------------------- PCA
@pytest.mark.parametrize("n_components", [1, 3, 7])
def test_pca_matches_sklearn(n_components):
    from sklearn.decomposition import PCA

    x_train, x_test = correlated_data(500, seed=0), correlated_data(200, seed=1)
    mean, components = fit_pca(x_train, n_components)
    reference = PCA(n_components=n_components, svd_solver="full").fit(x_train)

    np.testing.assert_allclose(mean, reference.mean_, atol=1e-10)
    # Same directions up to sign.
    overlaps = np.abs(np.sum(components * reference.components_, axis=1))
    np.testing.assert_allclose(overlaps, 1.0, atol=1e-8)
    np.testing.assert_allclose(components @ components.T, np.eye(n_components), atol=1e-10)

    expected = np.mean(
        np.sum((x_test - reference.inverse_transform(reference.transform(x_test))) ** 2, axis=1)
    )
    assert pca_baseline(x_train, x_test, n_components) == pytest.approx(expected, rel=1e-9)


def test_pca_with_every_component_is_exact():
    x = correlated_data(100, features=6)
    assert pca_baseline(x, x[:10], 6) == pytest.approx(0.0, abs=1e-20)
    mean, components = fit_pca(x, 6)
    np.testing.assert_allclose(pca_reconstruct(x, mean, components), x, atol=1e-10)


def test_pca_error_falls_with_more_components():
    x_train, x_test = correlated_data(300, seed=2), correlated_data(100, seed=3)
    errors = [pca_baseline(x_train, x_test, k) for k in (1, 2, 5, 10)]
    assert all(a > b for a, b in zip(errors, errors[1:]))


@pytest.mark.parametrize("n_components", [0, 21])
def test_pca_rejects_bad_component_counts(n_components):
    with pytest.raises(ValueError, match="n_components"):
        fit_pca(correlated_data(50), n_components)


# ------------------------------------------------------------ squared error
def test_squared_error_known_case_with_a_function():
    x = np.zeros((3, 4), dtype=np.float32)
    x[0, 0] = 1.0
    x[1, :] = 0.5

    def reconstruct(batch):
        return np.zeros_like(batch)

    # Per image: 1, 4 * 0.25 = 1, 0 -> mean 2 / 3, whatever the batching.
    for batch_size in (1, 2, 3, 1000):
        error = squared_error_per_image(reconstruct, x, batch_size=batch_size)
        assert error == pytest.approx(2 / 3)
    assert squared_error_per_image(lambda batch: batch, x) == 0.0


def test_squared_error_uses_predict_when_there_is_one():
    class Model:
        calls = []

        def predict(self, x, batch_size, verbose):
            self.calls.append((len(x), batch_size, verbose))
            return x + 0.5

    model = Model()
    x = np.ones((10, 784), dtype=np.float32)
    assert squared_error_per_image(model, x, batch_size=4) == pytest.approx(784 * 0.25)
    assert model.calls == [(10, 4, 0)]


def test_squared_error_with_a_keras_model():
    import keras

    # A linear map that halves its input: error per image = sum((x / 2)^2).
    inputs = keras.Input((5,))
    halve = keras.initializers.Identity(0.5)
    outputs = keras.layers.Dense(5, use_bias=False, kernel_initializer=halve)(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).random((33, 5)).astype(np.float32)
    expected = np.mean(np.sum((x / 2) ** 2, axis=1))
    assert squared_error_per_image(model, x, batch_size=8) == pytest.approx(expected, rel=1e-5)


def test_squared_error_checks_shapes():
    with pytest.raises(ValueError, match="shape"):
        squared_error_per_image(lambda b: b[:, :2], np.ones((3, 4)))
    with pytest.raises(ValueError):
        squared_error_per_image(lambda b: b, np.ones(4))


# ------------------------------------------------------------------ plotting
def test_image_grid_writes_a_png_of_the_right_size(tmp_path):
    rng = np.random.default_rng(0)
    rows = [rng.random((10, 784)), rng.random((10, 28, 28)), list(rng.random((4, 784)))]
    path = image_grid(rows, tmp_path / "sub" / "grid.png", scale=2, pad=2)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "L"
        assert image.size == (10 * 56 + 11 * 2, 3 * 56 + 4 * 2)
        pixels = np.asarray(image)
    # Top-left cell: the first image, enlarged 2x, after the 2-pixel border.
    first = np.round(rows[0][0].reshape(28, 28) * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[2:58:2, 2:58:2], first)
    np.testing.assert_array_equal(pixels[3:58:2, 3:58:2], first)
    # The short last row leaves background cells.
    assert (pixels[-58:-2, -58:-2] == 128).all()


def test_image_grid_scale_one_no_padding_and_clipping(tmp_path):
    images = np.array([[-1.0, 0.5], [2.0, 1.0]]).reshape(1, 1, 4)
    path = image_grid(images, tmp_path / "tiny.png", image_shape=(2, 2), scale=1, pad=0)
    with Image.open(path) as image:
        assert image.size == (2, 2)
        np.testing.assert_array_equal(np.asarray(image), [[0, 128], [255, 255]])


def test_image_grid_rejects_wrong_image_sizes(tmp_path):
    with pytest.raises(ValueError, match="784"):
        image_grid([[np.zeros(100)]], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="no images"):
        image_grid([], tmp_path / "empty.png")
