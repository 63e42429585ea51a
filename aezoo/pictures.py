"""The zoo's pictures: reconstructions, 2-D code maps, filters, VAE samples and latent grids.

Pillow only, like ``aezoo.plotting`` (whose ``image_grid`` draws the digit
grids); each function writes one PNG and returns its path.
"""

import os
from statistics import NormalDist

import numpy as np

from aezoo.plotting import image_grid

# Ten distinguishable colours (matplotlib's "tab10"), one per digit.
DIGIT_COLOURS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]


def _save(image, path):
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    image.save(path)
    return path


def code_scatter(codes, labels, path, size=640, margin=24, legend_width=60):
    """A scatter plot of 2-D codes coloured by label (0-9), with a legend.

    The axes span the 0.5th to 99.5th percentiles of each coordinate, so a
    few far-out codes do not squash the rest.
    """
    from PIL import Image, ImageDraw

    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"code_scatter needs codes of shape (N, 2), got {codes.shape}.")
    if len(labels) != len(codes):
        raise ValueError(f"{len(codes)} codes but {len(labels)} labels.")
    if not np.isfinite(codes).all():
        raise ValueError("the codes contain NaN or inf values.")
    low = np.percentile(codes, 0.5, axis=0)
    high = np.percentile(codes, 99.5, axis=0)
    span = np.where(high > low, high - low, 1.0)
    unit = np.clip((codes - low) / span, 0.0, 1.0)
    image = Image.new("RGB", (size + legend_width, size), "white")
    draw = ImageDraw.Draw(image)
    inner = size - 2 * margin
    order = np.random.default_rng(0).permutation(len(codes))  # no digit painted last
    for i in order:
        x = margin + unit[i, 0] * inner
        y = margin + (1.0 - unit[i, 1]) * inner
        draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5),
                     fill=DIGIT_COLOURS[labels[i] % 10])
    for digit in range(10):
        top = margin + digit * 20
        draw.rectangle((size + 8, top, size + 20, top + 12), fill=DIGIT_COLOURS[digit])
        draw.text((size + 28, top), str(digit), fill="black")
    draw.rectangle((margin, margin, margin + inner, margin + inner), outline=(160, 160, 160))
    return _save(image, path)


def filter_weights(model):
    """The (input_dim, units) kernel of the model's first encoder layer that has one."""
    for layer in model.encoder_layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            return np.asarray(kernel)
    raise ValueError(f"{type(model).__name__} has no encoder layer with a kernel.")


def filters(weights, path, count=100, columns=10, image_shape=(28, 28)):
    """The first ``count`` filters (columns of ``weights``), each scaled to its own range."""
    weights = np.asarray(weights, dtype=np.float64)[:, :count].T
    low = weights.min(axis=1, keepdims=True)
    high = weights.max(axis=1, keepdims=True)
    scaled = (weights - low) / np.where(high > low, high - low, 1.0)
    rows = [scaled[i:i + columns] for i in range(0, len(scaled), columns)]
    return image_grid(rows, path, image_shape=image_shape, scale=2)


def latent_grid(model, path, steps=15, low=0.05, high=0.95, image_shape=(28, 28)):
    """Decoded images of a 2-D latent grid at the standard normal's quantiles (Kingma & Welling)."""
    if model.latent_dim != 2:
        raise ValueError(f"latent_grid needs a 2-D latent space, got {model.latent_dim}.")
    quantiles = [NormalDist().inv_cdf(low + (high - low) * i / (steps - 1))
                 for i in range(steps)]
    rows = []
    for z_y in reversed(quantiles):
        z = np.array([[z_x, z_y] for z_x in quantiles], dtype="float32")
        rows.append(np.asarray(model.decode(z)))
    return image_grid(rows, path, image_shape=image_shape, scale=1, pad=1)


def samples(model, path, count=100, columns=10, seed=0, image_shape=(28, 28)):
    """``count`` images decoded from prior draws (pixel means, not binary samples)."""
    images = np.asarray(model.sample(count, seed=seed)).reshape(count, -1)  # conv: 28x28x1
    rows = [images[i:i + columns] for i in range(0, count, columns)]
    return image_grid(rows, path, image_shape=image_shape, scale=2)


def reconstructions(originals, reconstructed_rows, path, image_shape=(28, 28)):
    """Originals on top, then one row per model's reconstructions of them."""
    return image_grid([originals, *reconstructed_rows], path, image_shape=image_shape, scale=2)
