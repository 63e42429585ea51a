"""Training on in-memory arrays without ``fit``'s per-epoch overhead.

``fit_arrays(model, x, ...)`` trains an aezoo model with the model's own
``train_step`` and ``test_step`` (so its loss, penalty and metrics are the
ones ``fit`` uses), but each epoch is one call of one compiled function:
the shuffle, every batch and the validation loss run inside the graph. On a
table of a few thousand rows Keras' ``fit`` spends most of its time outside
the arithmetic (a new ``tf.data`` iterator per epoch for training and again
for validation, callbacks, a second compiled function for ``evaluate``);
here that is one function call per epoch. Early stopping restores the best
weights, as ``keras.callbacks.EarlyStopping(restore_best_weights=True)``.

Use ``fit`` for everything else (datasets, callbacks, distribution
strategies); this is for small tables that fit in memory, where the
anomaly detector trains many models.
"""

import math

import numpy as np
import tensorflow as tf

__all__ = ["fit_arrays"]


def fit_arrays(model, x, validation=None, *, epochs, batch_size, patience=None, seed=0,
               verbose=0):
    """Trains a compiled aezoo ``model`` on the rows ``x``; returns a history dict.

    Args:
        model: a compiled aezoo model (its scaling already adapted, if any).
        x: (N, features) float32 training rows; the target is ``x``.
        validation: rows for early stopping, or None to monitor the training loss.
        epochs: the most epochs.
        batch_size: rows per step (the last batch of an epoch may be smaller).
        patience: epochs without a better monitored loss before stopping, and
            the best weights are restored; None trains every epoch.
        seed: seeds the per-epoch shuffles.
        verbose: 1 prints one line per epoch.

    Returns:
        {"loss": [...], "val_loss": [...] (with validation)}: one value per epoch run
    """
    array = np.asarray(x, np.float32)
    rows = len(array)
    if rows == 0:
        raise ValueError("fit_arrays needs at least one training row")
    batch_size = max(1, min(int(batch_size), rows))
    steps = math.ceil(rows / batch_size)
    validation = None if validation is None or len(validation) == 0 else tf.constant(
        np.asarray(validation, np.float32))
    model.check_target_range(array)
    x = tf.constant(array)
    model.optimizer.build(model.trainable_variables)

    # Without autograph: the loop is written as a tf.while_loop, and tracing
    # (most of the cost of a small table's whole fit) skips the conversion.
    @tf.function(autograph=False)
    def run_epoch(epoch):
        for metric in model.metrics:
            metric.reset_state()
        order = tf.argsort(tf.random.stateless_uniform(
            [rows], seed=tf.stack([tf.constant(seed, tf.int64), epoch])))

        def step(index, _):
            batch = tf.gather(x, order[index * batch_size:(index + 1) * batch_size])
            return index + 1, model.train_step(batch)["loss"]

        _, loss = tf.while_loop(lambda index, _: index < steps, step,
                                (tf.constant(0), tf.constant(0.0)))
        if validation is None:
            return loss, loss
        for metric in model.metrics:
            metric.reset_state()
        return loss, model.test_step(validation)["loss"]

    history = {"loss": [], **({"val_loss": []} if validation is not None else {})}
    monitored = "val_loss" if validation is not None else "loss"
    best, best_weights, waited = math.inf, None, 0
    for epoch in range(int(epochs)):
        loss, val_loss = (float(v) for v in run_epoch(tf.constant(epoch, tf.int64)))
        history["loss"].append(loss)
        if validation is not None:
            history["val_loss"].append(val_loss)
        if verbose:
            shown = f" - val_loss {val_loss:.4f}" if validation is not None else ""
            print(f"epoch {epoch + 1}/{epochs} - loss {loss:.4f}{shown}", flush=True)
        current = history[monitored][-1]
        if not math.isfinite(current):
            raise FloatingPointError(f"the {monitored} became {current} at epoch {epoch + 1}; "
                                     "lower the learning rate")
        if patience is None:
            continue
        if current < best:
            best, waited = current, 0
            best_weights = [v.numpy() for v in model.trainable_variables]
        else:
            waited += 1
            if waited >= patience:
                break
    if patience is not None and best_weights is not None:
        for variable, value in zip(model.trainable_variables, best_weights):
            variable.assign(value)
    return history
