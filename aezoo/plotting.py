"""Image grids of digits and reconstructions, with Pillow only (no matplotlib)."""

import os

import numpy as np


def image_grid(rows_of_images, path, image_shape=(28, 28), scale=2, pad=2, background=128):
    """Writes a grey-level grid of images to ``path`` (a PNG for a .png name).

    ``rows_of_images`` is a sequence of rows; each row is a sequence (or
    array) of images, flat (height * width values) or of shape
    ``image_shape``, with values in [0, 1] (clipped): 0 is black, 1 white.
    Rows may differ in length; missing cells are left as background.

    Each image is enlarged ``scale`` times (nearest neighbour) and cells are
    separated by ``pad`` pixels of grey level ``background`` (0-255), also
    around the border. The picture is therefore
    ``cols * width * scale + (cols + 1) * pad`` pixels wide and
    ``rows * height * scale + (rows + 1) * pad`` pixels high, with ``cols``
    the longest row's length. Returns ``path``.
    """
    from PIL import Image  # Lazy: only this function needs Pillow.

    height, width = (int(v) for v in image_shape)
    scale, pad = int(scale), int(pad)
    if height < 1 or width < 1 or scale < 1 or pad < 0:
        raise ValueError(
            f"need a positive image_shape and scale and pad >= 0, got "
            f"image_shape={image_shape}, scale={scale}, pad={pad}."
        )
    rows = [[_as_image(image, height, width) for image in row] for row in rows_of_images]
    n_rows = len(rows)
    n_cols = max((len(row) for row in rows), default=0)
    if n_rows == 0 or n_cols == 0:
        raise ValueError("rows_of_images holds no images.")
    cell_h, cell_w = height * scale, width * scale
    canvas = np.full(
        (n_rows * cell_h + (n_rows + 1) * pad, n_cols * cell_w + (n_cols + 1) * pad),
        int(background),
        dtype=np.uint8,
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
            pixels = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
            top, left = pad + r * (cell_h + pad), pad + c * (cell_w + pad)
            canvas[top : top + cell_h, left : left + cell_w] = pixels
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    Image.fromarray(canvas).save(path)  # uint8 2-D: mode "L"
    return path


def _as_image(image, height, width):
    image = np.asarray(image, dtype=np.float64)
    if image.size != height * width:
        raise ValueError(
            f"an image has {image.size} values, expected {height} x {width} = {height * width}."
        )
    image = image.reshape(height, width)
    if not np.isfinite(image).all():
        raise ValueError("an image contains NaN or inf values.")
    return image
