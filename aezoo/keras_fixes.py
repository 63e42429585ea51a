"""Two defects of Keras 3's TensorFlow trainer under MultiWorkerMirroredStrategy, worked around.

Keras has no multi-worker tests of its own, and with Keras 3.15 on TensorFlow
2.21 ``fit`` fails on a real cluster in two places:

1. ``reduce_per_replica``: in multi-worker mode, reduction "mean" calls
   ``strategy.reduce("MEAN", value, axis=0)``, which fails on every scalar
   log ("Invalid reduction dimension 0 for input with 0 dimensions");
   keras-team/keras#20585, tensorflow/tensorflow#72388. The fix reduces a
   scalar with ``axis=None`` (the mean over replicas) and leaves every other
   value to Keras.
2. ``_maybe_symbolic_build``: before the first epoch Keras reduces the first
   batch with one ``strategy.reduce`` over the whole ``(x, y)`` structure, which
   the collective cross-device ops refuse ("Attempt to convert a value
   (PerReplica...) to a Tensor"). The fix reduces it leaf by leaf.

``install(strategy)`` first probes this Keras and TensorFlow under the
strategy, and replaces a function only when its probe reproduces the defect,
so an upgraded Keras that no longer has it runs its own code. The probes run
the same steps on every worker, so the workers' collectives stay in step.
This module is the only place aezoo touches Keras internals for distribution.
"""

import tensorflow as tf
from keras import tree
from keras.src.backend.tensorflow import trainer as keras_tf_trainer

# The fixes installed in this process, by name (see ``install``), and each
# probe's finding, so a probe runs once per process.
installed = set()
needed = {}
_original_reduce_per_replica = keras_tf_trainer.reduce_per_replica
_original_symbolic_build = keras_tf_trainer.TensorFlowTrainer._maybe_symbolic_build


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` is a MultiWorkerMirroredStrategy over more than one worker."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def scalar_mean_reduce_fails(strategy):
    """Whether Keras' own ``reduce_per_replica`` fails on a scalar log under ``strategy``.

    It only traces the reduction (a graph is built, nothing runs), so no
    collective starts.
    """
    @tf.function(autograph=False)
    def probe():
        value = strategy.run(lambda: tf.constant(0.0))
        return _original_reduce_per_replica({"loss": value}, strategy, "mean")

    try:
        probe.get_concrete_function()
    except ValueError as error:
        if "Invalid reduction dimension" in str(error):
            return True
        raise
    return False


def structure_reduce_fails(strategy):
    """Whether ``strategy.reduce`` refuses a tuple of per-replica values, as Keras passes it.

    Where the strategy accepts it, this runs one small all-reduce (on every
    worker alike).
    """
    value = strategy.experimental_distribute_values_from_function(lambda _: tf.constant(0.0))
    try:
        strategy.reduce("MEAN", (value, value), axis=None)
    except ValueError as error:
        if "Attempt to convert a value (PerReplica" in str(error):
            return True
        raise
    return False


def reduce_per_replica(values, strategy, reduction):
    """Keras' ``reduce_per_replica``, with scalars averaged over replicas in multi-worker mode."""
    if reduction in ("auto", "mean") and in_multi_worker_mode(strategy):
        def reduce(value):
            if isinstance(value, tf.distribute.DistributedValues) or tf.is_tensor(value):
                if value.shape.rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
            return _original_reduce_per_replica(value, strategy, reduction)

        return tree.map_structure(reduce, values)
    return _original_reduce_per_replica(values, strategy, reduction)


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Keras' first-batch build, with the batch reduced leaf by leaf in multi-worker mode."""
    strategy = self._distribute_strategy
    if iterator is None or strategy is None or not in_multi_worker_mode(strategy):
        return _original_symbolic_build(self, iterator=iterator, data_batch=data_batch)
    for _, _, batches in iterator:
        batch = next(batches)
        data_batch = tree.map_structure(
            lambda value: strategy.reduce("MEAN", value, axis=None)
            if isinstance(value, tf.distribute.DistributedValues) else value,
            batch,
        )
        break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def install(strategy):
    """Installs the fixes ``strategy`` needs with this Keras; returns the set installed.

    Does nothing outside multi-worker mode. Safe to call more than once.
    """
    if not in_multi_worker_mode(strategy):
        return set(installed)
    if "reduce_per_replica" not in needed:
        needed["reduce_per_replica"] = scalar_mean_reduce_fails(strategy)
        if needed["reduce_per_replica"]:
            keras_tf_trainer.reduce_per_replica = reduce_per_replica
            installed.add("reduce_per_replica")
    if "symbolic_build" not in needed:
        needed["symbolic_build"] = structure_reduce_fails(strategy)
        if needed["symbolic_build"]:
            keras_tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
            installed.add("symbolic_build")
    return set(installed)
