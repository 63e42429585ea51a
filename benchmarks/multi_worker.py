"""Training throughput with 1 and 2 MultiWorkerMirroredStrategy workers on this machine.

    python benchmarks/multi_worker.py [--rows 10000] [--epochs 3] [--batch-size 200]

Starts each job's workers as processes on 127.0.0.1 (TF_CONFIG each), trains
a DeepAutoencoder 784-500-250-30 and an RBM 784-500 on the same MNIST rows
(AEZOO_DATA_DIR; random binary images without it) at the same global batch,
and prints images per second over the epochs after the first (which traces
and warms up), with the ratio against 1 worker measured in the same run. On
one machine the workers share its cores, so this measures the cost of the
collectives, not a cluster's speed-up.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time


def data(rows):
    import numpy as np

    from aezoo.data import load_mnist
    from aezoo.data.mnist import find_local_mnist_dir

    if find_local_mnist_dir() is not None:
        return load_mnist("train")[0][:rows], "MNIST"
    rng = np.random.default_rng(0)
    return (rng.random((rows, 784)) < 0.13).astype("float32"), "random binary"


def worker(args):
    """One worker: trains both models, prints one JSON line of epoch times."""
    from aezoo import distribute

    strategy = distribute.make_strategy("multi-worker")
    import keras

    from aezoo.models import DeepAutoencoder
    from pretrain import RBM

    x, source = data(args.rows)

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    result = {"source": source, "rows": len(x)}
    for name in ("deep", "rbm"):
        with strategy.scope():
            if name == "deep":
                model = DeepAutoencoder(784, (500, 250), 30, seed=0)
                model.compile(keras.optimizers.Adam(1e-3))
            else:
                model = RBM(500, seed=0)
        clock = Clock()
        model.fit(x, epochs=args.epochs, batch_size=args.batch_size, callbacks=[clock],
                  verbose=0)
        result[name] = clock.times
    print("RESULT " + json.dumps(result), flush=True)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_job(workers, args):
    """Runs one job of ``workers`` processes; returns worker 0's result."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    processes = []
    for index in range(workers):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                   TF_CONFIG=json.dumps({"cluster": {"worker": addresses},
                                         "task": {"type": "worker", "index": index}}))
        command = [sys.executable, __file__, "--worker", "--rows", str(args.rows),
                   "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=1800)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for p, output in zip(processes, outputs):
        if p.returncode != 0:
            raise SystemExit(f"a worker failed (exit {p.returncode}):\n{output[-3000:]}")
    line = next(line for line in outputs[0].splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=200, help="the global batch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: the first epoch is not timed")
    results = {workers: run_job(workers, args) for workers in (1, 2)}
    first = results[1]
    print(f"{first['rows']:,} {first['source']} rows, global batch {args.batch_size}, "
          f"{args.epochs} epochs (the first not timed), {os.cpu_count()} CPU cores, "
          f"workers on 127.0.0.1")
    print(f"{'model':<32}{'workers':>8}{'images/s':>10}{'vs 1 worker':>13}")
    names = {"deep": "DeepAutoencoder 784-500-250-30", "rbm": "RBM 784-500 (CD-1)"}
    for name in ("deep", "rbm"):
        speeds = {}
        for workers, result in results.items():
            timed = result[name][1:]
            # Steps per epoch use whole global batches only (the rest is dropped).
            images = (result["rows"] // args.batch_size) * args.batch_size * len(timed)
            speeds[workers] = images / sum(timed)
            print(f"{names[name]:<32}{workers:>8}{speeds[workers]:>10.0f}"
                  f"{speeds[workers] / speeds[1]:>13.2f}")


if __name__ == "__main__":
    main()
