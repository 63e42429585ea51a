"""Restricted Boltzmann machines trained by contrastive divergence (Hinton 2002, 2006).

The update rule, initialisation and defaults follow Hinton & Salakhutdinov's
released code (rbm.m, rbmhidlinear.m); see ../shared/REFERENCES.md:

    W_inc = momentum * W_inc + lr * ((<v h>_data - <v h>_model) / n - weight_cost * W)
    W    += W_inc                                     (biases: no weight cost)

``RBM`` is a ``keras.Model`` whose ``train_step`` is one CD-k update, so
``fit`` gives progress, callbacks, ``History`` and ``steps_per_execution``
(several updates per compiled call, which is what makes it fast).
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from aezoo import (
    backend,  # noqa: F401  (TensorFlow backend check)
    distribute,
)
from aezoo.arrays import aligned_empty, as_shareable, shared_tensor
from aezoo.validation import check_array

VISIBLE_TYPES = ("binary", "gaussian")
HIDDEN_TYPES = ("binary", "linear")


@keras.saving.register_keras_serializable(package="pretrain")
class RBM(keras.Model):
    """An RBM with binary or Gaussian visible units and binary or linear hidden units.

    Args:
        n_hidden: number of hidden units.
        visible: "binary" (data in [0, 1], read as probabilities) or
            "gaussian" (real-valued, unit variance: standardise the data).
        hidden: "binary" (logistic) or "linear" (Gaussian noise of unit
            variance: Hinton's code layer).
        learning_rate: default 0.1, or 0.001 when a unit type is real-valued
            (the released code's rate for the linear code layer).
        weight_cost: L2 weight decay on the weights only (2e-4).
        initial_momentum, final_momentum, momentum_switch_epoch: momentum 0.5
            for the first 5 epochs, then 0.9.
        cd_steps: k in CD-k.
        persistent_chains: 0 for CD-k; n > 0 for persistent CD with n
            fantasy particles (Tieleman 2008).
        steps_per_execution: CD updates per compiled call.
        seed: seeds initialisation and sampling.
        dtype: "float32" (default), or "mixed_bfloat16": the matrix products
            in bfloat16 (about 2x the float32 rate on CPUs with AVX512-BF16 or
            AMX, and on GPUs; slower where bfloat16 is emulated), everything
            else, the weights and their updates included, in float32.
    """

    def __init__(
        self,
        n_hidden,
        visible="binary",
        hidden="binary",
        *,
        learning_rate=None,
        weight_cost=2e-4,
        initial_momentum=0.5,
        final_momentum=0.9,
        momentum_switch_epoch=5,
        cd_steps=1,
        persistent_chains=0,
        steps_per_execution=50,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(n_hidden, bool) or int(n_hidden) != n_hidden or n_hidden < 1:
            raise ValueError(f"n_hidden must be a positive integer, got {n_hidden!r}.")
        if visible not in VISIBLE_TYPES:
            raise ValueError(f"visible must be one of {VISIBLE_TYPES}, got {visible!r}.")
        if hidden not in HIDDEN_TYPES:
            raise ValueError(f"hidden must be one of {HIDDEN_TYPES}, got {hidden!r}.")
        if int(cd_steps) < 1:
            raise ValueError(f"cd_steps (k in CD-k) must be >= 1, got {cd_steps}.")
        if int(persistent_chains) < 0:
            raise ValueError(f"persistent_chains must be >= 0, got {persistent_chains}.")
        if learning_rate is None:
            real_valued = visible == "gaussian" or hidden == "linear"
            learning_rate = 0.001 if real_valued else 0.1
        if not float(learning_rate) > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
        if float(weight_cost) < 0:
            raise ValueError(f"weight_cost must be >= 0, got {weight_cost}.")
        if self.dtype_policy.variable_dtype != "float32":
            raise ValueError(
                f"RBM keeps its weights and their updates in float32, but dtype "
                f"{self.dtype_policy.name!r} stores them as {self.dtype_policy.variable_dtype}; "
                "use dtype='mixed_bfloat16' for bfloat16 products.")
        # The dtype of the matrix products (see _product); all else is float32.
        self.product_dtype = self.dtype_policy.compute_dtype
        self.n_hidden = int(n_hidden)
        self.visible = visible
        self.hidden = hidden
        self.learning_rate = float(learning_rate)
        self.weight_cost = float(weight_cost)
        self.initial_momentum = float(initial_momentum)
        self.final_momentum = float(final_momentum)
        self.momentum_switch_epoch = int(momentum_switch_epoch)
        self.cd_steps = int(cd_steps)
        self.persistent_chains = int(persistent_chains)
        self.steps_per_execution = int(steps_per_execution)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.error_tracker = keras.metrics.Mean(name="reconstruction_error")
        # Compiled versions of hidden_mean, free_energy_of... made on first use,
        # so callbacks that run them every epoch do not retrace each time.
        self._compiled = {}

    def get_config(self):
        return {
            **super().get_config(),
            "n_hidden": self.n_hidden,
            "visible": self.visible,
            "hidden": self.hidden,
            "learning_rate": self.learning_rate,
            "weight_cost": self.weight_cost,
            "initial_momentum": self.initial_momentum,
            "final_momentum": self.final_momentum,
            "momentum_switch_epoch": self.momentum_switch_epoch,
            "cd_steps": self.cd_steps,
            "persistent_chains": self.persistent_chains,
            "steps_per_execution": self.steps_per_execution,
            "seed": self.seed,
        }

    def build(self, input_shape):
        if self.built:
            return
        self.n_visible = int(input_shape[-1])
        shape = (self.n_visible, self.n_hidden)
        self.kernel = self.add_weight(
            shape=shape,
            initializer=keras.initializers.RandomNormal(stddev=0.1, seed=self.seed),
            name="kernel",
        )
        self.hidden_bias = self.add_weight(
            shape=(self.n_hidden,), initializer="zeros", name="hidden_bias"
        )
        self.visible_bias = self.add_weight(
            shape=(self.n_visible,), initializer="zeros", name="visible_bias"
        )
        self.parameters = [self.kernel, self.hidden_bias, self.visible_bias]
        # Momentum state: the previous update of each parameter.
        self.increments = [
            self.add_weight(shape=p.shape, initializer="zeros", trainable=False,
                            name=f"{p.name}_increment")
            for p in self.parameters
        ]
        self.momentum = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_momentum),
            trainable=False, name="momentum",
        )
        if self.persistent_chains:
            self.chains = self.add_weight(
                shape=(self.persistent_chains, self.n_visible),
                initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed),
                trainable=False,
                name="persistent_chains",
            )
        self.built = True

    # ------------------------------------------------------------ conditionals
    def _product(self, a, b, transpose_b=False):
        """a @ b (or a @ b^T) in the product dtype, returned as float32.

        In float32 this is a plain matmul; under "mixed_bfloat16" the operands
        are rounded to bfloat16 and the product comes back as float32.
        """
        if self.product_dtype == "float32":
            return tf.matmul(a, b, transpose_b=transpose_b)
        low = tf.as_dtype(self.product_dtype)
        product = tf.matmul(tf.cast(a, low), tf.cast(b, low), transpose_b=transpose_b)
        return tf.cast(product, a.dtype)

    def hidden_mean(self, v):
        """E[h | v]: probabilities (binary) or means (linear)."""
        # bias_add (not +) lets TensorFlow fuse it into the product on CPU.
        pre = tf.nn.bias_add(self._product(v, self.kernel), self.hidden_bias)
        return tf.sigmoid(pre) if self.hidden == "binary" else pre

    def visible_mean(self, h):
        """E[v | h]: probabilities (binary) or means (Gaussian)."""
        # (W h^T)^T rather than h W^T: TensorFlow's CPU kernel runs the
        # product whose large operand is not transposed about 1.2x faster.
        product = tf.transpose(self._product(self.kernel, h, transpose_b=True))
        pre = tf.nn.bias_add(product, self.visible_bias)
        return tf.sigmoid(pre) if self.visible == "binary" else pre

    def sample_hidden(self, mean, batch_rows=False):
        """A sample of the hidden units given their means (``batch_rows``: see ``_noise``)."""
        if self.hidden == "binary":
            return tf.cast(self._noise(mean, "uniform", batch_rows) < mean, mean.dtype)
        return mean + self._noise(mean, "normal", batch_rows)

    def sample_visible(self, mean):
        if self.visible == "binary":
            return tf.cast(self._noise(mean, "uniform") < mean, mean.dtype)
        return mean + self._noise(mean, "normal")

    def _noise(self, mean, kind, batch_rows=False):
        """Uniform or unit normal noise shaped like ``mean``.

        ``batch_rows``: the rows of ``mean`` are this replica's rows of the
        global batch. With several replicas each draws the noise of the whole
        global batch (their seed states are equal) and keeps its own rows, so
        every example gets the noise it gets on one device.
        """
        draw = keras.random.uniform if kind == "uniform" else keras.random.normal
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        if not batch_rows or replicas == 1:
            return draw(tf.shape(mean), seed=self.seed_generator)
        rows = tf.shape(mean)[0]
        whole = draw(tf.concat([[rows * replicas], tf.shape(mean)[1:]], 0),
                     seed=self.seed_generator)
        start = tf.cast(context.replica_id_in_sync_group, tf.int32) * rows
        return whole[start : start + rows]

    def free_energy_of(self, v):
        """F(v) = -log sum_h exp(-E(v, h)), up to a constant for linear hidden units."""
        pre = tf.matmul(v, self.kernel) + self.hidden_bias
        if self.visible == "binary":
            visible_term = -tf.linalg.matvec(v, self.visible_bias)
        else:
            visible_term = 0.5 * tf.reduce_sum(tf.square(v - self.visible_bias), axis=-1)
        if self.hidden == "binary":
            hidden_term = -tf.reduce_sum(tf.nn.softplus(pre), axis=-1)
        else:
            hidden_term = -0.5 * tf.reduce_sum(tf.square(pre), axis=-1)
        return visible_term + hidden_term

    # ---------------------------------------------------------------- training
    def compile(self, optimizer=None, **kwargs):
        # The CD update is written out in train_step; there is no optimizer.
        if optimizer is not None:
            raise ValueError("RBM applies its own contrastive-divergence update; "
                             "set learning_rate and momentum on the RBM instead.")
        kwargs.setdefault("steps_per_execution", self.steps_per_execution)
        super().compile(optimizer=None, **kwargs)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))

    def train_step(self, data):
        if isinstance(data, tuple):
            # On one device fit feeds each step the indices of its batch and
            # the whole training set (by reference): gathering the batch here
            # measured about 1.1x faster than a tf.data pipeline that copies
            # every batch to this step.
            batch_indices, examples = data
            v_data = tf.cast(tf.gather(examples, batch_indices), self.kernel.dtype)
        else:
            # Under a strategy: this replica's rows of the global batch
            # (aezoo.distribute.replica_batches).
            v_data = tf.cast(data, self.kernel.dtype)
        return self.contrastive_divergence_step(v_data)

    def contrastive_divergence_step(self, v_data):
        """One CD-k (or persistent CD) update on the batch ``v_data``.

        Under a strategy with several replicas ``v_data`` is this replica's
        share of the global batch: the statistics are summed over every
        replica of every worker in one all-reduce, and each replica applies
        the same update to its copy of the weights, which is the one-device
        update on the global batch.
        """
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        h_data = self.hidden_mean(v_data)
        # The weight cost c is folded into the step size: with s = 1/(n c),
        #   lr * (<v h>_model/n - <v h>_data/n + c W)
        #     = (lr c) * (s <v h>_model - s <v h>_data + W),
        # so the descent needs no separate pass over W to scale it. Without a
        # weight cost, c stands in as 1 and the W term is left out.
        unit = self.weight_cost or 1.0
        positive = self._scaled_statistics(v_data, h_data, unit, replicas)
        if replicas == 1:
            # Computed now, this product overlaps with the Gibbs chain below.
            descent_kernel = self.kernel - positive if self.weight_cost else -positive
        v_recon = self.visible_mean(self.sample_hidden(h_data, batch_rows=True))
        if self.persistent_chains:
            v_model = self.visible_mean(self.sample_hidden(self.hidden_mean(self.chains)))
        else:
            v_model = v_recon
        h_model = self.hidden_mean(v_model)
        for _ in range(self.cd_steps - 1):
            v_model = self.visible_mean(
                self.sample_hidden(h_model, batch_rows=not self.persistent_chains))
            h_model = self.hidden_mean(v_model)
        if self.persistent_chains:
            # The fantasy particles stay a Gibbs chain: keep sampled states.
            # (Every replica runs the same chains: their noise is not split.)
            self.chains.assign(self.sample_visible(v_model))

        descent_hidden_bias = (self._replica_mean(h_model, replicas)
                               - self._replica_mean(h_data, replicas))
        descent_visible_bias = (self._replica_mean(v_model, replicas)
                                - self._replica_mean(v_data, replicas))
        error = tf.reduce_sum(tf.square(v_data - v_recon), axis=-1)
        # The small reductions finish before the last product starts, rather
        # than competing with it for the cores.
        with tf.control_dependencies([descent_hidden_bias, descent_visible_bias, error]):
            negative = self._scaled_statistics(v_model, h_model, unit, replicas)
        if replicas == 1:
            descent_kernel = negative + descent_kernel
        else:
            # One all-reduce, in the same order on every step and worker.
            statistics, descent_hidden_bias, descent_visible_bias = (
                tf.distribute.get_replica_context().all_reduce(
                    "sum", [negative - positive, descent_hidden_bias, descent_visible_bias]))
            descent_kernel = statistics + self.kernel if self.weight_cost else statistics
        self._apply_momentum(self.kernel, self.increments[0], descent_kernel,
                             self.learning_rate * unit)
        self._apply_momentum(self.hidden_bias, self.increments[1], descent_hidden_bias)
        self._apply_momentum(self.visible_bias, self.increments[2], descent_visible_bias)

        self.error_tracker.update_state(error)
        return {"reconstruction_error": self.error_tracker.result()}

    @staticmethod
    def _replica_mean(t, replicas):
        """This replica's share of the mean over the global batch (the mean, on one device)."""
        if replicas == 1:
            return tf.reduce_mean(t, 0)
        return tf.reduce_sum(t, 0) / tf.cast(tf.shape(t)[0] * replicas, t.dtype)

    def _scaled_statistics(self, v, h, unit, replicas=1):
        """v^T h / (global batch size * unit): the pairwise statistics, scaled.

        With several replicas, this replica's share of the global statistics.
        """
        scale = 1.0 / (tf.cast(tf.shape(v)[0] * replicas, v.dtype) * unit)
        # An explicit transpose then a plain product: faster on CPU than
        # matmul(..., transpose_a=True) for these shapes.
        return self._product(tf.transpose(v * scale), h)

    def _apply_momentum(self, parameter, increment, descent, rate=None):
        """increment = momentum * increment - rate * descent; parameter += increment.

        TensorFlow's fused kernel for exactly this update (the form Keras' SGD
        uses) makes one pass over the weights instead of five separate ops.
        ``rate`` defaults to the learning rate.
        """
        rate = self.learning_rate if rate is None else rate
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=parameter.handle,
            accum=increment.handle,
            lr=tf.constant(rate, parameter.dtype),
            grad=descent,
            momentum=tf.cast(self.momentum, parameter.dtype),
            use_locking=False,
        )

    def test_step(self, data):
        v = tf.cast(keras.utils.unpack_x_y_sample_weight(data)[0], self.kernel.dtype)
        self.error_tracker.update_state(
            tf.reduce_sum(tf.square(v - self.reconstruct_tensor(v)), axis=-1)
        )
        return {"reconstruction_error": self.error_tracker.result()}

    @property
    def metrics(self):
        return [self.error_tracker]

    def fit(self, x, epochs=10, batch_size=100, validation_data=None, callbacks=None,
            verbose="auto", **kwargs):
        """Trains by CD-k; returns the Keras ``History``.

        Each epoch reports ``reconstruction_error`` (squared error of the
        one-step reconstruction, summed over units) and, with
        ``validation_data``, ``free_energy_gap``: mean free energy of held-out
        data minus that of as many training examples. A gap that keeps
        growing means the RBM is overfitting (Hinton's practical guide, 6.1).
        """
        # Aligned, the training set reaches TensorFlow without a copy.
        x = self._check_data(x, shareable=True)
        self._build_in_scope(x.shape)
        if not self.compiled:
            self.compile()
        callbacks = [MomentumSchedule(), *(callbacks or [])]
        if validation_data is not None:
            validation_data = self._check_data(validation_data, "validation_data")
            n = min(len(x), len(validation_data), 10000)
            callbacks.insert(1, FreeEnergyGap(x[:n], validation_data[:n]))
        if distribute.is_explicit(self.distribute_strategy):
            return distribute.fit_on_replicas(
                super().fit, self, (x,),
                {"epochs": epochs, "batch_size": batch_size, "callbacks": callbacks,
                 "validation_data": validation_data, "verbose": verbose, **kwargs},
                seed=self.seed)
        with warnings.catch_warnings():
            # Keras warns once that a dataset of unknown length "ran out of
            # data"; here that is just the end of the first epoch.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            return super().fit(
                batches_by_index(x, batch_size, seed=self.seed),
                epochs=epochs, callbacks=callbacks, validation_data=validation_data,
                verbose=verbose, shuffle=False, **kwargs,
            )

    # ------------------------------------------------------------------- usage
    def call(self, x):
        return self.hidden_mean(tf.cast(x, self.kernel.dtype))

    def transform(self, x, batch_size=1000):
        """Hidden probabilities (binary) or means (linear) for ``x``, as NumPy."""
        x = self._check_data(x)
        return self._batched(self.hidden_mean, x, batch_size)

    def reconstruct_tensor(self, v):
        return self.visible_mean(self.hidden_mean(v))

    def reconstruct(self, x, batch_size=1000):
        """The deterministic up-down pass E[v | E[h | x]], as NumPy."""
        x = self._check_data(x)
        return self._batched(self.reconstruct_tensor, x, batch_size)

    def free_energy(self, x, batch_size=1000):
        """Free energy F(x) per example (nats), as NumPy."""
        x = self._check_data(x)
        return self._batched(self.free_energy_of, x, batch_size)

    def _build_in_scope(self, shape):
        if not self.built:
            # In the strategy's scope, so that under one the weights are
            # mirrored (one copy per replica), not one variable they all update.
            with self.distribute_strategy.scope():
                self.build(shape)

    def _batched(self, function, x, batch_size):
        self._build_in_scope(x.shape)
        name = function.__name__
        if name not in self._compiled:
            self._compiled[name] = tf.function(function, reduce_retracing=True)
        compiled = self._compiled[name]
        # At least one call, so that an empty x still gives the output's width.
        parts = [compiled(tf.constant(x[i : i + batch_size])).numpy()
                 for i in range(0, max(len(x), 1), batch_size)]
        # Aligned, so the next RBM of a stack trains on it without a copy.
        out = aligned_empty((len(x),) + parts[0].shape[1:], parts[0].dtype)
        return np.concatenate(parts, out=out)

    def _check_data(self, x, name="x", shareable=False):
        """``x`` checked, as float32; with ``shareable``, as one TensorFlow reads in place."""
        expected = self.n_visible if self.built else np.shape(x)[-1]
        x = check_array(x, expected, name)
        # One conversion at most: as_shareable casts while it copies.
        x = as_shareable(x) if shareable else x.astype("float32", copy=False)
        if self.visible == "binary" and x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{name} has values outside [0, 1] ({x.min():.3g} to {x.max():.3g}), "
                "but binary visible units read them as probabilities; rescale the "
                "data or use visible='gaussian'."
            )
        return x


def batches_by_index(x, batch_size, seed=None):
    """Each epoch's mini-batches of ``x``, in a fresh random order, as a tf.data pipeline.

    Every element is ``(batch_indices, examples)``: the indices of one batch
    and the whole of ``x`` as one tensor, which tf.data passes by reference,
    so the training step gathers its batch itself and no batch is copied
    through the pipeline. The last batch is smaller when ``batch_size`` does
    not divide ``len(x)``. The order is reproducible from ``seed``. An aligned
    ``x`` (see ``aezoo.arrays``) is read in place, not copied.
    """
    examples = shared_tensor(x)
    n = len(x)
    full = n - n % batch_size

    def one_epoch(epoch_seed):
        # One shuffle of all indices per epoch: element-by-element shuffling
        # in tf.data (Dataset.shuffle) made an MNIST epoch 1.5x slower.
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=epoch_seed)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full], (-1, batch_size)))
        if full < n:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full:]))
        return batches

    # One seed pair per epoch: a new order each time, reproducible from ``seed``.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    indices = seeds.batch(2).take(1).flat_map(one_epoch)
    batches = tf.data.Dataset.zip(indices, tf.data.Dataset.from_tensors(examples).repeat())
    options = tf.data.Options()
    # The pipeline has nothing to tune, and the tuner's background thread made
    # freeing a finished fit's iterator (in Python's garbage collector, often
    # during the next fit) stall for seconds on the project's 2-core machines.
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


class MomentumSchedule(keras.callbacks.Callback):
    """Sets the RBM's momentum at each epoch: initial, then final after the switch."""

    def on_epoch_begin(self, epoch, logs=None):
        model = self.model
        late = epoch >= model.momentum_switch_epoch
        model.momentum.assign(model.final_momentum if late else model.initial_momentum)


class FreeEnergyGap(keras.callbacks.Callback):
    """Adds ``free_energy_gap`` (held-out minus training, nats) to each epoch's logs."""

    def __init__(self, x_train, x_held_out):
        super().__init__()
        self.x_train = x_train
        self.x_held_out = x_held_out

    def on_epoch_end(self, epoch, logs=None):
        gap = np.mean(self.model.free_energy(self.x_held_out)) - np.mean(
            self.model.free_energy(self.x_train)
        )
        if logs is not None:
            logs["free_energy_gap"] = float(gap)
