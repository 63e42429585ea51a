"""The zoo's conv entries beside their dense counterparts, on the same metrics and test images.

    AEZOO_DATA_DIR=../shared/data/mnist python benchmarks/conv_vs_dense.py [--nll-images N]

Pairs (conv, dense): mnist-conv-ae-30 / mnist-hinton-30 (30-d codes),
mnist-conv-denoising / mnist-denoising, mnist-conv-vae / mnist-vae-50. Every
metric is measured in this run on the 10,000 MNIST test images by
``aezoo.zoo.metrics.evaluate_metrics`` (definitions in ``METRICS``), each model
given the images in its own shape (784 features or 28 x 28 x 1). The VAEs'
NLL (IWAE, k = 5000) costs about N x 5000 decoder passes per model, so it runs
only with ``--nll-images N`` on the first N test images.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

PAIRS = (
    ("mnist-conv-ae-30", "mnist-hinton-30", ["squared_error"]),
    ("mnist-conv-denoising", "mnist-denoising",
     ["squared_error", "squared_error_gaussian_0.5", "squared_error_masking_0.5"]),
    ("mnist-conv-vae", "mnist-vae-50", ["elbo", "squared_error", "nll"]),
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nll-images", type=int, default=None,
                        help="measure the VAEs' NLL on the first N test images")
    parser.add_argument("--root", help="the zoo folder (default: the checkout's saved_models/)")
    args = parser.parse_args(argv)

    import time

    from aezoo import zoo
    from aezoo.data import load_mnist
    from aezoo.zoo.metrics import evaluate_metrics

    x_test, y_test = load_mnist("test")
    available = set(zoo.list_models(args.root))
    print(f"{'metric':28s} {'conv':>22s} {'value':>9s} {'dense':>18s} {'value':>9s}")
    for conv, dense, metrics in PAIRS:
        if args.nll_images is None:
            metrics = [m for m in metrics if m != "nll"]
        values = {}
        for name in (conv, dense):
            if name not in available:
                print(f"note: {name} is not in the zoo; train it with `aezoo zoo train {name}`")
                continue
            model = zoo.load(name, compile=False, root=args.root)
            start = time.perf_counter()
            values[name] = evaluate_metrics(model, {"metrics": []},
                                            x_test.reshape(-1, *model.example_shape), y_test,
                                            names=metrics, expensive=True,
                                            nll_images=args.nll_images)
            print(f"  ({name}: {time.perf_counter() - start:.0f} s)", flush=True)
        for metric in metrics:
            cells = [f"{values[n][metric]:9.3f}" if metric in values.get(n, {}) else f"{'-':>9s}"
                     for n in (conv, dense)]
            suffix = f" (first {args.nll_images} images)" if metric == "nll" else ""
            print(f"{metric + suffix:28s} {conv:>22s} {cells[0]} {dense:>18s} {cells[1]}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
