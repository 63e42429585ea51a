"""aezoo.arrays: aligned arrays that TensorFlow reads in place, and copies for the rest."""

import numpy as np
import pytest
import tensorflow as tf

from aezoo.arrays import ALIGNMENT, aligned_empty, as_shareable, is_shareable, shared_tensor


def unaligned(x):
    """A copy of float32 ``x`` whose data starts 4 bytes past a 64-byte boundary."""
    raw = aligned_empty((x.size + 1,), x.dtype)
    out = raw[1:].reshape(x.shape)
    out[...] = x
    return out


@pytest.mark.parametrize("shape, dtype", [((7, 3), np.float32), ((5,), np.int64), ((0, 4), np.float32)])
def test_aligned_empty(shape, dtype):
    x = aligned_empty(shape, dtype)
    assert x.shape == shape and x.dtype == dtype
    assert x.flags.c_contiguous
    if x.size:  # NumPy may place an empty array's pointer anywhere; nothing is read
        assert x.ctypes.data % ALIGNMENT == 0


def test_as_shareable_keeps_an_aligned_float32_array_and_copies_the_rest():
    x = aligned_empty((6, 4))
    x[...] = np.arange(24).reshape(6, 4)
    assert as_shareable(x) is x
    read_only = x.copy()
    read_only.flags.writeable = False  # NumPy will not export it through DLPack
    others = [unaligned(x), x.astype(np.float64), np.asarray(x, order="F"), x[:, :2], read_only]
    for other in others:
        assert not is_shareable(other) or other.dtype != np.float32
        copy = as_shareable(other)
        assert copy is not other and is_shareable(copy) and copy.dtype == np.float32
        np.testing.assert_array_equal(copy, other)
    assert as_shareable(np.array([[1, 0]], dtype=bool)).tolist() == [[1.0, 0.0]]


def test_shared_tensor_reads_an_aligned_array_in_place_and_copies_an_unaligned_one():
    x = aligned_empty((5, 3))
    x[...] = 1.0
    shared, copied = shared_tensor(x), shared_tensor(unaligned(x))
    assert shared.dtype == tf.float32 and shared.shape == (5, 3)
    np.testing.assert_array_equal(copied.numpy(), x)
    x[0, 0] = 7.0  # visible through the shared tensor only
    assert shared.numpy()[0, 0] == 7.0
    assert copied.numpy()[0, 0] == 1.0
    assert shared_tensor(aligned_empty((0, 3))).shape == (0, 3)
