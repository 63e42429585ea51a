"""Hinton's large-batch fine-tuning: a few quasi-Newton steps per 1000-case batch.

The 2006 code fine-tunes with conjugate gradients, 3 line searches per batch
of 1000 cases. This runs the same schedule with L-BFGS from
tensorflow-probability (``tfp.optimizer.lbfgs_minimize``) on the model's own
loss. It is a loop of optimiser calls, not a training step, so it lives here
rather than in ``fit``: use ``fit`` with Adam or SGD otherwise.
"""

import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from aezoo.validation import check_array


def finetune_lbfgs(model, x, epochs=1, batch_size=1000, iterations_per_batch=3, seed=0,
                   verbose=1):
    """Fine-tunes an aezoo model in place; returns the mean loss per epoch.

    Each epoch shuffles ``x`` into batches of ``batch_size`` and runs
    ``iterations_per_batch`` L-BFGS iterations on each. ``x`` is raw rows: a
    model with ``input_scaling`` scales them itself (fit the scaling first).
    """
    x = check_array(x, model.input_dim).astype("float32", copy=False)
    if int(epochs) < 1 or int(batch_size) < 1 or int(iterations_per_batch) < 1:
        raise ValueError("epochs, batch_size and iterations_per_batch must be >= 1.")
    variables = model.trainable_variables
    shapes = [v.shape for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]

    def assign(flat):
        for variable, piece, shape in zip(variables, tf.split(flat, sizes), shapes):
            variable.assign(tf.reshape(piece, shape))

    @tf.function(reduce_retracing=True)
    def value_and_gradients(flat, batch):
        assign(flat)
        batch = model.scaled_inputs(batch)  # the losses live on the model's scale
        with tf.GradientTape() as tape:
            terms = model.compute_loss_terms(batch, batch, training=True)
            loss = tf.add_n([tf.reduce_mean(t) for t in terms.values()])
        gradients = tape.gradient(loss, variables)
        return loss, tf.concat([tf.reshape(g, [-1]) for g in gradients], 0)

    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(int(epochs)):
        start = time.time()
        order = rng.permutation(len(x))
        losses = []
        for first in range(0, len(x), batch_size):
            batch = tf.constant(x[order[first : first + batch_size]])
            flat = tf.concat([tf.reshape(v, [-1]) for v in variables], 0)
            result = tfp.optimizer.lbfgs_minimize(
                lambda p: value_and_gradients(p, batch),
                initial_position=flat,
                max_iterations=int(iterations_per_batch),
            )
            assign(result.position)
            losses.append(float(result.objective_value))
        history.append(float(np.mean(losses)))
        if verbose:
            print(f"[finetune-lbfgs] epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f} "
                  f"({time.time() - start:.1f}s)", flush=True)
    return history
