"""Tests for aezoo.data: IDX reading, MNIST loading, binarization, curves.

Everything runs on small synthetic files except the real-MNIST tests, which
need AEZOO_DATA_DIR pointing at the four MNIST IDX files and skip otherwise.
"""

import gzip
import os
import struct
import sys
import types

import numpy as np
import pytest

from aezoo.arrays import is_shareable
from aezoo.data import (
    DataError,
    binarize_static,
    dynamic_binarization_dataset,
    load_mnist,
    make_curves,
    read_idx,
    resolve_data_dir,
)
from aezoo.data.mnist import MNIST_FILES, find_local_mnist_dir

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
         np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def idx_bytes(array):
    """Encode ``array`` as an IDX file."""
    array = np.asarray(array)
    header = bytes([0, 0, CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_file(path, content):
    """Write bytes to ``path``, gzipped when it ends in .gz; return the path."""
    path = str(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(content)
    return path


def fake_mnist(directory, n_train=20, n_test=10, gz=True, seed=0):
    """Write small random MNIST-like IDX files; return {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        for name, array in zip(MNIST_FILES[split], (images, labels)):
            write_file(os.path.join(directory, name + suffix), idx_bytes(array))
        data[split] = (images, labels)
    return data


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", list(CODES))
def test_read_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    path = write_file(tmp_path / f"a.idx{suffix}", idx_bytes(array))
    got = read_idx(path)
    assert got.dtype == array.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_read_idx_missing_file_names_file_and_directory(tmp_path):
    path = tmp_path / "nothing-here-idx1-ubyte"
    with pytest.raises(DataError, match="nothing-here-idx1-ubyte") as info:
        read_idx(path)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("content, problem", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic number"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX dtype code 0x07"),
    (b"\x00\x00", "truncated IDX header"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated IDX header"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 6, 28, 28) + bytes(100),
     r"expected 4704 bytes of data for shape \(6, 28, 28\), found 100"),
])
def test_read_idx_malformed_names_file_and_problem(tmp_path, content, problem):
    path = write_file(tmp_path / "broken-idx3-ubyte", content)
    with pytest.raises(DataError, match=problem) as info:
        read_idx(path)
    assert "broken-idx3-ubyte" in str(info.value)


def test_read_idx_truncated_gzip(tmp_path):
    path = write_file(tmp_path / "cut-idx1-ubyte.gz", idx_bytes(np.arange(1000, dtype=np.int32)))
    with open(path, "rb") as f:
        content = f.read()
    write_file(tmp_path / "cut-idx1-ubyte.gz.tmp", content[: len(content) // 2])
    os.replace(tmp_path / "cut-idx1-ubyte.gz.tmp", path)
    with pytest.raises(DataError, match="corrupt gzip file .*cut-idx1-ubyte.gz"):
        read_idx(path)


def test_read_idx_not_gzip_at_all(tmp_path):
    path = write_file(tmp_path / "plain-idx1-ubyte.gz.tmp", idx_bytes(np.arange(3, dtype=np.uint8)))
    os.replace(path, tmp_path / "plain-idx1-ubyte.gz")  # plain bytes under a .gz name
    with pytest.raises(DataError, match="corrupt gzip file .*plain-idx1-ubyte.gz"):
        read_idx(tmp_path / "plain-idx1-ubyte.gz")


# ---------------------------------------------------------------- load_mnist


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_round_trip(tmp_path, gz):
    data = fake_mnist(tmp_path, gz=gz)
    for split, (images, labels) in data.items():
        x, y = load_mnist(split, data_dir=tmp_path)
        assert x.dtype == np.float32 and x.shape == (len(images), 784)
        assert is_shareable(x)  # aligned: training reads it without a copy
        assert y.dtype == np.int64 and y.shape == (len(images),)
        np.testing.assert_allclose(x, images.reshape(-1, 784) / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, labels)


def test_data_dir_resolution_argument_beats_env(tmp_path, monkeypatch):
    env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
    env_dir.mkdir(), arg_dir.mkdir()
    fake_mnist(env_dir, n_train=3, seed=1)
    fake_mnist(arg_dir, n_train=5, seed=2)
    monkeypatch.setenv("AEZOO_DATA_DIR", str(env_dir))
    assert resolve_data_dir() == str(env_dir)
    assert resolve_data_dir(arg_dir) == str(arg_dir)
    assert len(load_mnist("train")[1]) == 3
    assert len(load_mnist("train", data_dir=arg_dir)[1]) == 5
    monkeypatch.setenv("AEZOO_DATA_DIR", "")
    assert resolve_data_dir() is None


def test_find_local_mnist_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("AEZOO_DATA_DIR", raising=False)
    assert find_local_mnist_dir() is None
    assert find_local_mnist_dir(tmp_path) is None  # empty folder
    fake_mnist(tmp_path)
    assert find_local_mnist_dir(tmp_path) == str(tmp_path)
    monkeypatch.setenv("AEZOO_DATA_DIR", str(tmp_path))
    assert find_local_mnist_dir() == str(tmp_path)


def test_load_mnist_missing_file_names_file_and_directory(tmp_path):
    fake_mnist(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as info:
        load_mnist("test", data_dir=tmp_path)
    assert isinstance(info.value, FileNotFoundError)
    assert f"searched directory {tmp_path}" in str(info.value)


def test_load_mnist_missing_directory(tmp_path):
    with pytest.raises(DataError, match="no-such-dir does not exist"):
        load_mnist("train", data_dir=tmp_path / "no-such-dir")


def test_load_mnist_count_mismatch_names_both_files(tmp_path):
    fake_mnist(tmp_path)
    write_file(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(19, np.uint8)))
    with pytest.raises(DataError, match="20 images") as info:
        load_mnist("train", data_dir=tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_load_mnist_wrong_image_shape(tmp_path):
    fake_mnist(tmp_path)
    write_file(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((20, 32, 32), np.uint8)))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz holds uint8 data of shape \(20, 32, 32\)"):
        load_mnist("train", data_dir=tmp_path)


def test_load_mnist_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="valid splits: train, test"):
        load_mnist("validation", data_dir=tmp_path)
    with pytest.raises(ValueError, match="valid values: None, 'static', 'dynamic'"):
        load_mnist("train", data_dir=tmp_path, binarize="stochastic")


def test_tfds_fallback_failure_is_explained(monkeypatch):
    """Without a data dir, a failing tensorflow_datasets download says what to set."""
    def failing_load(*args, **kwargs):
        raise RuntimeError("no network")

    fake_tfds = types.SimpleNamespace(load=failing_load, as_numpy=lambda x: x)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake_tfds)
    monkeypatch.delenv("AEZOO_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="set AEZOO_DATA_DIR or pass data_dir") as info:
        load_mnist("train")
    assert "no network" in str(info.value)


def test_load_mnist_static_binarization(tmp_path):
    fake_mnist(tmp_path)
    a, y = load_mnist("train", data_dir=tmp_path, binarize="static", seed=1)
    b, _ = load_mnist("train", data_dir=tmp_path, binarize="static", seed=1)
    assert a.dtype == np.float32 and a.shape == (20, 784) and len(y) == 20
    assert is_shareable(a)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}


# ---------------------------------------------------------------- binarization


def test_binarize_static_is_fixed_binary_bernoulli():
    x = np.random.default_rng(0).random((200, 784)).astype(np.float32)
    x[0], x[1] = 0.0, 1.0
    a, b = binarize_static(x, seed=5), binarize_static(x, seed=5)
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, binarize_static(x, seed=6))
    assert set(np.unique(a)) == {0.0, 1.0}
    assert a[0].sum() == 0 and a[1].sum() == 784  # probabilities 0 and 1 are exact
    assert abs(a.mean() - x.mean()) < 0.01


def test_dynamic_binarization_dataset():
    x = np.random.default_rng(0).random((50, 784)).astype(np.float32)
    ds = dynamic_binarization_dataset(x, batch_size=20, seed=3)
    epoch1 = [b.numpy() for b in ds]
    epoch2 = [b.numpy() for b in ds]
    assert [b.shape for b in epoch1] == [(20, 784), (20, 784), (10, 784)]
    assert all(b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0} for b in epoch1)
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(epoch2))
    # A new dataset with the same seed repeats the same epochs; another seed does not.
    again = dynamic_binarization_dataset(x, batch_size=20, seed=3)
    np.testing.assert_array_equal(np.concatenate(epoch1), np.concatenate(list(again.as_numpy_iterator())))
    other = dynamic_binarization_dataset(x, batch_size=20, seed=4)
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(list(other.as_numpy_iterator())))


def test_dynamic_binarization_shuffles_whole_examples():
    # Binary inputs make the Bernoulli draw exact, exposing the example order.
    x = np.eye(30, 784, dtype=np.float32)
    ordered = np.concatenate(list(dynamic_binarization_dataset(x, 7, shuffle=False).as_numpy_iterator()))
    np.testing.assert_array_equal(ordered, x)
    ds = dynamic_binarization_dataset(x, 7, seed=0)
    orders = [np.concatenate(list(ds.as_numpy_iterator())).argmax(axis=1) for _ in range(2)]
    assert sorted(orders[0]) == list(range(30))  # a permutation of the examples
    assert not np.array_equal(orders[0], orders[1])  # reshuffled each epoch
    assert not np.array_equal(orders[0], np.arange(30))


def test_load_mnist_dynamic_returns_dataset_and_labels(tmp_path):
    data = fake_mnist(tmp_path)
    ds, y = load_mnist("train", data_dir=tmp_path, binarize="dynamic", batch_size=8)
    np.testing.assert_array_equal(y, data["train"][1])
    assert [b.shape for b in ds.as_numpy_iterator()] == [(8, 784), (8, 784), (4, 784)]


# ---------------------------------------------------------------- curves


def test_make_curves_shape_range_and_points():
    x, points = make_curves(200, seed=0, return_points=True)
    assert x.dtype == np.float32 and x.shape == (200, 784)
    assert x.min() >= 0 and x.max() <= 1
    assert points.shape == (200, 3, 2)
    assert points.min() >= 0.15 and points.max() <= 0.85
    assert (x.max(axis=1) > 0.4).all()  # every image shows a stroke
    # A thin curve: it covers some pixels, and the border stays nearly black.
    ink = (x > 0.5).sum(axis=1)
    assert (ink >= 5).all() and (ink < 200).all()
    border = x.reshape(-1, 28, 28)[:, [0, -1]].max()
    assert border < 0.05
    # The curve passes through its three points: the pixels holding them are lit.
    rows, cols = (points[..., 1] * 28).astype(int), (points[..., 0] * 28).astype(int)
    lit = x.reshape(-1, 28, 28)[np.arange(200)[:, None], rows, cols]
    assert lit.min() >= np.exp(-0.5 / (2 * 0.6**2)) - 1e-6  # within half a pixel diagonal


def test_make_curves_deterministic_prefix_stable_and_seeded():
    a = make_curves(300, seed=7)
    np.testing.assert_array_equal(a, make_curves(300, seed=7))
    np.testing.assert_array_equal(a[:37], make_curves(37, seed=7))
    assert not np.array_equal(a, make_curves(300, seed=8))
    assert make_curves(4, seed=0, image_size=16).shape == (4, 256)


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 2.0}, {"n": True}, {"n": 5, "image_size": 7}])
def test_make_curves_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_curves(**kwargs)


# ---------------------------------------------------------------- real MNIST


# The mnist_dir fixture lives in conftest.py.


def test_real_mnist_train(mnist_dir):
    x, y = load_mnist("train", data_dir=mnist_dir)
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert y.shape == (60000,) and y.dtype == np.int64
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_real_mnist_test_label_counts(mnist_dir):
    x, y = load_mnist("test", data_dir=mnist_dir)
    assert x.shape == (10000, 784)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
