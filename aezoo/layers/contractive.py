"""The contractive penalty ||J_f(x)||_F^2 of Rifai et al. (2011).

Two ways to compute the squared Frobenius norm of the encoder's Jacobian, per
example: a closed form for one sigmoid dense layer (cheap: no Jacobian is
formed) and the general batch Jacobian for any encoder.
"""

import tensorflow as tf
from keras import ops


def sigmoid_dense_jacobian_norm(hidden, kernel):
    """||dh/dx||_F^2 per example for h = sigmoid(x @ kernel + b).

    dh_j/dx_i = h_j (1 - h_j) W_ij, so the norm is
    sum_j (h_j (1 - h_j))^2 * sum_i W_ij^2. ``hidden`` is (batch, units),
    ``kernel`` is (inputs, units) as in ``keras.layers.Dense``.
    """
    slope = ops.square(hidden * (1.0 - hidden))
    column_norms = ops.sum(ops.square(kernel), axis=0)
    return ops.sum(slope * column_norms[None, :], axis=-1)


def jacobian_frobenius_norm(function, x):
    """||d function(x) / dx||_F^2 per example for any differentiable encoder.

    Uses ``tf.GradientTape.batch_jacobian`` (memory: batch x code x inputs),
    and stays differentiable, so it can sit inside a training loss.
    """
    with tf.GradientTape() as tape:
        tape.watch(x)
        code = function(x)
    jacobian = tape.batch_jacobian(code, x)
    # (batch, code, *input shape): every axis but the batch's is summed.
    return tf.reduce_sum(tf.square(jacobian), axis=list(range(1, len(jacobian.shape))))
