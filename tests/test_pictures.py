"""aezoo.pictures: the zoo's PNGs have the promised sizes and refuse bad input."""

import numpy as np
import pytest
from PIL import Image

from aezoo import pictures
from variants import make_small


def test_code_scatter_colours_each_digit(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    codes = np.stack([labels, labels % 3], axis=1) + rng.normal(scale=0.1, size=(200, 2))
    path = pictures.code_scatter(codes, labels, tmp_path / "codes.png", size=200)
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (200, 260, 3)
    # The points, not the legend (right of x = 200): digit d's codes sit at
    # x ~ d and y ~ d % 3, so its colour's pixels must lie left to right by d
    # and bottom to top (PNG rows grow downwards) by d % 3.
    plot = image[:, :200]
    columns, rows = [], []
    for colour in pictures.DIGIT_COLOURS:
        ys, xs = np.nonzero(np.all(plot == colour, axis=-1))
        assert len(xs) > 20 * 4, colour  # 20 points of a few pixels each
        columns.append(xs.mean())
        rows.append(ys.mean())
    assert np.all(np.diff(columns) > 5), columns
    for digit in range(10):
        for other in range(10):
            if digit % 3 < other % 3:
                assert rows[digit] > rows[other] + 5, (digit, other, rows)


@pytest.mark.parametrize("codes, labels, message", [
    (np.zeros((5, 3)), np.zeros(5), "shape"),
    (np.zeros((5, 2)), np.zeros(4), "labels"),
    (np.full((5, 2), np.nan), np.zeros(5), "NaN"),
])
def test_code_scatter_refuses_bad_input(tmp_path, codes, labels, message):
    with pytest.raises(ValueError, match=message):
        pictures.code_scatter(codes, labels, tmp_path / "x.png")


def test_filters_and_reconstructions(tmp_path):
    model = make_small("sparse", hidden_dims=())
    weights = pictures.filter_weights(model)
    assert weights.shape == (model.input_dim, model.latent_dim)
    path = pictures.filters(weights, tmp_path / "f.png", count=4, columns=2,
                            image_shape=(4, 5))
    assert Image.open(path).size == (2 * 10 + 3 * 2, 2 * 8 + 3 * 2)
    x = np.random.default_rng(0).uniform(size=(3, 20)).astype("float32")
    path = pictures.reconstructions(x, [model.predict(x, verbose=0)], tmp_path / "r.png",
                                    image_shape=(4, 5))
    assert Image.open(path).size == (3 * 10 + 4 * 2, 2 * 8 + 3 * 2)


def test_latent_grid_and_samples(tmp_path):
    with pytest.raises(ValueError, match="2-D latent"):
        pictures.latent_grid(make_small("vae"), tmp_path / "g.png")
    model = make_small("vae", latent_dim=2)
    path = pictures.latent_grid(model, tmp_path / "g.png", steps=3, image_shape=(4, 5))
    assert Image.open(path).size == (3 * 5 + 4, 3 * 4 + 4)
    path = pictures.samples(model, tmp_path / "s.png", count=4, columns=2, image_shape=(4, 5))
    assert Image.open(path).size == (2 * 10 + 3 * 2, 2 * 8 + 3 * 2)
