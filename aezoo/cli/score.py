"""``aezoo score MODEL --data SOURCE [--out scores.csv|.npy]``: an anomaly score per row.

MODEL is a .keras autoencoder, a zoo name, or a detector saved by
``AutoencoderDetector.save`` (its own score and threshold; ``--scale`` does
not apply). For an autoencoder the score is the row's reconstruction error, summed over features, on the
model's scale (``--scale scaled``, the default: standardized units when the
model standardizes, so every feature counts alike) or on the raw features
(``--scale raw``). With labels (``--label-column`` for tables, ``--label-key``
for .npz, the sub-folders of an image folder) it also prints the AUROC and
average precision, the larger label value counting as the anomaly.
"""

import os

from aezoo.cli.common import UsageError
from aezoo.cli.data import (add_model_command, check_features, check_new_file, load_model,
                            load_source)
from aezoo.files import write_atomic


def add_parser(commands):
    parser = add_model_command(commands, "score", score_command,
                               "per-row anomaly scores of your data", __doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("scaled", "raw"), default="scaled",
                        help="measure the error on the model's scale or the raw features "
                             "(default: scaled)")
    parser.add_argument("--out", metavar="SCORES.csv|.npy",
                        help="write the scores (CSV: row, score[, label])")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser


def scores_of(model, data, batch_size, scale):
    import numpy as np

    return np.concatenate([np.asarray(model.reconstruction_error(batch, scale=scale))
                           for batch in data.batches(batch_size)])


def label_metrics(labels, scores):
    """(AUROC, average precision) in percent, the larger of two label values the anomaly."""
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    values = np.unique(labels)
    if len(values) != 2:
        raise UsageError(f"AUROC needs two label values, the labels have {len(values)}: "
                         f"{', '.join(map(str, values[:5]))}")
    positive = labels == values[1]
    return 100 * roc_auc_score(positive, scores), 100 * average_precision_score(positive, scores)


def _write(path, scores, labels):
    import csv

    import numpy as np

    if path.endswith(".npy"):
        np.save(path, scores.astype("float32"))
        return
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "score"] + (["label"] if labels is not None else []))
        for row, score in enumerate(scores):
            writer.writerow([row, f"{score:.6g}"] + ([labels[row]] if labels is not None
                                                    else []))


def score_command(args):
    out = None if args.out is None else check_new_file(args.out, args.overwrite,
                                                       (".csv", ".npy"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    import numpy as np

    model = load_model(args.model, detectors=True)
    data = load_source(args)
    data = check_features(model, data, args.model)
    detector = hasattr(model, "threshold_")
    if detector:
        scores = np.concatenate([model.anomaly_score(np.asarray(batch))
                                 for batch in data.batches(args.batch_size)])
        what = f"{type(model).__name__}, score_type={model.score_type!r}"
    else:
        scores = scores_of(model, data, args.batch_size, args.scale)
        where = (f"{model.input_scaling} scale"
                 if model.scaler is not None and args.scale == "scaled" else "raw scale")
        what = f"squared error summed over {model.input_dim} features, {where}"
    quantiles = np.percentile(scores, [50, 95, 99])
    print(f"Scores of {len(scores):,} rows ({what}): mean {scores.mean():.4g}, median "
          f"{quantiles[0]:.4g}, 95th percentile {quantiles[1]:.4g}, 99th {quantiles[2]:.4g}, "
          f"max {scores.max():.4g}")
    if detector:
        print(f"{int((scores > model.threshold_).sum()):,} rows above the detector's threshold "
              f"{model.threshold_:.4g} (contamination {model.contamination:g})")
    labels = data.y
    if labels is not None:
        auroc, precision = label_metrics(np.asarray(labels), scores)
        print(f"AUROC {auroc:.2f} %, average precision {precision:.2f} % "
              f"({int((np.asarray(labels) == np.unique(labels)[1]).sum()):,} rows with label "
              f"{np.unique(labels)[1]} counted as anomalies)")
    if out is not None:
        write_atomic(out, lambda path: _write(path, scores, labels))
        print(f"Wrote {args.out}")
    return 0
