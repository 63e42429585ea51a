"""The synthetic "curves" data set of Hinton & Salakhutdinov (2006).

Each image shows one smooth curve through three random points of the plane,
so the images form a 6-dimensional manifold (three 2-D points) embedded in
pixel space: a test of whether an autoencoder finds the true dimensionality.
"""

import numpy as np

MARGIN = 0.15  # Points lie in [MARGIN, 1 - MARGIN]^2 so strokes stay inside the frame.
SEGMENTS = 16  # Polyline pieces per curve; the chord error is below 0.1 pixel.
SIGMA = 0.6  # Stroke half-width (Gaussian sd), in pixels: a thin anti-aliased line.
CHUNK_ELEMENTS = 500_000  # Size of each (images, segments, pixels) work buffer: cache-sized.


def _curve_vertices(points, segments):
    """Return (n, segments + 1, 2) samples of the quadratic through ``points``.

    The quadratic passes through points[:, 0], [:, 1], [:, 2] at t = 0, 0.5, 1
    (Lagrange interpolation); t is sampled uniformly.
    """
    t = np.linspace(0.0, 1.0, segments + 1)
    basis = np.stack([2 * (t - 0.5) * (t - 1), -4 * t * (t - 1), 2 * t * (t - 0.5)], axis=1)
    return np.einsum("sk,nkd->nsd", basis, points)


def _pixel_grid(image_size):
    """Return (4, image_size**2) rows px, py, px^2 + py^2, 1 for the pixel centres.

    Coordinates are centred on the image, which keeps float32 squares small
    and accurate; x is the column and y the row (downwards).
    """
    coords = np.arange(image_size, dtype=np.float32) - np.float32((image_size - 1) / 2)
    rows, cols = np.meshgrid(coords, coords, indexing="ij")
    px, py = cols.ravel(), rows.ravel()
    return np.stack([px, py, px * px + py * py, np.ones_like(px)])


def _render(vertices, grid, out, work):
    """Render polylines (m, s + 1, 2), pixel units centred on the image, into ``out``.

    ``out`` is (m, pixels); ``work`` is three float32 buffers of shape at least
    (m, s, pixels), reused across chunks: allocating such arrays per chunk
    costs more in page faults than the arithmetic itself. Intensity is
    exp(-d^2 / (2 sigma^2)) with d the distance from the pixel centre to the
    polyline. Exact segment distances (rather than distances to many curve
    samples) give a gap-free stroke from few segments.
    """
    m = len(vertices)
    proj, dist2, t = (w[:m] for w in work)
    a = vertices[:, :-1].astype(np.float32)  # (m, s, 2) segment starts
    u = vertices[:, 1:].astype(np.float32) - a  # segment directions
    zeros = np.zeros(a.shape[:2], dtype=np.float32)
    length2 = np.maximum((u * u).sum(-1), np.float32(1e-12))[..., None]
    # For pixel p, both (p - a).u and |p - a|^2 are linear in the grid rows
    # (px, py, |p|^2, 1), so each is one small matrix product per chunk.
    np.matmul(np.stack([u[..., 0], u[..., 1], zeros, -(a * u).sum(-1)], -1), grid, out=proj)
    np.matmul(np.stack([-2 * a[..., 0], -2 * a[..., 1], zeros + 1, (a * a).sum(-1)], -1),
              grid, out=dist2)
    # Closest point a + t u with t = t0 clamped to [0, 1], t0 = (p - a).u / |u|^2:
    # |p - a - t u|^2 = |p - a|^2 + t |u|^2 (t - 2 t0).
    proj /= length2  # now t0
    np.clip(proj, 0, 1, out=t)
    proj *= -2
    proj += t
    proj *= t
    proj *= length2
    dist2 += proj
    np.min(dist2, axis=1, out=out)
    np.maximum(out, 0, out=out)  # Rounding can dip just below zero.
    out *= np.float32(-1 / (2 * SIGMA**2))
    np.exp(out, out=out)


def make_curves(n, seed=0, image_size=28, return_points=False):
    """Return ``n`` curve images as float32 (n, image_size**2) in [0, 1].

    Deterministic in (n, seed, image_size), and prefix-stable: the first m
    images of make_curves(n, seed) equal make_curves(m, seed). With
    ``return_points`` also return the generating points, float64 of shape
    (n, 3, 2) as (x, y) = (column, row) in units of the image width, in
    [0.15, 0.85]: the 6 true degrees of freedom of each image.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if (isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer))
            or image_size < 8):
        raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
    # All points are drawn before any rendering, which makes prefixes stable.
    points = np.random.default_rng(seed).uniform(MARGIN, 1 - MARGIN, size=(n, 3, 2))
    # Pixel units, centred like the grid: pixel (row i, column j) spans
    # [j, j + 1] x [i, i + 1] of image_size * points.
    vertices = _curve_vertices(points, SEGMENTS) * image_size - image_size / 2
    grid = _pixel_grid(image_size)
    chunk = min(n, max(1, CHUNK_ELEMENTS // (SEGMENTS * image_size * image_size)))
    work = [np.empty((chunk, SEGMENTS, image_size * image_size), np.float32) for _ in range(3)]
    images = np.empty((n, image_size * image_size), dtype=np.float32)
    for start in range(0, n, chunk):
        _render(vertices[start:start + chunk], grid, images[start:start + chunk], work)
    np.clip(images, 0, 1, out=images)
    return (images, points) if return_points else images
