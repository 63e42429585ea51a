"""The 2006 paper's pretrained classifier: 784-500-500-2000-10 on MNIST.

RBM-pretrains (500, 500, 2000), adds a softmax layer, fine-tunes the whole
network with ``fit``, and compares with the same network from random
initialisation under the same fine-tuning budget, measured in this run.
Metric: test error % on the 10,000 MNIST test images. Paper: 1.2 %
(random init: 1.6 %).

    python benchmarks/dbn_classifier.py [--epochs-per-layer 10] [--finetune-epochs 20]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

HIDDEN = (500, 500, 2000)
PAPER, PAPER_RANDOM = 1.2, 1.6


def finetune(model, data, epochs, batch_size, learning_rate, label):
    import keras

    x_train, y_train, x_test, y_test = data
    decay = keras.optimizers.schedules.CosineDecay(
        learning_rate, epochs * int(np.ceil(len(x_train) / batch_size)), alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(decay),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=2)
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
    error = 100 * (1 - accuracy)
    print(f"[{label}] test error {error:.2f} % after {epochs} epochs ({seconds / 60:.1f} min)",
          flush=True)
    return error, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-per-layer", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from aezoo.data import load_mnist
    from pretrain import greedy_pretrain, unroll_classifier

    keras.utils.set_random_seed(args.seed)
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    data = (x_train, y_train, x_test, y_test)

    start = time.perf_counter()
    layers = greedy_pretrain(x_train, HIDDEN, epochs=args.epochs_per_layer, linear_top=False,
                             batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir,
                             seed=args.seed)
    pretrain_seconds = time.perf_counter() - start
    pretrained_error, pretrained_seconds = finetune(
        unroll_classifier(layers, 10, seed=args.seed), data, args.finetune_epochs,
        args.batch_size, args.learning_rate, "pretrained")

    inputs = keras.Input((784,))
    hidden = inputs
    for width in HIDDEN:
        hidden = keras.layers.Dense(width, activation="sigmoid")(hidden)
    random_model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    random_error, random_seconds = finetune(random_model, data, args.finetune_epochs,
                                            args.batch_size, args.learning_rate, "random init")

    print()
    print("MNIST 784-500-500-2000-10 classifier, test error % on 10,000 test images")
    print(f"  pretraining: {args.epochs_per_layer} RBM epochs per layer "
          f"({pretrain_seconds / 60:.1f} min); fine-tuning: {args.finetune_epochs} epochs of "
          f"Adam (lr {args.learning_rate}, cosine decay), batch {args.batch_size}")
    print(f"  {'model':<32}{'ours':>8}{'paper':>8}{'train min':>11}")
    print(f"  {'RBM-pretrained + fine-tuned':<32}{pretrained_error:>8.2f}{PAPER:>8.1f}"
          f"{(pretrain_seconds + pretrained_seconds) / 60:>11.1f}")
    print(f"  {'random init + fine-tuned':<32}{random_error:>8.2f}{PAPER_RANDOM:>8.1f}"
          f"{random_seconds / 60:>11.1f}")
    verdict = "reached" if pretrained_error <= PAPER else "not reached"
    print(f"target <= {PAPER} %: {verdict} ({pretrained_error:.2f} %)")


if __name__ == "__main__":
    main()
