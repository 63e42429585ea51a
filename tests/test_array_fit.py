"""aezoo.array_fit.fit_arrays: the model's own step, early stopping, checks."""

import keras
import numpy as np
import pytest

from aezoo.array_fit import fit_arrays
from variants import make_small


def test_trains_repeats_and_restores_the_best_weights(binary_patterns):
    x, held = binary_patterns[:200], binary_patterns[200:]
    runs = []
    for _ in range(2):
        model = make_small("deep")
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        before = model.evaluate(held, verbose=0, return_dict=True)["loss"]
        history = fit_arrays(model, x, held, epochs=30, batch_size=32, patience=2, seed=3)
        runs.append((history, [w.numpy() for w in model.weights]))
        assert len(history["loss"]) == len(history["val_loss"]) <= 30
        # The weights kept are the best epoch's: their validation loss is the minimum seen.
        after = model.evaluate(held, verbose=0, return_dict=True)["loss"]
        assert after == pytest.approx(min(history["val_loss"]), rel=1e-4) and after < before
    assert runs[0][0] == runs[1][0]  # seeded: the same shuffles, the same losses
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_checks_the_target_range_and_empty_data(binary_patterns):
    model = make_small("deep")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"needs x in \[0, 1\]"):
        fit_arrays(model, binary_patterns * 3, epochs=1, batch_size=8)
    with pytest.raises(ValueError, match="at least one training row"):
        fit_arrays(model, binary_patterns[:0], epochs=1, batch_size=8)
