"""Data sets for the autoencoder zoo: MNIST (IDX files or tensorflow_datasets) and curves."""

from aezoo.data.binarize import binarize_static, dynamic_binarization_dataset
from aezoo.data.curves import make_curves
from aezoo.data.errors import DataError
from aezoo.data.idx import read_idx
from aezoo.data.mnist import load_mnist, resolve_data_dir

__all__ = [
    "DataError",
    "binarize_static",
    "dynamic_binarization_dataset",
    "load_mnist",
    "make_curves",
    "read_idx",
    "resolve_data_dir",
]
