"""Hinton & Salakhutdinov (2006) on MNIST: RBM pretraining vs random init vs PCA, time to target.

784-1000-500-250-30: greedy RBM pretraining, unrolling, fine-tuning; the same
architecture fine-tuned from random initialisation with the same fine-tuning
budget; and PCA-30, all measured in this run. The metric is the paper's:
test squared error per image (sum over the 784 pixels, grey levels / 255,
averaged over the 10,000 test images). The paper reports 3.00 (PCA: 13.87).

After every fine-tuning epoch both networks are measured on the test set, and
the training clock (pretraining included, the measurements left out) at which
each first reaches the paper's 3.00 is printed: the time to target.

    python benchmarks/hinton2006.py          # the zoo recipe's schedule (mnist-hinton-30)
    python benchmarks/hinton2006.py --fast   # the recipe's fast mode: 3.00 within 10 minutes
    python benchmarks/hinton2006.py --epochs-per-layer 50 --finetune-epochs 200
                                             # the published budget
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

HIDDEN = (1000, 500, 250)
CODE = 30
PAPER = 3.00
RECIPE = "mnist-hinton-30"


def finetune(model, x_train, x_test, epochs, batch_size, learning_rate, clock, label,
             x_validation=None):
    """Fine-tunes with Adam and cosine decay; returns the TimeToTarget callback.

    With ``x_validation``, each epoch's check also measures the held-out
    training images (``validation_squared_error``).
    """
    import keras

    from aezoo.evaluation import squared_error_per_image
    from aezoo.zoo.timing import TimeToTarget

    def measure():
        values = {"squared_error": squared_error_per_image(model, x_test)}
        if x_validation is not None:
            values["validation_squared_error"] = squared_error_per_image(model, x_validation)
        return values

    decay = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=epochs * int(np.ceil(len(x_train) / batch_size)))
    model.compile(optimizer=keras.optimizers.Adam(decay))
    tracker = TimeToTarget(measure, {"squared_error": ("<=", PAPER)}, clock, label=f"[{label}] ",
                           log=lambda line: print(line, flush=True))
    model.fit(x_train, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[tracker])
    return tracker


def main(argv=None):
    from aezoo.zoo.recipes import load_recipe, with_fast_mode

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true",
                        help=f"the schedule of {RECIPE}'s fast mode (default: its full recipe)")
    parser.add_argument("--epochs-per-layer", type=int, default=None,
                        help="RBM epochs per layer (paper: 50, released code: 10)")
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="fine-tuning epochs for both networks (paper: 200)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Adam's initial rate for fine-tuning (cosine decay)")
    parser.add_argument("--batch-size", type=int, default=None, help="fine-tuning batch size")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="L2 penalty on the kernels while fine-tuning (default: the "
                             "recipe's model weight_decay)")
    parser.add_argument("--validation", type=int, default=0,
                        help="hold out the last N training images: train on the rest and "
                             "report the held-out squared error beside the test error (for "
                             "choosing settings without the test set)")
    parser.add_argument("--train-images", type=int, default=60000)
    parser.add_argument("--checkpoint-dir", default=None,
                        help="save/resume the pretrained layers here")
    parser.add_argument("--skip-random-init", action="store_true")
    parser.add_argument("--save", default=None, help="save the fine-tuned model (.keras)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    recipe = load_recipe(RECIPE)
    if args.fast:
        recipe = with_fast_mode(recipe)
    epochs_per_layer = args.epochs_per_layer or recipe["pretraining"]["epochs_per_layer"]
    finetune_epochs = args.finetune_epochs or recipe["training"]["epochs"]
    learning_rate = args.learning_rate or recipe["training"]["learning_rate"]
    batch_size = args.batch_size or recipe["training"]["batch_size"]
    weight_decay = (recipe["model"]["args"].get("weight_decay", 0.0)
                    if args.weight_decay is None else args.weight_decay)

    import keras

    from aezoo.data import load_mnist
    from aezoo.evaluation import pca_baseline, squared_error_per_image
    from aezoo.models import DeepAutoencoder
    from aezoo.zoo.timing import TrainingClock, hardware
    from pretrain import greedy_pretrain, unroll

    keras.utils.set_random_seed(args.seed)
    x_train = load_mnist("train")[0][: args.train_images]
    x_test = load_mnist("test")[0]
    x_validation = None
    if args.validation:
        if not 0 < args.validation < len(x_train):
            parser.error(f"--validation must be between 1 and {len(x_train) - 1}")
        x_train, x_validation = x_train[:-args.validation], x_train[-args.validation:]
    pca = pca_baseline(x_train, x_test, CODE)
    print(f"PCA-{CODE} test squared error: {pca:.3f}", flush=True)

    clock = TrainingClock()
    layers = greedy_pretrain(x_train, (*HIDDEN, CODE), epochs=epochs_per_layer,
                             batch_size=100, checkpoint_dir=args.checkpoint_dir,
                             seed=args.seed, verbose=0)
    pretrain_seconds = clock.seconds()
    pretrained = unroll(layers, seed=args.seed, weight_decay=weight_decay)
    with clock.paused():
        unrolled_error = squared_error_per_image(pretrained, x_test)
    print(f"unrolled, before fine-tuning: {unrolled_error:.3f} after {pretrain_seconds:.0f} s "
          "of pretraining", flush=True)
    pretrained_run = finetune(pretrained, x_train, x_test, finetune_epochs, batch_size,
                              learning_rate, clock, "pretrained", x_validation)
    pretrained_seconds = clock.seconds()
    pretrained_final = pretrained_run.history[-1][1]  # the last epoch's measurements
    pretrained_error = pretrained_final["squared_error"]
    if args.save:
        pretrained.save(args.save)

    random_run = None
    if not args.skip_random_init:
        random_clock = TrainingClock()  # the same clock, started at its own training
        keras.utils.set_random_seed(args.seed)
        random_init = DeepAutoencoder(784, HIDDEN, CODE, seed=args.seed,
                                      weight_decay=weight_decay)
        random_run = finetune(random_init, x_train, x_test, finetune_epochs, batch_size,
                              learning_rate, random_clock, "random init",
                              x_validation)
        random_seconds = random_clock.seconds()
        random_error = random_run.history[-1][1]["squared_error"]

    def reached(run):
        hit = run.reached.get("squared_error")
        return "not reached" if hit is None else f"{hit['seconds'] / 60:.1f} (epoch {hit['epoch']})"

    machine = hardware()
    print()
    print(f"MNIST 784-1000-500-250-30, {len(x_train)} training images; test squared error "
          "per image (sum over 784 pixels, mean over 10,000 test images)")
    print(f"  hardware: {machine['cpu']}, {machine['cpu_cores']} cores"
          + (f", GPU {', '.join(machine['gpus'])}" if machine["gpus"] else ", no GPU"))
    print(f"  pretraining: {epochs_per_layer} RBM epochs per layer, "
          f"{pretrain_seconds / 60:.1f} min")
    print(f"  fine-tuning: {finetune_epochs} epochs of Adam (lr {learning_rate}, "
          f"cosine decay), batch {batch_size}"
          + (f", weight decay {weight_decay:g}" if weight_decay else "")
          + (" (the recipe's fast mode)" if args.fast else ""))
    if x_validation is not None:
        print(f"  validation: the last {len(x_validation):,} training images, held out: "
              f"squared error {pretrained_final['validation_squared_error']:.3f} "
              "(RBM-pretrained + fine-tuned)")
    print(f"  {'model':<34}{'test sq. error':>15}{'train min':>11}{'min to 3.00':>20}")
    print(f"  {'PCA-30':<34}{pca:>15.3f}")
    print(f"  {'RBM-pretrained, before fine-tuning':<34}{unrolled_error:>15.3f}"
          f"{pretrain_seconds / 60:>11.1f}")
    print(f"  {'RBM-pretrained + fine-tuned':<34}{pretrained_error:>15.3f}"
          f"{pretrained_seconds / 60:>11.1f}{reached(pretrained_run):>20}")
    if random_run is not None:
        print(f"  {'random init + fine-tuned':<34}{random_error:>15.3f}"
              f"{random_seconds / 60:>11.1f}{reached(random_run):>20}")
    print(f"  {'paper (Hinton & Salakhutdinov 2006)':<34}{PAPER:>15.2f}")
    verdict = "reached" if pretrained_error <= PAPER else "not reached"
    print(f"target <= {PAPER:.2f}: {verdict} ({pretrained_error:.3f})")
    if args.fast:
        hit = pretrained_run.reached.get("squared_error")
        within = hit is not None and hit["seconds"] <= 600
        print(f"fast-mode target, {PAPER:.2f} within 10 minutes of training: "
              + ("reached" if within else "not reached")
              + ("" if hit is None else f" ({hit['seconds'] / 60:.1f} min)"))


if __name__ == "__main__":
    main()
