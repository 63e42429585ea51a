"""Input checks shared by every model: clear errors instead of silent wrong answers.

Concrete inputs (NumPy arrays, lists, eager tensors) are checked in Python, so
the error is a plain ``TypeError``/``ValueError`` raised at the call site.
Symbolic tensors (inside ``fit``'s compiled step or an exported signature) get
the static checks at trace time and a ``tf.debugging.assert_all_finite`` op for
the values, which fails the step with the same message.
"""

import keras
import numpy as np
import tensorflow as tf


def check_array(x, expected_dim, name="x"):
    """Checks a concrete array-like input in Python, without copying it to a tensor.

    Used before ``fit``/``predict`` so a bad NumPy array fails at once with a
    plain error instead of deep inside a compiled training step.
    """
    array = _as_numeric_array(x, name)
    _check_shape(tuple(array.shape), expected_dim, name)
    _check_finite_numpy(array, name)
    return array


def check_input(x, expected_dim, name="x"):
    """Checks that ``x`` is a finite, numeric (batch, expected_dim) array.

    ``expected_dim`` is the feature count, or one example's shape for images.

    Returns ``x`` as a float32 tensor. Raises ``TypeError`` for a non-numeric
    dtype and ``ValueError`` for a wrong rank or feature count or for NaN/inf
    values.
    """
    if isinstance(x, keras.KerasTensor):  # Keras' symbolic build pass
        _check_shape(tuple(x.shape), expected_dim, name)
        return x
    if not tf.is_tensor(x):
        x = _as_numeric_array(x, name)
    elif not (x.dtype.is_floating or x.dtype.is_integer or x.dtype.is_bool):
        raise TypeError(
            f"{name} must be numeric, got a tensor of dtype {x.dtype.name}."
        )
    _check_shape(tuple(x.shape), expected_dim, name)
    if isinstance(x, np.ndarray):
        _check_finite_numpy(x, name)
        return tf.convert_to_tensor(x, dtype=tf.float32)
    x = tf.cast(x, tf.float32)
    if tf.executing_eagerly():
        _check_finite_numpy(x.numpy(), name)
        return x
    return tf.debugging.assert_all_finite(x, f"{name} contains NaN or inf values")


def _check_shape(shape, expected, name):
    """``expected`` is the feature count, or one example's shape (height, width, channels)."""
    expected = (expected,) if isinstance(expected, (int, np.integer)) else tuple(expected)
    if len(shape) != len(expected) + 1:
        wanted = ", ".join(map(str, ("batch", *expected)))
        raise ValueError(f"{name} must have shape ({wanted}), got shape {shape}.")
    if len(expected) == 1:
        if shape[-1] is not None and shape[-1] != expected[0]:
            raise ValueError(
                f"{name} has {shape[-1]} features but the model expects "
                f"{expected[0]}: got shape {shape}."
            )
        return
    if shape[-1] is not None and shape[-1] != expected[-1]:
        raise ValueError(f"{name} has {shape[-1]} channels but the model expects "
                         f"{expected[-1]}: got shape {shape}.")
    if any(s is not None and s != e for s, e in zip(shape[1:-1], expected[:-1])):
        raise ValueError(f"{name} has images of {'x'.join(map(str, shape[1:-1]))} but the model "
                         f"expects {'x'.join(map(str, expected[:-1]))}: got shape {shape}.")


def _as_numeric_array(x, name):
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} could not be read as a numeric array: {error}")
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric (float, int or bool), got dtype {array.dtype}."
        )
    return array


def _check_finite_numpy(array, name):
    if array.dtype.kind != "f":
        return
    finite = np.isfinite(array)
    if not finite.all():
        per_row = finite.reshape(len(finite), -1) if finite.ndim > 1 else finite[:, None]
        bad_rows = np.flatnonzero(~per_row.all(axis=1))
        raise ValueError(
            f"{name} contains NaN or inf values: {int((~finite).sum())} values "
            f"in {bad_rows.size} rows (first bad row: {int(bad_rows[0])})."
        )
