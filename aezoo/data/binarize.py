"""Binarization of grey-level images in [0, 1] as Bernoulli samples.

Two conventions from the literature:

* static: one fixed draw, made once (the "binarized MNIST" of
  Salakhutdinov & Murray 2008), so every epoch sees the same binary images;
* dynamic: a fresh draw every epoch, which acts as a regulariser and is the
  usual choice when training VAEs on MNIST.
"""

import numpy as np

from aezoo.arrays import as_shareable


def binarize_static(x, seed=0):
    """Return one fixed Bernoulli draw of ``x``: 1.0 with probability x, else 0.0.

    ``x`` holds probabilities in [0, 1]; the result is float32 of the same
    shape and depends only on (x, seed).
    """
    x = np.asarray(x)
    rng = np.random.default_rng(seed)
    # float32 draws halve the memory of the 60000 x 784 uniform array.
    return as_shareable(rng.random(x.shape, dtype=np.float32) < x, np.float32)


def dynamic_binarization_dataset(x, batch_size=100, shuffle=True, seed=0):
    """Return a tf.data.Dataset of float32 batches of fresh Bernoulli draws of ``x``.

    Each batch has shape (batch, *x.shape[1:]); the last batch is smaller when
    ``batch_size`` does not divide len(x). Every iteration over the dataset
    (every epoch) reshuffles the examples (if ``shuffle``) and draws new
    binary values, yet the whole sequence of epochs is reproducible from
    ``seed``: two datasets built with the same seed yield the same epochs.
    The dataset yields x only, since an autoencoder's target is its input.
    """
    import tensorflow as tf  # Lazy: importing TensorFlow takes seconds.

    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    x = np.asarray(x, dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    # One stateless seed pair per batch, from a seeded random stream that is
    # re-randomized each iteration: new draws per epoch, same epochs per seed.
    # Stateless sampling keeps the parallel map deterministic.
    seeds = tf.data.Dataset.random(
        seed=seed, rerandomize_each_iteration=True).batch(2)

    def draw(batch, pair):
        u = tf.random.stateless_uniform(tf.shape(batch), seed=pair)
        return tf.cast(u < batch, tf.float32)

    ds = tf.data.Dataset.zip((ds, seeds)).map(
        draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
