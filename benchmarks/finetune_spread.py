"""How far a zoo entry's fine-tuned error moves between runs that differ only in the seed.

The fine-tuned error (``aezoo.finetuning``) chooses a learning rate and epoch on
the last 10,000 training images and reports the test error there. Choosing
between two recipes on one run each is only sound if one run's validation error
is stable; this script measures that: it fine-tunes the entry's encoder with the
settings of its recipe's ``finetuned_error`` metric once per seed (the seed sets
the softmax layer's initial weights and the order of the training images) and
prints each run's choice, then the mean and standard deviation of the chosen
validation and test errors.

    python benchmarks/finetune_spread.py mnist-contractive [--seeds 0 1 2]
        [--learning-rates 0.1] [--epochs N] [--batch-size B] [--weight-decay WD]
        [--root saved_models]

An attempt (a recipe file outside zoo/recipes/) is measured the same way from the
folder that ``aezoo zoo train FILE --out-root DIR`` wrote it to:

    python benchmarks/finetune_spread.py zoo/attempts/NAME.json --root DIR

``--random-init`` fine-tunes the same network from fresh weights instead (the
model rebuilt from its config, so its initialisers' seed, not the fine-tuning
seed, draws them): the figure without pretraining, against which the
pretraining's gain is read.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a zoo entry, or a recipe file, with a finetuned_error "
                        "metric")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=None,
                        help="replace the recipe's grid (default: the recipe's)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="replace the recipe's epochs (for a quick check)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="replace the recipe's batch size (default: the recipe's, else 100)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="replace the recipe's weight decay (default: the recipe's, else 0)")
    parser.add_argument("--random-init", action="store_true",
                        help="fine-tune the same network from fresh weights, not the pretrained ones")
    parser.add_argument("--root", default=None, help="zoo folder (default: the checkout's)")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    args = parser.parse_args(argv)

    from aezoo.data import load_mnist
    from aezoo.finetuning import finetuned_error
    from aezoo.zoo import load
    from aezoo.zoo.metrics import metric_settings
    from aezoo.zoo.recipes import load_recipe

    recipe = load_recipe(args.name)
    if not any(metric["name"] == "finetuned_error" for metric in recipe["metrics"]):
        parser.error(f"recipe {args.name} has no finetuned_error metric")
    settings = metric_settings(recipe, "finetuned_error")
    if args.learning_rates:
        settings["learning_rates"] = args.learning_rates
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.batch_size:
        settings["batch_size"] = args.batch_size
    if args.weight_decay is not None:
        settings["weight_decay"] = args.weight_decay
    weights = " from fresh weights" if args.random_init else ""
    print(f"{recipe['name']}{weights}: fine-tuning settings {settings or 'the defaults'}, "
          f"seeds {args.seeds}", flush=True)
    model = load(recipe["name"], root=args.root)
    if args.random_init:  # aezoo models build in their constructor, drawing fresh weights
        model = type(model).from_config(model.get_config())
    x_train, y_train = load_mnist("train", args.data_dir)
    x_test, y_test = load_mnist("test", args.data_dir)

    validation, test = [], []
    for seed in args.seeds:
        start = time.perf_counter()
        error, details = finetuned_error(model, x_train, y_train, x_test, y_test,
                                         **{**settings, "seed": seed})
        validation.append(details["validation_error"])
        test.append(error)
        print(f"seed {seed}: {details['choice']}, validation {details['validation_error']:.2f} %, "
              f"test {error:.2f} % ({time.perf_counter() - start:.0f} s)", flush=True)
    if len(args.seeds) > 1:
        for label, values in (("validation", validation), ("test", test)):
            print(f"{label} error: mean {np.mean(values):.3f} %, sd "
                  f"{np.std(values, ddof=1):.3f}, range {min(values):.2f}-{max(values):.2f} % "
                  f"({len(values)} runs)")


if __name__ == "__main__":
    main()
