"""The zoo's metrics: what each name means and how it is measured on a trained model.

Definitions follow ../shared/REFERENCES.md. The cheap ones (seconds) are what
``aezoo zoo evaluate NAME`` recomputes by default; the expensive ones (the
VAE's importance-sampled NLL with k = 5000, linear probes on 60,000 codes)
run with ``--all`` and at the end of ``aezoo zoo train``.
"""

import math
import time

import numpy as np

from aezoo.evaluation import error_percent

NLL_SAMPLES = 5000
# The probe's L2 strength is chosen on a validation split, as the papers chose
# their hyperparameters: with C = 1, 1,000 sparse features fit the 50,000
# training codes almost perfectly (0.04 % training error for mnist-ksparse-25)
# and generalise worse than a stronger penalty does.
PROBE_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
PROBE_VALIDATION_IMAGES = 10000
PROBE_MAX_ITER = 1000
# The codes as they are, then standardized: both are linear probes, and which one suits a code
# depends on it (the k-sparse codes' few large values suffer from standardizing, for example).
PROBE_SCALINGS = {"as they are": False, "standardized": True}

# name -> (definition, cheap)
METRICS = {
    "squared_error": (
        "sum over the 784 pixels of (x - x_hat)^2, pixels grey level / 255 (not binarized), "
        "mean over the test images", True),
    "squared_error_corrupted": (
        "squared error per image against the clean image, the input corrupted by the "
        "model's own noise and level (fixed seed 0)", True),
    "squared_error_gaussian_0.5": (
        "squared error per image against the clean image, the input plus Gaussian noise of "
        "standard deviation 0.5 (fixed seed 0, not clipped)", True),
    "squared_error_masking_0.5": (
        "squared error per image against the clean image, half the input pixels set to 0 "
        "(fixed seed 0)", True),
    "principal_angle_pca": (
        "largest principal angle, degrees, between the decoder's column space and the "
        "top-k PCA subspace of the training images", True),
    "mean_activation": ("mean code-unit activation over the test images", True),
    "jacobian_norm": ("mean over the test images of ||J_f(x)||_F^2, the encoder's Jacobian",
                      True),
    "elbo": ("ELBO, nats per image, one z sample, on binarized test images (fixed seed 0)",
             True),
    "active_units": ("latent units whose Var_x E_q[u|x] > 0.01 on binarized test images", True),
    "unused_units": ("code units that are 0 for every test image (for a k-sparse code: units "
                     "its top alpha * k never keeps); they carry nothing to a probe", True),
    "test_error": ("classification error % on the 10,000 test images of the classifier as "
                   "trained (the 2006 protocol: every layer fine-tuned with labels on all 60k "
                   "training images, no validation split)", True),
    "nll": (f"negative log-likelihood, nats, IWAE bound with k = {NLL_SAMPLES} samples, "
            "binarized test images (fixed seed 0)", False),
    "linear_probe_error": (
        "linear probe: logistic regression (scikit-learn, L2) on the frozen codes, as they "
        "are or standardized; that and its C (0.001-10) chosen on the last 10k training "
        "images (fitted on the first 50k), then refitted on all 60k, test error %", False),
    "finetuned_error": (
        "fine-tuned: the encoder plus a softmax layer, all layers trained with labels (SGD, "
        "momentum 0.9, cosine decay) on 50k training images, learning rate and epoch chosen "
        "on the other 10k, test error % (aezoo.finetuning)", False),
}


def is_cheap(name):
    return METRICS[name][1]


def _principal_angle(model, x_train):
    from aezoo.evaluation import fit_pca

    k = model.latent_dim
    decoded = np.asarray(model.decode(np.eye(k, dtype="float32")))
    zero = np.asarray(model.decode(np.zeros((1, k), "float32")))
    columns = (decoded - zero).T  # (features, k): the decoder's linear map
    q_model, _ = np.linalg.qr(columns)
    _, components = fit_pca(x_train, k)
    singular = np.linalg.svd(q_model.T @ components.T, compute_uv=False)
    return float(np.degrees(np.arccos(np.clip(singular.min(), -1.0, 1.0))))


def encode_in_batches(model, x, batch_size=1000):
    """The model's codes for ``x`` as one float32 array (the VAE: posterior means)."""
    return np.concatenate([np.asarray(model.encode(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)]).astype("float32")


def _probe(c, standardize):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    regression = LogisticRegression(C=c, max_iter=PROBE_MAX_ITER)
    return make_pipeline(StandardScaler(), regression) if standardize else regression


def _error_percent(probe, codes, labels):
    return error_percent(probe.predict(codes), labels)


def linear_probe_error(model, x_train, y_train, x_test, y_test, *, cs=PROBE_CS,
                       validation=PROBE_VALIDATION_IMAGES):
    """Test error % of a logistic regression on the frozen codes; returns (error, details).

    Each C of ``cs``, on the codes as they are and standardized, is fitted on
    all but the last ``validation`` training codes and scored on those; the
    setting with the lowest validation error is refitted on every training
    code, and its test error is the figure. ``details`` holds the chosen C
    and scaling (and ``choice``, the card note's words for them), its
    validation error, and every setting's (``per_C``: scaling -> C -> error).
    """
    from aezoo.finetuning import check_labelled_split

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    check_labelled_split(x_train, y_train, x_test, y_test, validation)
    if not cs:
        raise ValueError("linear_probe_error needs at least one C")
    codes = encode_in_batches(model, x_train)
    split = len(codes) - int(validation)
    per_c = {scaling: {} for scaling in PROBE_SCALINGS}
    for scaling, standardize in PROBE_SCALINGS.items():
        for c in cs:
            probe = _probe(float(c), standardize).fit(codes[:split], y_train[:split])
            per_c[scaling][float(c)] = _error_percent(probe, codes[split:], y_train[split:])
    # The smallest error wins; a tie goes to the stronger penalty (smaller C), then to the
    # codes as they are.
    scaling, chosen = min(((scaling, c) for scaling in per_c for c in per_c[scaling]),
                          key=lambda pair: (per_c[pair[0]][pair[1]], pair[1]))
    probe = _probe(chosen, PROBE_SCALINGS[scaling]).fit(codes, y_train)
    details = {"choice": f"C {chosen:g}, codes {scaling},", "C": chosen, "scaling": scaling,
               "validation_error": per_c[scaling][chosen], "per_C": per_c}
    return _error_percent(probe, encode_in_batches(model, x_test), y_test), details


def corrupt(x, noise, level, seed=0):
    """``x`` corrupted as ``aezoo.layers.noise`` does in training, from a fixed seed, in NumPy."""
    rng = np.random.default_rng(seed)
    if noise == "masking":
        return x * (rng.uniform(size=x.shape) >= level)
    if noise == "gaussian":
        return x + level * rng.normal(size=x.shape)
    if noise == "salt_and_pepper":
        hit, salt = rng.uniform(size=x.shape) < level, rng.uniform(size=x.shape) < 0.5
        return np.where(hit, salt.astype(x.dtype), x)
    raise ValueError(f"unknown noise {noise!r}")


def corrupted_squared_error(model, x, noise, level):
    """Mean squared error per image of the model's reconstruction of corrupted ``x`` vs ``x``."""
    from aezoo.evaluation import mean_squared_error

    x_hat = model.predict(corrupt(x, noise, level).astype("float32"), batch_size=1000,
                          verbose=0)
    return mean_squared_error(x, np.asarray(x_hat))


def importance_sampled_nll(model, x_test, samples=NLL_SAMPLES, images=None):
    """Mean -log p(x) in nats over the binarized test images (IWAE bound, ``samples`` = k).

    ``images`` limits the estimate to the first N test images (it costs
    about N x k decoder passes); the binarization is fixed by seed 0.
    """
    from aezoo.data import binarize_static

    x = binarize_static(np.asarray(x_test, dtype="float32"), seed=0)
    if images is not None:
        x = x[: int(images)]
    return float(-np.mean(model.log_likelihood(x, num_samples=samples, batch_size=20, seed=0)))


def metric_settings(recipe, name):
    """The ``settings`` of metric ``name`` in the recipe (e.g. fine-tuning's learning rates)."""
    for metric in recipe["metrics"]:
        if metric["name"] == name:
            return dict(metric.get("settings", {}))
    return {}


def evaluate_metrics(model, recipe, x_test, y_test=None, x_train=None, y_train=None,
                     names=None, expensive=False, nll_images=None, log=None, details=None):
    """{metric name: value} for the recipe's metrics (or ``names``).

    Only the cheap metrics unless ``expensive``; metrics whose data is not
    given (principal angles and probes need the training set, labels) or
    that the model cannot have (a Jacobian norm of a VAE) are left out.
    ``log`` (a print-like function) reports each metric's time; ``details``
    (a dict) receives what a metric chose on the way (fine-tuning's learning
    rate and epoch, a probe's C).
    """
    from aezoo.data import binarize_static
    from aezoo.evaluation import squared_error_per_image

    wanted = [m["name"] for m in recipe["metrics"]] if names is None else list(names)
    results = {}
    x_test = np.asarray(x_test, dtype="float32")
    for name in wanted:
        if name not in METRICS or not (expensive or is_cheap(name)):
            continue
        start = time.perf_counter()
        if name == "squared_error" and hasattr(model, "decode"):  # not for classifiers
            results[name] = squared_error_per_image(model, x_test, batch_size=1000)
        elif name == "test_error" and y_test is not None:
            predicted = np.argmax(model.predict(x_test, batch_size=1000, verbose=0), axis=1)
            results[name] = 100.0 * float(np.mean(predicted != np.asarray(y_test)))
        elif name == "squared_error_corrupted" and hasattr(model, "noise_level"):
            results[name] = corrupted_squared_error(model, x_test, model.noise,
                                                    model.noise_level)
        elif name in ("squared_error_gaussian_0.5", "squared_error_masking_0.5"):
            noise = "gaussian" if "gaussian" in name else "masking"
            results[name] = corrupted_squared_error(model, x_test, noise, 0.5)
        elif name == "mean_activation":
            results[name] = float(np.mean(encode_in_batches(model, x_test)))
        elif name == "jacobian_norm" and hasattr(model, "jacobian_norm"):
            norms = [np.asarray(model.jacobian_norm(x_test[i:i + 500]))
                     for i in range(0, len(x_test), 500)]
            results[name] = float(np.mean(np.concatenate(norms)))
        elif name == "elbo" and hasattr(model, "elbo"):
            results[name] = float(np.mean(model.elbo(binarize_static(x_test, seed=0))))
        elif name == "active_units" and hasattr(model, "elbo"):
            means = encode_in_batches(model, binarize_static(x_test, seed=0))
            results[name] = int(np.sum(np.var(means, axis=0) > 0.01))
        elif name == "unused_units" and hasattr(model, "encode"):
            results[name] = int(np.sum(~np.any(encode_in_batches(model, x_test) != 0, axis=0)))
        elif name == "principal_angle_pca" and x_train is not None:
            results[name] = _principal_angle(model, x_train)
        elif name == "nll" and hasattr(model, "log_likelihood"):
            results[name] = importance_sampled_nll(model, x_test, images=nll_images)
        elif (name == "linear_probe_error" and hasattr(model, "encode")
              and x_train is not None and y_train is not None and y_test is not None):
            results[name], chosen = linear_probe_error(model, x_train, y_train, x_test, y_test)
            if details is not None:
                details[name] = chosen
        elif (name == "finetuned_error" and hasattr(model, "encode")
              and x_train is not None and y_train is not None and y_test is not None):
            from aezoo.finetuning import finetuned_error

            results[name], chosen = finetuned_error(
                model, x_train, y_train, x_test, y_test, seed=recipe["seed"], log=log,
                **metric_settings(recipe, name))
            if details is not None:
                details[name] = chosen
        if log is not None and name in results:
            log(f"  {name}: {results[name]} ({time.perf_counter() - start:.0f} s)")
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in results.items()}


def meets(op, value, goal):
    """Whether ``value`` meets ``goal`` under ``op`` ("<=" or ">="); False without a value."""
    if value is None:
        return False
    return value <= goal if op == "<=" else value >= goal


def paper_goal(metric):
    """(op, paper value) when a metric has a paper value to reach and a direction, else None.

    The direction is the metric's target's ("<=" or ">="); a ``within_percent``
    target or none gives no direction.
    """
    op = (metric.get("target") or {}).get("op")
    if metric.get("paper") is None or op not in ("<=", ">="):
        return None
    return op, float(metric["paper"])


def target_status(metric, value):
    """'reached', 'not reached' or None (no target or no value) for a card or recipe metric."""
    target = metric.get("target")
    if not target or value is None:
        return None
    op, goal = target["op"], target["value"]
    if op in ("<=", ">="):
        ok = meets(op, value, goal)
    else:  # within_percent of a reference value
        reference = target.get("of", metric.get("paper"))
        ok = abs(value - reference) <= abs(reference) * goal / 100.0
    return "reached" if ok else "not reached"


def describe_target(target):
    if not target:
        return ""
    if target["op"] == "within_percent":
        return f"within {target['value']:g} % of {target['of']:g}"
    return f"{target['op']} {target['value']:g}"
