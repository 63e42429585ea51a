"""aezoo's AutoencoderDetector against IsolationForest, PCA and PyOD on the 17 ODDS tables.

    python benchmarks/anomaly.py [--protocols pyod adbench] [--seeds 1 2 3] [--tables cardio ...]
                                 [--methods aezoo aezoo-rec iforest pca pyod-ae pyod-vae]
    python benchmarks/anomaly.py --one-class-mnist [--seeds 1 2 3]

Protocols (see ../shared/REFERENCES.md):

- pyod: PyOD's benchmark: a 60/40 split (seeded), features standardized with
  the training part's statistics;
- adbench: ADBench's: a stratified 70/30 split, min-max scaling fitted on the
  training part, tables over 10,000 rows subsampled to 10,000 (seeded).

Every method is fitted unsupervised on the (contaminated) training part and
scores the test part. Printed per table: mean test AUROC and average
precision (percent) and fit+score seconds over the seeds; then per method the
mean AUROC, the mean rank (1 = best AUROC on a table) and the median seconds.
Methods: ``aezoo`` (AutoencoderDetector, defaults: 3 members), ``aezoo-1``
(one member, n_estimators=1), ``aezoo-rec`` (the defaults with
score_type="reconstruction"), ``iforest`` (scikit-learn, defaults), ``pca``
(reconstruction error with half the components, at most 10), ``pyod-ae`` and
``pyod-vae`` (PyOD 2's AutoEncoder and VAE, defaults, on PyTorch; skipped with
a note when PyOD is not installed: it is not an aezoo dependency).

``--one-class-mnist``: Ruff et al. 2018's protocol: train on one digit's
60,000-set images (pixels / 255), score all 10,000 test images, AUROC of
"not this digit"; printed beside Deep SVDD's published per-digit AUROC.
"""

import argparse
import glob
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
ODDS = os.path.join(os.path.dirname(REPO), "shared", "data", "odds")
METHODS = ("aezoo", "aezoo-1", "aezoo-rec", "iforest", "pca", "pyod-ae", "pyod-vae")
DEEP_SVDD = (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5)


def load_table(path):
    import numpy as np
    import scipy.io

    table = scipy.io.loadmat(path)
    return table["X"].astype(np.float64), table["y"].ravel().astype(int)


def split(protocol, x, y, seed):
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if protocol == "adbench":
        if len(x) > 10000:
            keep = np.random.default_rng(seed).choice(len(x), 10000, replace=False)
            x, y = x[keep], y[keep]
        x_train, x_test, _, y_test = train_test_split(x, y, test_size=0.3, stratify=y,
                                                      random_state=seed)
        scaler = MinMaxScaler()
    else:
        x_train, x_test, _, y_test = train_test_split(x, y, test_size=0.4, random_state=seed)
        scaler = StandardScaler()
    scaler.fit(x_train)
    return (scaler.transform(x_train).astype("float32"),
            scaler.transform(x_test).astype("float32"), y_test)


def scorer(method, seed):
    """A function (x_train, x_test) -> anomaly scores of x_test (higher = more anomalous)."""
    if method.startswith("aezoo"):
        from aezoo.anomaly import AutoencoderDetector

        settings = {"aezoo": {}, "aezoo-1": {"n_estimators": 1},
                    "aezoo-rec": {"score_type": "reconstruction"}}[method]
        return lambda tr, te: AutoencoderDetector(random_state=seed, **settings).fit(
            tr).anomaly_score(te)
    if method == "iforest":
        from sklearn.ensemble import IsolationForest

        return lambda tr, te: -IsolationForest(random_state=seed).fit(tr).score_samples(te)
    if method == "pca":
        from sklearn.decomposition import PCA

        def pca(tr, te):
            model = PCA(n_components=max(1, min(tr.shape[1] // 2, 10)), random_state=seed)
            model.fit(tr)
            return ((te - model.inverse_transform(model.transform(te))) ** 2).sum(axis=1)
        return pca
    if method in ("pyod-ae", "pyod-vae"):
        if method == "pyod-ae":
            from pyod.models.auto_encoder import AutoEncoder as Model
        else:
            from pyod.models.vae import VAE as Model

        def pyod(tr, te):
            model = Model(random_state=seed, verbose=0)
            return model.fit(tr).decision_function(te)
        return pyod
    raise ValueError(method)


def available(methods):
    kept = []
    for method in methods:
        if method.startswith("pyod"):
            try:
                import pyod  # noqa: F401
                import torch  # noqa: F401
            except ImportError as error:
                print(f"note: {method} skipped: {error} (pip install pyod torch)")
                continue
        kept.append(method)
    return kept


def warm_up(methods):
    """One untimed fit per method: imports and first graph builds are not a table's time."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=(200, 8)).astype("float32")
    for method in methods:
        scorer(method, 0)(x, x)


def run_tables(protocol, tables, methods, seeds):
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    results = {}  # (table, method) -> (auroc, ap, seconds), means over seeds
    print(f"\n## protocol {protocol}: mean over seeds {', '.join(map(str, seeds))}; "
          "AUROC % / average precision % / fit+score s", flush=True)
    print("table".ljust(12) + "".join(m.rjust(22) for m in methods), flush=True)
    for path in tables:
        name = os.path.basename(path)[:-4]
        x, y = load_table(path)
        row = {m: [] for m in methods}
        for seed in seeds:
            x_train, x_test, y_test = split(protocol, x, y, seed)
            for method in methods:
                start = time.perf_counter()
                scores = np.asarray(scorer(method, seed)(x_train, x_test), np.float64)
                seconds = time.perf_counter() - start
                row[method].append((100 * roc_auc_score(y_test, scores),
                                    100 * average_precision_score(y_test, scores), seconds))
        cells = []
        for method in methods:
            means = tuple(float(np.mean([r[i] for r in row[method]])) for i in range(3))
            results[name, method] = means
            cells.append(f"{means[0]:6.1f} / {means[1]:5.1f} / {means[2]:5.2f}")
        print(name.ljust(12) + "".join(c.rjust(22) for c in cells), flush=True)
    names = sorted({name for name, _ in results})
    ranks = {m: [] for m in methods}
    for name in names:
        ordered = sorted(methods, key=lambda m: -results[name, m][0])
        for method in methods:  # ties share the better rank
            ranks[method].append(1 + sum(results[name, o][0] > results[name, method][0]
                                         for o in ordered))
    print(f"summary ({protocol}, {len(names)} tables):")
    for method in methods:
        aurocs = [results[n, method][0] for n in names]
        seconds = [results[n, method][2] for n in names]
        print(f"  {method:10s} mean AUROC {np.mean(aurocs):5.1f}  mean rank "
              f"{np.mean(ranks[method]):4.2f}  median fit+score {statistics.median(seconds):6.2f} s",
              flush=True)
    return results


def one_class_mnist(seeds):
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from aezoo.anomaly import AutoencoderDetector
    from aezoo.data import load_mnist

    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    print(f"\n## one-class MNIST: train on one digit, score the 10,000 test images; AUROC %, "
          f"mean over seeds {', '.join(map(str, seeds))}")
    print("digit  aezoo   (s)    Deep SVDD (paper)")
    ours = []
    for digit in range(10):
        aurocs, times = [], []
        for seed in seeds:
            start = time.perf_counter()
            detector = AutoencoderDetector(random_state=seed).fit(x_train[y_train == digit])
            scores = detector.anomaly_score(x_test)
            times.append(time.perf_counter() - start)
            aurocs.append(100 * roc_auc_score(y_test != digit, scores))
        ours.append(np.mean(aurocs))
        print(f"{digit:5d}  {ours[-1]:5.1f}  {np.mean(times):5.1f}    {DEEP_SVDD[digit]:5.1f}",
              flush=True)
    print(f" mean  {np.mean(ours):5.1f}           {np.mean(DEEP_SVDD):5.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocols", nargs="+", choices=("pyod", "adbench"),
                        default=["pyod", "adbench"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--tables", nargs="+", help="table names (default: all 17)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--odds-dir", default=ODDS)
    parser.add_argument("--one-class-mnist", action="store_true",
                        help="run the one-class MNIST benchmark instead of the tables")
    args = parser.parse_args(argv)
    if args.one_class_mnist:
        one_class_mnist(args.seeds)
        return 0
    tables = sorted(glob.glob(os.path.join(args.odds_dir, "*.mat")))
    if args.tables:
        tables = [t for t in tables if os.path.basename(t)[:-4] in args.tables]
    if not tables:
        parser.error(f"no ODDS tables found in {args.odds_dir}")
    methods = available(args.methods)
    warm_up(methods)
    for protocol in args.protocols:
        run_tables(protocol, tables, methods, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
