"""Training on several devices or machines with ``tf.distribute``.

Build and compile a model inside ``strategy.scope()``, then call ``fit`` as
usual. For a model built under a strategy, aezoo's ``fit`` (the autoencoders'
and ``pretrain.RBM``'s) feeds in-memory arrays through ``replica_batches``:

- every epoch's order is a function of (seed, epoch) only, the same on every
  worker and after a restart, so each worker takes its own, disjoint rows of
  each global batch (Keras' own array input shuffles each worker differently,
  so its shards overlap);
- the last partial global batch of an epoch is dropped, so every replica of
  every worker runs the same number of equal steps;
- after a restart from ``BackupAndRestore`` the order resumes at the saved
  epoch, so a resumed run ends with the weights of an uninterrupted one.

``make_strategy("multi-worker")`` reads ``TF_CONFIG`` (Kubernetes, Slurm and
Ray set it per worker; see docs/multi-worker.md). Only the chief writes files:
``is_chief`` says which process that is, and ``ChiefBackupAndRestore`` is
``keras.callbacks.BackupAndRestore`` with the chief alone writing the backup.
"""

import inspect
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.distribute import distribute_lib

from aezoo import keras_fixes
from aezoo.arrays import shared_tensor

STRATEGIES = ("one-device", "mirrored", "multi-worker")
# The shuffle seed of a model without one: every worker must draw the same order.
DEFAULT_SEED = 0


# ------------------------------------------------------------------ strategies
def read_tf_config(environ=None):
    """The cluster and this task from ``TF_CONFIG``, checked.

    Raises ValueError naming the problem when it is missing or malformed.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise ValueError("multi-worker training needs TF_CONFIG, the JSON cluster description "
                         "each worker gets (see docs/multi-worker.md); it is not set.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]!r}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker"):
        raise ValueError("TF_CONFIG has no cluster.worker list of host:port addresses: "
                         f"{text[:200]!r}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f"TF_CONFIG has no task with a type and an index: {text[:200]!r}")
    members = cluster.get(task["type"])
    if not isinstance(members, list) or not 0 <= int(task["index"]) < len(members):
        raise ValueError(f"TF_CONFIG's task {task['type']}:{task['index']} is not in its cluster "
                         f"{cluster}.")
    return config


def make_strategy(name):
    """A ``tf.distribute`` strategy by its command-line name (see ``STRATEGIES``).

    "one-device": the first GPU, else the CPU. "mirrored": every local GPU (or
    the CPU). "multi-worker": ``MultiWorkerMirroredStrategy`` over the cluster
    in ``TF_CONFIG``; create it before any other TensorFlow work in the
    process, as TensorFlow requires.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}.")
    if name == "one-device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    read_tf_config()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    keras_fixes.install(strategy)
    return strategy


def is_explicit(strategy):
    """Whether ``strategy`` is one the user chose, not TensorFlow's default (no strategy)."""
    return strategy is not distribute_lib._get_default_strategy()


def worker_index(strategy=None):
    """(this worker's index, the number of workers) under ``strategy``; (0, 1) off a cluster."""
    strategy = strategy or tf.distribute.get_strategy()
    if not keras_fixes.in_multi_worker_mode(strategy):
        return 0, 1
    resolver = strategy.cluster_resolver
    cluster = resolver.cluster_spec().as_dict()
    workers = len(cluster.get("worker", ())) + len(cluster.get("chief", ()))
    offset = 1 if "chief" in cluster and resolver.task_type == "worker" else 0
    return int(resolver.task_id) + offset, workers


def is_chief(strategy=None):
    """Whether this process writes the files (checkpoints, models): worker 0, or the chief."""
    return worker_index(strategy)[0] == 0


# ------------------------------------------------------------------------ data
def replica_batches(strategy, arrays, batch_size, *, epochs, initial_epoch=0, shuffle=True,
                    seed=None):
    """Global batches of ``arrays`` split over ``strategy``'s replicas; returns (dataset, steps).

    ``arrays``: equal-length arrays (x, or x and y, or x, y and sample
    weights), each element of the dataset is this replica's rows of each.
    The dataset runs epochs ``initial_epoch`` to ``epochs`` back to back; pass
    ``steps_per_epoch=steps`` to ``fit``. Replica r of the global batch gets
    its rows r * b to (r + 1) * b, b = batch_size / replicas, so row order
    within a step is the one-device order.
    """
    n = len(arrays[0])
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"batch_size {batch_size} does not split evenly over {replicas} "
                         f"replicas; use a multiple of {replicas}.")
    steps = n // batch_size
    if steps == 0:
        raise ValueError(f"{n} rows make no full global batch of {batch_size}; under a "
                         "distribution strategy the last partial batch of an epoch is dropped.")
    per_replica = batch_size // replicas
    seed = DEFAULT_SEED if seed is None else int(seed)
    tensors = tuple(shared_tensor(np.asarray(a)) for a in arrays)

    def dataset_fn(context):
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def epoch_rows(epoch):
            order = tf.range(n)
            if shuffle:
                order = tf.random.experimental.stateless_shuffle(
                    order, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
            steps_replicas_rows = tf.reshape(order[: steps * batch_size],
                                             (steps, replicas, per_replica))
            mine = steps_replicas_rows[:, first : first + local]
            # One element per local replica per step, in replica order: the
            # distributed iterator hands them out in turn.
            return tf.data.Dataset.from_tensor_slices(tf.reshape(mine, (-1, per_replica)))

        indices = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_rows)
        rows = tf.data.Dataset.zip(indices, tf.data.Dataset.from_tensors(tensors).repeat()).map(
            lambda index, whole: tuple(tf.gather(t, index) for t in whole)
            if len(whole) > 1 else tf.gather(whole[0], index))
        options = tf.data.Options()
        # The rows are already this worker's own; nothing to tune (see pretrain.rbm).
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        options.autotune.enabled = False
        return rows.prefetch(2).with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn), steps


def saved_epoch(callbacks):
    """The epoch a ``BackupAndRestore`` among ``callbacks`` will resume from; 0 if none."""
    epoch = 0
    for callback in callbacks or ():
        path = getattr(callback, "_training_metadata_path", None)
        if isinstance(callback, keras.callbacks.BackupAndRestore) and os.path.exists(path):
            with open(path) as f:
                epoch = max(epoch, int(json.load(f)["epoch"]))
    return epoch


_FIT_SIGNATURE = inspect.signature(keras.Model.fit)


def fit_on_replicas(fit, model, args, kwargs, *, seed=None):
    """Calls Keras' ``fit`` with in-memory arrays fed by ``replica_batches``.

    ``fit`` is the bound Keras ``fit``; ``args``/``kwargs`` are the user's
    ``fit`` arguments (x, y, ... as Keras takes them; y given whenever
    sample_weight is). Used by aezoo's models
    when they are built under an explicit strategy.
    """
    options = _FIT_SIGNATURE.bind(model, *args, **kwargs).arguments
    options.pop("self")
    x, y, weights = (options.pop(name, None) for name in ("x", "y", "sample_weight"))
    for name in ("validation_split", "steps_per_epoch", "class_weight"):
        if options.get(name):
            raise ValueError(f"fit's {name} is not supported on in-memory arrays under a "
                             "distribution strategy; pass validation_data for held-out data.")
        options.pop(name, None)
    strategy = model.distribute_strategy
    keras_fixes.install(strategy)
    epochs = options.pop("epochs", _FIT_SIGNATURE.parameters["epochs"].default)
    batch_size = options.pop("batch_size", None) or 32
    initial_epoch = max(options.pop("initial_epoch", 0) or 0, saved_epoch(options.get("callbacks")))
    # The models pass y = x along with sample weights (Keras drops weights without y).
    arrays = [x] + [a for a in (y, weights) if a is not None]
    dataset, steps = replica_batches(
        strategy, arrays, batch_size, epochs=epochs, initial_epoch=initial_epoch,
        shuffle=options.pop("shuffle", True), seed=seed)
    _align_steps_per_execution(model, steps)
    # shuffle=False: the order is replica_batches' (Keras would warn it ignores True).
    return fit(dataset, epochs=epochs, steps_per_epoch=steps, initial_epoch=initial_epoch,
               shuffle=False, **options)


def _align_steps_per_execution(model, steps):
    """Keeps each compiled call within one epoch: epochs run back to back in one stream.

    With several replicas, one step per call: Keras 3.15's several-step loop
    fails on a distributed dataset, with MirroredStrategy as with 2 workers
    ("You must feed a value for placeholder tensor 'while/cond/Placeholder'").
    """
    wanted = model.steps_per_execution
    if model.distribute_strategy.num_replicas_in_sync > 1:
        wanted = 1
    wanted = math.gcd(steps, wanted)
    if wanted != model.steps_per_execution:
        model.steps_per_execution = wanted
        model.train_function = None


# ------------------------------------------------------------------- callbacks
class ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` for a cluster: every worker restores, only the chief writes.

    Keras' own callback has no chief logic, so every worker would write (and
    at the end delete) the same files. Give every worker the same
    ``backup_dir`` on storage they share.
    """

    def _save_model(self):
        if is_chief(self.model.distribute_strategy):
            super()._save_model()

    def on_train_end(self, logs=None):
        if is_chief(self.model.distribute_strategy):
            super().on_train_end(logs)
