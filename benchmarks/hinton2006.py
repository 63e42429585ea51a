"""Hinton & Salakhutdinov (2006) on MNIST: RBM pretraining vs random init vs PCA.

784-1000-500-250-30: greedy RBM pretraining, unrolling, fine-tuning; the same
architecture fine-tuned from random initialisation with the same fine-tuning
budget; and PCA-30, all measured in this run. The metric is the paper's:
test squared error per image (sum over the 784 pixels, grey levels / 255,
averaged over the 10,000 test images). The paper reports 3.00 (PCA: 13.87).

    python benchmarks/hinton2006.py                      # this machine's budget
    python benchmarks/hinton2006.py --epochs-per-layer 50 --finetune-epochs 200
                                                         # the published budget
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

HIDDEN = (1000, 500, 250)
CODE = 30
PAPER = 3.00


def finetune(model, x_train, x_test, epochs, batch_size, learning_rate, label):
    import keras

    from aezoo.evaluation import squared_error_per_image

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
                error = squared_error_per_image(model, x_test)
                print(f"[{label}] epoch {epoch + 1}: test squared error {error:.3f}",
                      flush=True)

    decay = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=epochs * int(np.ceil(len(x_train) / batch_size)),
        alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(decay))
    start = time.perf_counter()
    model.fit(x_train, epochs=epochs, batch_size=batch_size, verbose=2,
              callbacks=[Report()])
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-per-layer", type=int, default=20,
                        help="RBM epochs per layer (paper: 50, released code: 10)")
    parser.add_argument("--finetune-epochs", type=int, default=50,
                        help="fine-tuning epochs for both networks (paper: 200)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="Adam's initial rate for fine-tuning (cosine decay)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--train-images", type=int, default=60000)
    parser.add_argument("--checkpoint-dir", default=None,
                        help="save/resume the pretrained layers here")
    parser.add_argument("--skip-random-init", action="store_true")
    parser.add_argument("--save", default=None, help="save the fine-tuned model (.keras)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from aezoo.data import load_mnist
    from aezoo.evaluation import pca_baseline, squared_error_per_image
    from aezoo.models import DeepAutoencoder
    from pretrain import greedy_pretrain, unroll

    keras.utils.set_random_seed(args.seed)
    x_train = load_mnist("train")[0][: args.train_images]
    x_test = load_mnist("test")[0]
    pca = pca_baseline(x_train, x_test, CODE)
    print(f"PCA-{CODE} test squared error: {pca:.3f}", flush=True)

    start = time.perf_counter()
    layers = greedy_pretrain(x_train, (*HIDDEN, CODE), epochs=args.epochs_per_layer,
                             batch_size=args.batch_size, checkpoint_dir=args.checkpoint_dir,
                             seed=args.seed)
    pretrain_seconds = time.perf_counter() - start
    pretrained = unroll(layers)
    unrolled_error = squared_error_per_image(pretrained, x_test)
    print(f"unrolled, before fine-tuning: {unrolled_error:.3f}", flush=True)
    finetune_seconds = finetune(pretrained, x_train, x_test, args.finetune_epochs,
                                args.batch_size, args.learning_rate, "pretrained")
    pretrained_error = squared_error_per_image(pretrained, x_test)
    if args.save:
        pretrained.save(args.save)

    random_error = random_seconds = None
    if not args.skip_random_init:
        random_init = DeepAutoencoder(784, HIDDEN, CODE, seed=args.seed)
        random_seconds = finetune(random_init, x_train, x_test, args.finetune_epochs,
                                  args.batch_size, args.learning_rate, "random init")
        random_error = squared_error_per_image(random_init, x_test)

    print()
    print(f"MNIST 784-1000-500-250-30, {len(x_train)} training images; test squared error "
          "per image (sum over 784 pixels, mean over 10,000 test images)")
    print(f"  pretraining: {args.epochs_per_layer} RBM epochs per layer, "
          f"{pretrain_seconds / 60:.1f} min")
    print(f"  fine-tuning: {args.finetune_epochs} epochs of Adam (lr {args.learning_rate}, "
          f"cosine decay), batch {args.batch_size}")
    print(f"  {'model':<34}{'test sq. error':>15}{'train min':>11}")
    print(f"  {'PCA-30':<34}{pca:>15.3f}{'':>11}")
    print(f"  {'RBM-pretrained, before fine-tuning':<34}{unrolled_error:>15.3f}"
          f"{pretrain_seconds / 60:>11.1f}")
    print(f"  {'RBM-pretrained + fine-tuned':<34}{pretrained_error:>15.3f}"
          f"{(pretrain_seconds + finetune_seconds) / 60:>11.1f}")
    if random_error is not None:
        print(f"  {'random init + fine-tuned':<34}{random_error:>15.3f}"
              f"{random_seconds / 60:>11.1f}")
    print(f"  {'paper (Hinton & Salakhutdinov 2006)':<34}{PAPER:>15.2f}")
    verdict = "reached" if pretrained_error <= PAPER else "not reached"
    print(f"target <= {PAPER:.2f}: {verdict} ({pretrained_error:.3f})")


if __name__ == "__main__":
    main()
