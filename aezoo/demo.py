"""The zoo demo: load every trained model (no training), evaluate it, draw its pictures.

    python -m aezoo.demo [--data-dir DIR] [--root ZOO_DIR] [--out-dir docs/images]
                          [--test-images N]

For each model in the zoo: loads it (checking its checksums), recomputes the
card's cheap metrics on the test set and prints one table with the value
measured now, the paper's and a baseline: PCA with as many components as the
model has code units, fitted in this run, for squared errors; the card's
baseline otherwise. Then writes the pictures to OUT_DIR: test digits and each
model's reconstructions, the 2-D code map of mnist-deep-2, the filters of
the sparse models, VAE samples and the 2-D VAE's latent grid.
"""

import argparse
import os
import sys
import time

from aezoo.argtypes import positive_int

PICTURE_DIGITS = 10


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m aezoo.demo",
        description="Evaluate every zoo model on its test set and draw its pictures.",
    )
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: "
                        "$AEZOO_DATA_DIR, else download with tensorflow_datasets)")
    parser.add_argument("--root", help="a local zoo folder (default: $AEZOO_ZOO_DIR, else "
                        "the registry, with files from saved_models/ or the cache)")
    parser.add_argument("--test-images", type=positive_int, default=None,
                        help="evaluate on the first N test images (default: all)")
    parser.add_argument("--out-dir", default=os.path.join("docs", "images"),
                        help="where the PNGs go (default: %(default)s)")
    return parser


def one_of_each_digit(y):
    """Indices of the first example of each label 0-9, in label order."""
    return [int(next(i for i, label in enumerate(y) if label == digit)) for digit in range(10)]


class PCABaselines:
    """PCA-k squared error on a data set's test images, for any k, from one fit."""

    def __init__(self, x_train, x_test, max_components):
        from aezoo.evaluation import fit_pca

        self.x_test = x_test
        self.mean, self.components = fit_pca(x_train, max_components)
        self.cache = {}

    def error(self, k):
        from aezoo.evaluation import pca_reconstruct, squared_error_per_image

        if k not in self.cache:
            self.cache[k] = squared_error_per_image(
                lambda x: pca_reconstruct(x, self.mean, self.components[:k]), self.x_test)
        return self.cache[k]


def draw_pictures(models, data, out_dir):
    """Writes the pictures; ``models`` maps name -> (card, model). Returns the paths."""
    import numpy as np

    from aezoo import pictures
    from aezoo.models import Autoencoder

    written = []
    if "mnist" not in data:
        return written
    x_test, y_test = data["mnist"][2], data["mnist"][3]
    originals = x_test[one_of_each_digit(y_test)]
    rows, names = [], []
    for name, (card, model) in models.items():
        if card["data"]["name"] == "mnist" and isinstance(model, Autoencoder):
            images = originals.reshape(len(originals), *model.example_shape)  # conv: 28x28x1
            rows.append(np.asarray(model(images)).reshape(len(originals), -1))
            names.append(name)
    if rows:
        path = os.path.join(out_dir, "reconstructions.png")
        written.append((pictures.reconstructions(originals, rows, path),
                        "test digits, then one row per model: " + ", ".join(names)))
    if "curves" in data:
        curves = data["curves"][2][:PICTURE_DIGITS]
        for name, (card, model) in models.items():
            if card["data"]["name"] == "curves":
                path = os.path.join(out_dir, f"{name}-reconstructions.png")
                written.append((pictures.reconstructions(
                    curves, [np.asarray(model(curves))], path),
                    f"test curves and {name}'s reconstructions"))
    for name, (card, model) in models.items():
        artifacts = card["recipe"]["contents"].get("artifacts", [])
        path = os.path.join(out_dir, f"{name}-%s.png")
        if "code_scatter" in artifacts:
            from aezoo.zoo.metrics import encode_in_batches

            written.append((pictures.code_scatter(encode_in_batches(model, x_test), y_test,
                                                  path % "codes"),
                            f"{name}: the 2-D codes of the 10,000 test digits, by digit"))
        if "filters" in artifacts:
            written.append((pictures.filters(pictures.filter_weights(model), path % "filters"),
                            f"{name}: the first 100 encoder filters"))
        if hasattr(model, "sample"):
            written.append((pictures.samples(model, path % "samples"),
                            f"{name}: 100 samples from the prior (pixel means)"))
        if "latent_grid" in artifacts:
            written.append((pictures.latent_grid(model, path % "latent-grid"),
                            f"{name}: decoded 15 x 15 latent grid"))
    return written


def main(argv=None):
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo import zoo

    names = zoo.list_models(args.root)
    if not names:
        print(f"aezoo.demo: error: the zoo in {zoo.describe_source(args.root)} is empty; train "
              "a model with `aezoo zoo train NAME`", file=sys.stderr)
        return 2
    from aezoo.data import DataError
    from aezoo.zoo.metrics import evaluate_metrics
    from aezoo.zoo.recipes import load_data
    from aezoo.zoo.report import baseline_text, metric_rows, text_table

    models, data, rows = {}, {}, []
    for name in names:
        try:
            card = zoo.info(name, args.root)
            model = zoo.load(name, compile=False, root=args.root)
        except zoo.ZooError as error:
            print(f"aezoo.demo: error: {error}", file=sys.stderr)
            return 1
        recipe = card["recipe"]["contents"]
        dataset = recipe["data"]["name"]
        try:
            if dataset not in data:
                x_train, y_train, x_test, y_test = load_data(recipe, args.data_dir)
                keep = slice(None, args.test_images)
                # Kept flat; each model gets them in its own shape (conv: 28x28x1).
                data[dataset] = (x_train.reshape(len(x_train), -1), y_train,
                                 x_test[keep].reshape(len(x_test[keep]), -1),
                                 None if y_test is None else y_test[keep])
        except DataError as error:
            print(f"aezoo.demo: error: {error}", file=sys.stderr)
            return 2
        x_train, y_train, x_test, y_test = data[dataset]
        shape = getattr(model, "example_shape", x_test.shape[1:])
        measured = evaluate_metrics(model, recipe, x_test.reshape(-1, *shape), y_test,
                                    x_train=x_train.reshape(-1, *shape),
                                    names=[m["name"] for m in card["metrics"]])
        for row in metric_rows(card, measured, args.root):
            latent = getattr(model, "latent_dim", None)
            if row["metric"] == "squared_error" and latent and latent < x_test.shape[1]:
                key = f"pca-{dataset}"
                if key not in data:
                    data[key] = PCABaselines(x_train, x_test, 200)
                if latent <= 200:
                    row["baseline"] = f"PCA-{latent}"
                    row["baseline_value"] = data[key].error(latent)
            row["baseline"] = baseline_text(row)
            rows.append(row)
        models[name] = (card, model)
        print(f"evaluated {name}", flush=True)

    columns = [("model", "model"), ("metric", "metric"), ("ours (now)", "now"),
               ("card", "ours"), ("paper", "paper"), ("baseline", "baseline")]
    print()
    for line in text_table(rows, columns):
        print(line)
    print(f"Squared error: sum over 784 pixels of (x - x_hat)^2, mean over "
          f"{len(data['mnist'][2]) if 'mnist' in data else 'the'} test images; "
          "PCA baselines fitted in this run. Expensive metrics (NLL, linear probes) show "
          "the card's value; recompute them with `aezoo zoo evaluate NAME --all`.")
    print()
    for path, caption in draw_pictures(models, data, args.out_dir):
        print(f"wrote {path}: {caption}")
    print(f"The demo took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
