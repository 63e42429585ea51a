"""One epoch of CD-1 on MNIST, 784 -> 1000, batch 100: aezoo's RBM vs scikit-learn.

Prints images/s for ``pretrain.RBM`` (float32, and with ``dtype="mixed_bfloat16"``:
bfloat16 products, float32 weights) and ``sklearn.neural_network.BernoulliRBM``
(same data, batch size and machine, alternating in one run) and their ratios,
plus the float32 step's effective GFLOP/s against a plain TensorFlow float32
product of the same shapes measured in the same run. Each RBM's
reconstruction error after its last epoch is printed beside it: the mixed
precision RBM must learn as the float32 one does.

    python benchmarks/rbm_speed.py [--rounds 3] [--images 60000]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

N_VISIBLE, N_HIDDEN, BATCH = 784, 1000, 100
# CD-1 per batch: v@W, h@W^T, v'@W, and the stacked update product
# [v; v']^T [h; -h'] (twice the rows): 5 products of 2*B*V*H flops.
FLOPS_PER_BATCH = 5 * 2 * BATCH * N_VISIBLE * N_HIDDEN


def load_images(limit):
    from aezoo.data import load_mnist
    from aezoo.data.mnist import find_local_mnist_dir

    directory = find_local_mnist_dir()
    if directory is None:
        print("MNIST not found (set AEZOO_DATA_DIR); using random binary images")
        rng = np.random.default_rng(0)
        return (rng.uniform(size=(limit, N_VISIBLE)) < 0.13).astype("float32")
    return load_mnist("train", data_dir=directory)[0][:limit]


def time_aezoo(rbm, x):
    """(images/s, reconstruction error) of one epoch."""
    start = time.perf_counter()
    history = rbm.fit(x, epochs=1, batch_size=BATCH, verbose=0)
    return len(x) / (time.perf_counter() - start), history.history["reconstruction_error"][-1]


def time_sklearn(x):
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(n_components=N_HIDDEN, learning_rate=0.1, batch_size=BATCH,
                       n_iter=1, random_state=0)
    start = time.perf_counter()
    rbm.fit(x)
    return len(x) / (time.perf_counter() - start)


def make_matmul_reference(chained=False):
    """The same five products, nothing else: the machine's ceiling for the step.

    Unchained (the target's reference), TensorFlow overlaps the products of
    successive iterations. Chained, each iteration waits for the last one's
    update, as contrastive divergence must: the ceiling for any CD step.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    v = tf.constant(rng.uniform(size=(BATCH, N_VISIBLE)).astype("float32"))
    w = tf.Variable(rng.normal(size=(N_VISIBLE, N_HIDDEN)).astype("float32") * 0.01)
    stacked_v = tf.concat([v, v], 0)

    @tf.function
    def run(steps):
        total = tf.zeros(())
        for _ in tf.range(steps):
            h = tf.matmul(v, w)
            back = tf.matmul(h, w, transpose_b=True)
            h2 = tf.matmul(back, w)
            update = tf.matmul(stacked_v, tf.concat([h, h2], 0), transpose_a=True)
            if chained:
                w.assign_add(1e-12 * update)
            else:
                total += update[0, 0]
        return total + w[0, 0]

    def measure(steps):
        start = time.perf_counter()
        run(tf.constant(steps)).numpy()
        return steps * FLOPS_PER_BATCH / (time.perf_counter() - start) / 1e9

    measure(5)  # trace
    return measure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=60000)
    args = parser.parse_args(argv)

    x = load_images(args.images)
    from pretrain import RBM

    rbm, mixed = RBM(N_HIDDEN, seed=0), RBM(N_HIDDEN, seed=0, dtype="mixed_bfloat16")
    # Trace and warm up; the second size lets the traced step accept any
    # number of examples, so round 1 does not trace again.
    for n in (5000, 5100):
        rbm.fit(x[:n], epochs=1, batch_size=BATCH, verbose=0)
        mixed.fit(x[:n], epochs=1, batch_size=BATCH, verbose=0)
    matmul_gflops = make_matmul_reference()
    chained_gflops = make_matmul_reference(chained=True)
    steps = len(x) // BATCH
    results = {"aezoo": [], "mixed": [], "sklearn": [], "matmul": [], "chained": []}
    errors = {}
    for round_ in range(args.rounds):
        results["sklearn"].append(time_sklearn(x))
        speed, errors["aezoo"] = time_aezoo(rbm, x)
        results["aezoo"].append(speed)
        speed, errors["mixed"] = time_aezoo(mixed, x)
        results["mixed"].append(speed)
        results["matmul"].append(matmul_gflops(steps))
        results["chained"].append(chained_gflops(steps))
        print(f"round {round_ + 1}: aezoo {results['aezoo'][-1]:,.0f} images/s, "
              f"mixed_bfloat16 {results['mixed'][-1]:,.0f} images/s, "
              f"sklearn {results['sklearn'][-1]:,.0f} images/s "
              f"(ratios {results['aezoo'][-1] / results['sklearn'][-1]:.2f} and "
              f"{results['mixed'][-1] / results['sklearn'][-1]:.2f}), "
              f"plain matmul {results['matmul'][-1]:.1f} GFLOP/s, "
              f"chained {results['chained'][-1]:.1f} GFLOP/s", flush=True)
    aezoo, sklearn = np.median(results["aezoo"]), np.median(results["sklearn"])
    mixed_speed = np.median(results["mixed"])
    step_gflops = aezoo / BATCH * FLOPS_PER_BATCH / 1e9
    matmul, chained = np.median(results["matmul"]), np.median(results["chained"])
    paired = np.median(np.divide(results["aezoo"], results["sklearn"]))
    print(f"CD-1, {len(x)} images, {N_VISIBLE}->{N_HIDDEN}, batch {BATCH}, "
          f"median of {args.rounds} rounds:")
    print(f"aezoo RBM:            {aezoo:,.0f} images/s ({step_gflops:.1f} GFLOP/s effective); "
          f"reconstruction error in the last epoch {errors['aezoo']:.3f}")
    print(f"aezoo RBM, mixed_bfloat16: {mixed_speed:,.0f} images/s; reconstruction error "
          f"in the last epoch {errors['mixed']:.3f}")
    print(f"sklearn BernoulliRBM: {sklearn:,.0f} images/s")
    print(f"plain TF matmul, same shapes: {matmul:.1f} GFLOP/s "
          f"(chained, one iteration after another: {chained:.1f})")
    print(f"ratio aezoo/sklearn: {aezoo / sklearn:.2f} (target >= 1.2); "
          f"median of the per-round ratios: {paired:.2f}")
    mixed_paired = np.median(np.divide(results["mixed"], results["sklearn"]))
    print(f"ratio aezoo mixed_bfloat16/sklearn: {mixed_speed / sklearn:.2f} (aim >= 1.5); "
          f"median of the per-round ratios: {mixed_paired:.2f}; mixed/float32: "
          f"{np.median(np.divide(results['mixed'], results['aezoo'])):.2f}")
    print(f"step efficiency vs plain matmul: {step_gflops / matmul:.2f} (target >= 0.7); "
          f"vs the chained products: {step_gflops / chained:.2f}")


if __name__ == "__main__":
    main()
