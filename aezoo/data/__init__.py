"""Data for aezoo: the user's own (``load_data``: arrays, files, image folders, tf.data, TFDS),
MNIST (IDX files or tensorflow_datasets) and curves."""

from aezoo.data.binarize import binarize_static, dynamic_binarization_dataset
from aezoo.data.curves import make_curves
from aezoo.data.errors import DataError
from aezoo.data.idx import read_idx
from aezoo.data.mnist import load_mnist, resolve_data_dir
from aezoo.data.sources import Data, load_data

__all__ = [
    "Data",
    "DataError",
    "load_data",
    "binarize_static",
    "dynamic_binarization_dataset",
    "load_mnist",
    "make_curves",
    "read_idx",
    "resolve_data_dir",
]
