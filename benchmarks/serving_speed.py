"""Inference speed of an exported SavedModel against the Keras model it came from.

    python benchmarks/serving_speed.py [--rounds 5] [--calls 200] [--batches 20]

The model is the deep autoencoder of Hinton & Salakhutdinov (2006),
784-1000-500-250-30-250-500-1000-784 (sigmoid units, linear code), with
seeded random weights (speed does not depend on training). It is exported
with aezoo.export.export_saved_model to a temporary folder and loaded back
with tf.saved_model.load, in this process; its ``encode`` and ``reconstruct``
signatures are called by name, against the Keras model's own ``encode`` and
``__call__`` (eager, as a user calls them). Both take the same NumPy batches
and return NumPy arrays, so each call includes the conversions a caller pays.

A third row, for reference only, calls the same Keras methods compiled with
tf.function: what the SavedModel's graph amounts to inside Keras.

* latency: --calls calls at batch 1 per contender and round; the median and
  the 99th percentile over all rounds, in milliseconds;
* throughput: --batches calls at batch 256 per contender and round; images/s
  from the median call time.

Contenders rotate order each round, after warm-up calls (tracing is not
timed). The ratio is Keras time / SavedModel time (throughput: SavedModel /
Keras): >= 1.0 means the SavedModel is at least as fast, the target.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from aezoo.export import export_saved_model  # noqa: E402
from aezoo.models import DeepAutoencoder  # noqa: E402

HIDDEN_DIMS = (1000, 500, 250)
LATENT_DIM = 30
INPUT_DIM = 784
THROUGHPUT_BATCH = 256
TARGET_RATIO = 1.0
ENDPOINTS = ("encode", "reconstruct")
LABELS = {
    "keras": "keras model, called directly",
    "savedmodel": "SavedModel signature",
    "keras_tf_function": "(reference) keras in tf.function",
}


def contenders(model, loaded):
    """{endpoint: {name: fn}}, each NumPy batch -> NumPy array.

    "keras" is the target's baseline (the model called directly);
    "keras_tf_function" (the same call compiled with tf.function) is shown for
    reference only: it is what the SavedModel's graph amounts to in Keras.
    """
    spec = [tf.TensorSpec([None, INPUT_DIM], tf.float32)]
    compiled_encode = tf.function(lambda x: model.encode(x), input_signature=spec)
    compiled_call = tf.function(lambda x: model(x), input_signature=spec)
    encode_signature = loaded.signatures["encode"]
    reconstruct_signature = loaded.signatures["reconstruct"]
    return {
        "encode": {
            "keras": lambda x: model.encode(x).numpy(),
            "savedmodel": lambda x: encode_signature(x=tf.constant(x))["code"].numpy(),
            "keras_tf_function": lambda x: compiled_encode(tf.constant(x)).numpy(),
        },
        "reconstruct": {
            "keras": lambda x: model(x).numpy(),
            "savedmodel": lambda x: reconstruct_signature(x=tf.constant(x))["x_hat"].numpy(),
            "keras_tf_function": lambda x: compiled_call(tf.constant(x)).numpy(),
        },
    }


def time_calls(function, x, calls):
    """Seconds per call, one entry per call."""
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        function(x)
        seconds.append(time.perf_counter() - start)
    return seconds


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def measure(functions, x, calls, rounds):
    """{name: [seconds per call]} over all rounds, rotating the order."""
    times = {name: [] for name in functions}
    for round_index in range(rounds):
        names = list(functions)
        shift = round_index % len(names)
        names = names[shift:] + names[:shift]
        for name in names:
            times[name] += time_calls(functions[name], x, calls)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="default: %(default)s")
    parser.add_argument("--calls", type=int, default=200,
                        help="batch-1 calls per contender and round (default: %(default)s)")
    parser.add_argument("--batches", type=int, default=20,
                        help=f"batch-{THROUGHPUT_BATCH} calls per contender and round "
                        "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    args = parser.parse_args(argv)
    if min(args.rounds, args.calls, args.batches) < 1:
        parser.error("--rounds, --calls and --batches must be positive")

    keras.utils.set_random_seed(args.seed)
    model = DeepAutoencoder(INPUT_DIM, HIDDEN_DIMS, LATENT_DIM, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    single = rng.random((1, INPUT_DIM), dtype=np.float32)
    batch = rng.random((THROUGHPUT_BATCH, INPUT_DIM), dtype=np.float32)

    with tempfile.TemporaryDirectory() as base_dir:
        start = time.perf_counter()
        path = export_saved_model(model, base_dir, "deep", warmup=False)
        export_seconds = time.perf_counter() - start
        start = time.perf_counter()
        loaded = tf.saved_model.load(path)
        load_seconds = time.perf_counter() - start
        functions = contenders(model, loaded)

        print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}; devices: "
              + ", ".join(d.name for d in tf.config.list_logical_devices()))
        print(f"model: {INPUT_DIM}-{'-'.join(map(str, HIDDEN_DIMS))}-{LATENT_DIM}-mirror-"
              f"{INPUT_DIM}, {model.count_params():,} parameters; export {export_seconds:.1f} s, "
              f"tf.saved_model.load {load_seconds:.1f} s")
        for endpoint, pair in functions.items():  # warm-up, and a correctness check
            for x in (single, batch):
                outputs = {name: function(x) for name, function in pair.items()}
                for _ in range(5):
                    for function in pair.values():
                        function(x)
                for name, output in outputs.items():
                    gap = float(np.abs(outputs["keras"] - output).max())
                    assert gap < 1e-5, f"{endpoint}: {name} and keras differ by {gap}"
        print(f"outputs agree within 1e-5; {args.rounds} rounds, rotating order, of "
              f"{args.calls} calls at batch 1 and {args.batches} calls at batch "
              f"{THROUGHPUT_BATCH} per contender")

        ratios = {}
        for endpoint in ENDPOINTS:
            latency = measure(functions[endpoint], single, args.calls, args.rounds)
            throughput = measure(functions[endpoint], batch, args.batches, args.rounds)
            print(f"\n{endpoint}:")
            print(f"  {'':33s} {'batch 1 median':>15s} {'p99':>9s} "
                  f"{f'batch {THROUGHPUT_BATCH} images/s':>20s}")
            rates = {}
            for name in ("keras", "savedmodel", "keras_tf_function"):
                median_ms = statistics.median(latency[name]) * 1e3
                p99_ms = percentile(latency[name], 99) * 1e3
                rates[name] = THROUGHPUT_BATCH / statistics.median(throughput[name])
                print(f"  {LABELS[name]:33s} {median_ms:12.3f} ms {p99_ms:6.3f} ms "
                      f"{rates[name]:20.0f}")
            ratios[(endpoint, "batch 1 median")] = (
                statistics.median(latency["keras"]) / statistics.median(latency["savedmodel"])
            )
            ratios[(endpoint, "batch 1 p99")] = (
                percentile(latency["keras"], 99) / percentile(latency["savedmodel"], 99)
            )
            ratios[(endpoint, f"batch {THROUGHPUT_BATCH} throughput")] = (
                rates["savedmodel"] / rates["keras"]
            )

    print(f"\nratios, SavedModel speed / Keras speed (target >= {TARGET_RATIO}):")
    for (endpoint, what), ratio in ratios.items():
        verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
        print(f"  {endpoint:12s} {what:24s} {ratio:6.2f}  {verdict}")
    return 0 if all(r >= TARGET_RATIO for r in ratios.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
