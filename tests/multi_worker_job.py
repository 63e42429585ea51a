"""One worker of the multi-worker tests (tests/test_multi_worker.py starts two).

    TF_CONFIG=... python tests/multi_worker_job.py CASES OUT_DIR [--die-at EPOCH:BATCH]

CASES is a comma-separated list of "autoencoder", "rbm" and "resume". Each
case trains a tiny model under MultiWorkerMirroredStrategy and writes this
worker's final weights to OUT_DIR/CASE-worker<index>.npz; "resume" trains
with ``ChiefBackupAndRestore`` in OUT_DIR/backup, and with --die-at the
worker with index 1 exits (code 3) at the end of that batch, as a killed
worker does. The same functions, run under a one-device strategy, give the
single-process weights the test compares against (``train``).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROWS, FEATURES, BATCH, EPOCHS = 96, 12, 16, 4


def data():
    rng = np.random.default_rng(0)
    return (rng.random((ROWS, FEATURES)) < 0.3).astype("float32")


def make_model(case):
    import keras

    from aezoo.models import DeepAutoencoder
    from pretrain import RBM

    if case == "rbm":
        return RBM(8, seed=3)
    model = DeepAutoencoder(FEATURES, (10,), 4, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    return model


def train(case, strategy, callbacks=()):
    """Builds ``case``'s model under ``strategy``, trains it; returns its weights."""
    with strategy.scope():
        model = make_model(case)
    model.fit(data(), epochs=EPOCHS, batch_size=BATCH, callbacks=list(callbacks), verbose=0)
    return [np.asarray(w) for w in model.weights]


def die_at(epoch, batch):
    """A callback that exits the process at the end of (epoch, batch), as a killed worker."""
    import keras

    class Die(keras.callbacks.Callback):
        def on_epoch_begin(self, current, logs=None):
            self.epoch = current

        def on_train_batch_end(self, current, logs=None):
            if (self.epoch, current) == (epoch, batch):
                print(f"dying at epoch {epoch} batch {batch}", flush=True)
                os._exit(3)

    return Die()


def main(argv):
    cases, out = argv[0].split(","), argv[1]
    die_at_batch = None
    if "--die-at" in argv:
        die_at_batch = tuple(int(v) for v in argv[argv.index("--die-at") + 1].split(":"))
    # The strategy first: collective ops must be configured before any other op.
    from aezoo import distribute

    strategy = distribute.make_strategy("multi-worker")
    index, workers = distribute.worker_index(strategy)
    from aezoo import keras_fixes

    print(json.dumps({"worker": index, "workers": workers, "chief": distribute.is_chief(strategy),
                      "fixes": sorted(keras_fixes.installed), "probes": keras_fixes.needed}),
          flush=True)
    for case in cases:
        callbacks = []
        if case == "resume":
            callbacks.append(distribute.ChiefBackupAndRestore(os.path.join(out, "backup"),
                                                              delete_checkpoint=False))
            if die_at_batch is not None and index == 1:
                callbacks.append(die_at(*die_at_batch))
        weights = train("autoencoder" if case == "resume" else case, strategy, callbacks)
        np.savez(os.path.join(out, f"{case}-worker{index}.npz"), *weights)
        print(f"{case} done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
