"""Reader for the IDX format used by the MNIST distribution files.

Format (LeCun): two zero bytes, a dtype code byte, a byte giving the number
of dimensions, then one big-endian uint32 size per dimension, then the data
in big-endian order, C (row-major) layout. Files ending in ``.gz`` are
decompressed transparently.
"""

import gzip
import os
import struct
import zlib

import numpy as np

from aezoo.data.errors import DataError, DataFileNotFoundError

# dtype code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path):
    """Return the (decompressed) content of ``path``, mapping failures to DataError."""
    if not os.path.isfile(path):
        directory = os.path.dirname(os.path.abspath(path))
        raise DataFileNotFoundError(
            f"IDX file not found: {path} (searched directory {directory})")
    if not str(path).endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    # BadGzipFile (an OSError) for a wrong header, EOFError for a truncated
    # stream, zlib.error for damaged compressed blocks.
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"corrupt gzip file {path}: {e}") from e


def read_idx(path):
    """Read an IDX file (plain or ``.gz``) into a native-byte-order numpy array.

    Raises DataError (DataFileNotFoundError for a missing file) naming ``path``
    when the file is missing, not valid gzip, has a bad magic number or dtype
    code, a truncated header, or a data section of the wrong length.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(
            f"truncated IDX header in {path}: file has {len(raw)} bytes, "
            "the magic number alone needs 4")
    zero0, zero1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"bad magic number in {path}: first bytes are {raw[:4].hex()}, an "
            "IDX file starts with two zero bytes (is it an IDX file?)")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(
            f"unknown IDX dtype code 0x{code:02X} in {path}; known codes: {known}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(
            f"truncated IDX header in {path}: {ndim} dimensions need a "
            f"{header_len}-byte header, file has {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_len
    if found != expected:
        raise DataError(
            f"wrong data length in {path}: expected {expected} bytes of data "
            f"for shape {shape}, found {found}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_len)
    # astype copies, so the result is writable and in native byte order.
    return data.astype(dtype.newbyteorder("=")).reshape(shape)
