"""A few-minute demo: a deep autoencoder against PCA on MNIST.

    python -m aezoo.demo [--epochs 10] [--data-dir DIR] [--seed 0] [--out-dir out]

Trains a 784-500-250-30 DeepAutoencoder (Adam 1e-3, batch 100) on the 60,000
MNIST training images, prints its squared error per test image next to PCA
with the same 30 components, and writes a picture of test digits and their
reconstructions to OUT_DIR/demo_reconstructions.png.
"""

import argparse
import os
import sys
import time

HIDDEN_DIMS = (500, 250)
LATENT_DIM = 30
BATCH_SIZE = 100
LEARNING_RATE = 1e-3


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m aezoo.demo",
        description="Train a small deep autoencoder on MNIST and compare it with PCA.",
    )
    parser.add_argument("--epochs", type=_positive_int, default=10, help="default: %(default)s")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: "
                        "$AEZOO_DATA_DIR, else download with tensorflow_datasets)")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--out-dir", default="out",
                        help="where the PNG goes (default: %(default)s)")
    return parser


def one_of_each_digit(y):
    """Indices of the first example of each label 0-9, in label order."""
    return [int(next(i for i, label in enumerate(y) if label == digit)) for digit in range(10)]


def main(argv=None):
    args = build_parser().parse_args(argv)
    start = time.perf_counter()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo.data import DataError, load_mnist

    try:
        x_train, _ = load_mnist("train", data_dir=args.data_dir)
        x_test, y_test = load_mnist("test", data_dir=args.data_dir)
    except DataError as error:
        print(f"aezoo.demo: error: {error}", file=sys.stderr)
        return 2

    import keras

    from aezoo.evaluation import fit_pca, pca_reconstruct, squared_error_per_image
    from aezoo.models import DeepAutoencoder
    from aezoo.plotting import image_grid

    keras.utils.set_random_seed(args.seed)
    model = DeepAutoencoder(784, HIDDEN_DIMS, LATENT_DIM, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE))
    architecture = "-".join(map(str, (784, *HIDDEN_DIMS, LATENT_DIM)))
    print(
        f"Training a {architecture} DeepAutoencoder ({model.count_params():,} parameters) "
        f"on {len(x_train):,} MNIST images: {args.epochs} epochs, batch {BATCH_SIZE}, "
        f"Adam {LEARNING_RATE:g}",
        flush=True,
    )
    train_start = time.perf_counter()
    model.fit(x_train, epochs=args.epochs, batch_size=BATCH_SIZE, verbose=2)
    train_seconds = time.perf_counter() - train_start

    ae_error = squared_error_per_image(model, x_test)
    mean, components = fit_pca(x_train, LATENT_DIM)
    pca_error = squared_error_per_image(lambda x: pca_reconstruct(x, mean, components), x_test)

    rows = [
        (f"deep autoencoder {architecture}", ae_error),
        (f"PCA, {LATENT_DIM} components", pca_error),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    print(f"{'model':<{width}}  squared error per test image")
    for name, value in rows:
        print(f"{name:<{width}}  {value:8.2f}")
    print(f"(sum over 784 pixels of (x - x_hat)^2, mean over {len(x_test):,} test images)")

    picked = one_of_each_digit(y_test)
    originals = x_test[picked]
    path = os.path.join(args.out_dir, "demo_reconstructions.png")
    image_grid(
        [
            originals,
            model.predict(originals, verbose=0),
            pca_reconstruct(originals, mean, components),
        ],
        path,
        scale=2,
    )
    print()
    print(f"Wrote {path}: rows are test digits, autoencoder and PCA reconstructions")
    total_seconds = time.perf_counter() - start
    print(f"Training took {train_seconds:.0f} s; the demo {total_seconds:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
