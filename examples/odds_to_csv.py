"""Writes an ODDS anomaly table (MATLAB .mat with X and y) as a CSV with a header and a label.

    python examples/odds_to_csv.py ../shared/data/odds/cardio.mat cardio.csv

Columns f0 ... f{D-1}, then ``is_anomaly`` (1 = anomaly, as in ODDS), ready for
``aezoo train --data cardio.csv --label-column is_anomaly``. An existing
output file is kept unless ``--overwrite``.
"""

import argparse
import csv
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mat")
    parser.add_argument("csv")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if os.path.exists(args.csv) and not args.overwrite:
        parser.error(f"{args.csv} exists; pass --overwrite to replace it")
    import scipy.io

    table = scipy.io.loadmat(args.mat)
    x, y = table["X"], table["y"].ravel()
    with open(args.csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"f{i}" for i in range(x.shape[1])] + ["is_anomaly"])
        for row, label in zip(x, y):
            writer.writerow([repr(float(v)) for v in row] + [int(label)])
    print(f"Wrote {args.csv}: {x.shape[0]:,} rows, {x.shape[1]} features, "
          f"{int(y.sum()):,} anomalies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
