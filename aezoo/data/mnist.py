"""MNIST loading: local IDX files when a data directory is known, else tensorflow_datasets.

The data directory is, in order: the ``data_dir`` argument, the
``AEZOO_DATA_DIR`` environment variable, or none (download through
tensorflow_datasets). A local directory must hold the four canonical files,
each either gzipped (``<name>.gz``, as distributed) or plain (``<name>``).
"""

import os

import numpy as np

from aezoo.arrays import aligned_empty
from aezoo.data.binarize import binarize_static, dynamic_binarization_dataset
from aezoo.data.errors import DataError, DataFileNotFoundError
from aezoo.data.idx import read_idx

ENV_VAR = "AEZOO_DATA_DIR"

# split -> (images file, labels file), canonical names without ".gz".
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
BINARIZE_MODES = (None, "static", "dynamic")
IMAGE_SHAPE = (28, 28)


def resolve_data_dir(data_dir=None):
    """Return the local data directory as a string, or None to use tensorflow_datasets.

    ``data_dir`` wins over the AEZOO_DATA_DIR environment variable; an empty
    variable counts as unset. The directory is not checked for existence here.
    """
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR) or None
    if data_dir is None:
        return None
    return os.path.expanduser(os.fspath(data_dir))


def _find_file(directory, name):
    """Return the path of ``name.gz`` or ``name`` in ``directory``, gzipped preferred."""
    for candidate in (name + ".gz", name):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise DataFileNotFoundError(
        f"MNIST file {name}.gz (or uncompressed {name}) not found; "
        f"searched directory {directory}")


def find_local_mnist_dir(data_dir=None):
    """Return the resolved local MNIST directory if it holds all four files, else None.

    Meant for tests and scripts that should skip, not download, without data.
    """
    directory = resolve_data_dir(data_dir)
    if directory is None:
        return None
    try:
        for names in MNIST_FILES.values():
            for name in names:
                _find_file(directory, name)
    except DataFileNotFoundError:
        return None
    return directory


def _load_local(directory, split):
    """Return (uint8 images (N, 28, 28), labels (N,)) from the IDX files."""
    if not os.path.isdir(directory):
        raise DataFileNotFoundError(
            f"MNIST data directory {directory} does not exist (from the "
            f"data_dir argument or {ENV_VAR})")
    image_path, label_path = (_find_file(directory, n) for n in MNIST_FILES[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
        raise DataError(
            f"{image_path} holds {images.dtype} data of shape {images.shape}, "
            f"expected uint8 images of shape (N, 28, 28) (labels file {label_path})")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{image_path} holds {len(images)} images but {label_path} holds "
            f"labels of shape {labels.shape}; expected ({len(images)},)")
    return images, labels


def _load_tfds(split):
    """Return (images (N, 28, 28[, 1]), labels (N,)) downloaded by tensorflow_datasets."""
    try:
        import tensorflow_datasets as tfds  # Lazy: pulls in TensorFlow.

        images, labels = tfds.as_numpy(tfds.load(
            "mnist", split=split, batch_size=-1, as_supervised=True))
    except Exception as e:  # Anything from import to download: one clear message.
        raise DataError(
            f"no local MNIST data directory was given (set {ENV_VAR} or pass "
            f"data_dir to a folder with the IDX files), and the "
            f"tensorflow_datasets download failed: {type(e).__name__}: {e}") from e
    return images, labels


def load_mnist(split, data_dir=None, binarize=None, seed=0, batch_size=100):
    """Return MNIST ``split`` ("train" or "test") as ``(x, y)``.

    ``y`` is int64 labels of shape (N,). ``x`` depends on ``binarize``:

    * None: float32 grey levels of shape (N, 784), pixel / 255, in [0, 1];
    * "static": one fixed Bernoulli draw of those, float32 in {0, 1}, set by ``seed``;
    * "dynamic": a tf.data.Dataset of float32 (batch_size, 784) batches,
      reshuffled and redrawn every epoch, reproducible from ``seed`` (see
      dynamic_binarization_dataset). Because it is shuffled, its rows do not
      line up with ``y``, which stays in the original order.

    ``batch_size`` is used only by "dynamic". Raises ValueError for an unknown
    split or binarize mode and DataError for missing or malformed data.
    """
    if split not in MNIST_FILES:
        raise ValueError(
            f"unknown MNIST split {split!r}; valid splits: {', '.join(MNIST_FILES)}")
    if binarize not in BINARIZE_MODES:
        raise ValueError(
            f"unknown binarize mode {binarize!r}; valid values: "
            f"{', '.join(map(repr, BINARIZE_MODES))}")
    directory = resolve_data_dir(data_dir)
    if directory is None:
        images, labels = _load_tfds(split)
    else:
        images, labels = _load_local(directory, split)
    images = np.asarray(images).reshape(len(images), -1)
    # Aligned, so that training reads x in place (see aezoo.arrays).
    x = np.divide(images, np.float32(255), out=aligned_empty(images.shape), dtype=np.float32)
    y = np.asarray(labels).astype(np.int64)
    if binarize == "static":
        x = binarize_static(x, seed)
    elif binarize == "dynamic":
        x = dynamic_binarization_dataset(x, batch_size=batch_size, seed=seed)
    return x, y
