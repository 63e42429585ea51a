"""NumPy arrays that TensorFlow reads in place, without copying them.

``tf.constant(x)`` copies ``x`` into a new buffer: for MNIST's 188 MB training
set, a noticeable part of a ``fit`` call on a 2-core machine (every new page
must be faulted in). DLPack lets a tensor share the array's memory instead, but
TensorFlow's CPU kernels require buffers aligned to 64 bytes and abort the
process on a misaligned one, so only aligned arrays are shared. ``aezoo.data``
and the RBM's ``transform`` return aligned arrays, so they go from loading to
training without a copy.
"""

import numpy as np

# Eigen's largest alignment requirement (EIGEN_MAX_ALIGN_BYTES for AVX-512).
ALIGNMENT = 64


def aligned_empty(shape, dtype=np.float32):
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def is_shareable(x):
    """Whether TensorFlow can read ``x`` in place: aligned, C-contiguous and writeable.

    (NumPy will not export a read-only array through DLPack.)
    """
    return (
        isinstance(x, np.ndarray)
        and x.flags.c_contiguous
        and x.flags.writeable
        and x.ctypes.data % ALIGNMENT == 0
    )


def as_shareable(x, dtype=np.float32):
    """``x`` itself when TensorFlow can read it in place as ``dtype``; else an aligned copy."""
    x = np.asarray(x)
    if x.dtype == dtype and is_shareable(x):
        return x
    out = aligned_empty(x.shape, dtype)
    np.copyto(out, x, casting="unsafe")
    return out


def shared_tensor(x):
    """A tensor that reads ``x``'s memory when it can, else a copy of ``x``.

    While the tensor lives it sees any change made to ``x``; callers use it
    only for the duration of one call (``fit``), during which ``x`` is theirs.
    """
    import tensorflow as tf  # Here, so that loading data does not import TensorFlow.

    if is_shareable(x) and x.size:
        return tf.experimental.dlpack.from_dlpack(x.__dlpack__())
    return tf.constant(x)
