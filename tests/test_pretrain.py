"""pretrain: RBMs, greedy stacking, unrolling, resuming, large-batch fine-tuning."""

import itertools
import os

import keras
import numpy as np
import pytest

from pretrain import RBM, finetune_lbfgs, greedy_pretrain, unroll, unroll_classifier


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_cd_lowers_reconstruction_error(binary_patterns):
    rbm = RBM(16, seed=0, steps_per_execution=4)
    history = rbm.fit(binary_patterns, epochs=15, batch_size=16, verbose=0)
    errors = history.history["reconstruction_error"]
    assert errors[-1] < 0.5 * errors[0], errors
    reconstruction = rbm.reconstruct(binary_patterns)
    assert np.mean((reconstruction - binary_patterns) ** 2) < 0.05
    assert rbm.transform(binary_patterns).shape == (256, 16)


@pytest.mark.parametrize(
    "settings", [dict(cd_steps=3), dict(persistent_chains=32, learning_rate=0.02)]
)
def test_cd_k_and_persistent_cd_train(settings, binary_patterns):
    rbm = RBM(16, seed=0, steps_per_execution=4, **settings)
    history = rbm.fit(binary_patterns, epochs=15, batch_size=16, verbose=0)
    errors = history.history["reconstruction_error"]
    assert errors[-1] < 0.7 * errors[0], errors
    assert np.mean((rbm.reconstruct(binary_patterns) - binary_patterns) ** 2) < 0.1


def test_free_energy_matches_brute_force():
    rbm = RBM(2, seed=3)
    rbm.build((None, 3))
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 2)).astype("float32")
    b, c = rng.normal(size=3).astype("float32"), rng.normal(size=2).astype("float32")
    rbm.kernel.assign(W)
    rbm.visible_bias.assign(b)
    rbm.hidden_bias.assign(c)
    states = np.array(list(itertools.product([0, 1], repeat=3)), "float32")
    hidden_states = np.array(list(itertools.product([0, 1], repeat=2)), "float32")
    for v, free_energy in zip(states, rbm.free_energy(states)):
        energies = [-(v @ b) - (h @ c) - v @ W @ h for h in hidden_states]
        assert free_energy == pytest.approx(-np.log(np.sum(np.exp(-np.array(energies)))),
                                            abs=1e-5)
    # So exp(-F) normalises to the model's marginal p(v) over the 8 states.
    probabilities = np.exp(-rbm.free_energy(states))
    joint = sum(np.exp(states @ b + h @ c + states @ W @ h) for h in hidden_states)
    np.testing.assert_allclose(probabilities / probabilities.sum(), joint / joint.sum(),
                               rtol=1e-5)


def _tiny_rbm(visible, hidden, seed=0):
    rbm = RBM(2, visible=visible, hidden=hidden, seed=3)
    rbm.build((None, 3))
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, 2)).astype("float32")
    b, c = rng.normal(size=3).astype("float32"), rng.normal(size=2).astype("float32")
    rbm.kernel.assign(W)
    rbm.visible_bias.assign(b)
    rbm.hidden_bias.assign(c)
    return rbm, W.astype("float64"), b.astype("float64"), c.astype("float64")


def test_gaussian_visible_free_energy_matches_brute_force():
    # E(v, h) = |v - b|^2 / 2 - c.h - v W h (unit variance), h binary: summed exactly.
    rbm, W, b, c = _tiny_rbm("gaussian", "binary")
    v = np.random.default_rng(1).normal(size=(6, 3)) * 2
    hidden_states = np.array(list(itertools.product([0, 1], repeat=2)), "float64")
    for row, free_energy in zip(v, rbm.free_energy(v.astype("float32"))):
        energies = [0.5 * np.sum((row - b) ** 2) - h @ c - row @ W @ h for h in hidden_states]
        assert free_energy == pytest.approx(-np.log(np.sum(np.exp(-np.array(energies)))),
                                            abs=1e-4)


def test_linear_hidden_free_energy_matches_brute_force_up_to_a_constant():
    # E(v, h) = -b.v + |h - c|^2 / 2 - v W h, h real: integrated numerically per
    # hidden unit (the energy separates over them). The constant (it does not
    # depend on v) cancels in p(v), so differences between states must match.
    rbm, W, b, c = _tiny_rbm("binary", "linear")
    states = np.array(list(itertools.product([0, 1], repeat=3)), "float64")
    grid = np.linspace(-15, 15, 30001)
    step = grid[1] - grid[0]
    brute = []
    for v in states:
        log_integral = 0.0
        for j in range(2):
            exponent = -0.5 * (grid - c[j]) ** 2 + (v @ W[:, j]) * grid
            peak = exponent.max()
            log_integral += peak + np.log(np.sum(np.exp(exponent - peak)) * step)
        brute.append(-(v @ b) - log_integral)
    free = np.asarray(rbm.free_energy(states.astype("float32")), "float64")
    differences = free - np.array(brute)
    np.testing.assert_allclose(differences, differences[0], atol=1e-4)
    assert np.ptp(free) > 1.0  # the states' free energies differ, so this says something


@pytest.mark.parametrize("visible, hidden", [("binary", "linear"), ("gaussian", "binary")])
def test_real_valued_units_train_without_diverging(visible, hidden, binary_patterns):
    x = binary_patterns
    if visible == "gaussian":
        x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    rbm = RBM(8, visible=visible, hidden=hidden, seed=0, steps_per_execution=4)
    history = rbm.fit(x, epochs=20, batch_size=16, verbose=0)
    errors = history.history["reconstruction_error"]
    assert np.isfinite(errors).all() and errors[-1] < errors[0]
    assert np.isfinite(rbm.free_energy(x)).all()


def test_free_energy_gap_and_momentum_schedule(binary_patterns):
    rbm = RBM(16, seed=0, steps_per_execution=4, momentum_switch_epoch=2)
    # Held out: random binary vectors, which the RBM learns to find unlikely.
    held_out = (np.random.default_rng(0).uniform(size=(56, 20)) < 0.4).astype("float32")
    train = binary_patterns[:200]
    history = rbm.fit(train, epochs=3, batch_size=20, validation_data=held_out, verbose=0)
    gaps = history.history["free_energy_gap"]
    assert len(gaps) == 3
    # The gap is held-out minus training free energy, as many of each (56).
    expected = np.mean(rbm.free_energy(held_out)) - np.mean(rbm.free_energy(train[:56]))
    assert gaps[-1] == pytest.approx(expected, rel=1e-4)
    assert gaps[-1] > 1.0 and gaps[-1] > gaps[0]
    assert {"reconstruction_error", "val_reconstruction_error"} <= set(history.history)
    assert float(rbm.momentum.numpy()) == pytest.approx(0.9)


def test_unrolled_autoencoder_equals_the_up_down_pass(binary_patterns):
    layers = greedy_pretrain(binary_patterns, (12, 6, 3), epochs=2, batch_size=32,
                             verbose=0)
    assert [layer.hidden for layer in layers] == ["binary", "binary", "linear"]
    expected = binary_patterns[:10]
    for layer in layers:
        expected = layer.transform(expected)
    for layer in reversed(layers):
        weights = np.asarray(layer.kernel)
        expected = sigmoid(expected @ weights.T + np.asarray(layer.visible_bias))
    for tied in (False, True):
        model = unroll(layers, tied=tied)
        assert model.hidden_dims == (12, 6) and model.latent_dim == 3
        np.testing.assert_allclose(model(binary_patterns[:10]), expected, atol=1e-5)
    # The unrolled model fine-tunes like any aezoo model.
    model = unroll(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = model.evaluate(binary_patterns, verbose=0, return_dict=True)["loss"]
    model.fit(binary_patterns, epochs=5, verbose=0)
    assert model.evaluate(binary_patterns, verbose=0, return_dict=True)["loss"] < before


def test_gaussian_visible_stack_unrolls_to_a_linear_output(binary_patterns):
    x = (binary_patterns - binary_patterns.mean(0)) / (binary_patterns.std(0) + 1e-3)
    bottom = RBM(12, visible="gaussian", seed=0)
    top = RBM(4, hidden="linear", seed=1)
    bottom.fit(x, epochs=2, batch_size=32, verbose=0)
    top.fit(bottom.transform(x), epochs=2, batch_size=32, verbose=0)
    model = unroll([bottom, top])
    assert model.output_activation == "linear" and model.reconstruction_loss == "squared_error"
    assert model.code_activation is None
    # The up-down pass with a linear visible layer: no sigmoid at the output.
    codes = top.transform(bottom.transform(x[:10]))
    hidden = sigmoid(codes @ np.asarray(top.kernel).T + np.asarray(top.visible_bias))
    expected = hidden @ np.asarray(bottom.kernel).T + np.asarray(bottom.visible_bias)
    np.testing.assert_allclose(model(x[:10]), expected, atol=1e-4)
    assert expected.min() < 0  # standardised data: a sigmoid output could not match
    with pytest.raises(ValueError, match="only the bottom layer may be Gaussian"):
        unroll([bottom, _gaussian(4, 12)])


def _gaussian(n_hidden, n_visible):
    rbm = RBM(n_hidden, visible="gaussian")
    rbm.build((None, n_visible))
    return rbm


def test_lbfgs_finetuning_lowers_the_loss(binary_patterns):
    model = unroll(greedy_pretrain(binary_patterns, (12, 4), epochs=1, verbose=0))
    losses = finetune_lbfgs(model, binary_patterns, epochs=3, batch_size=128, verbose=0)
    assert losses[-1] < losses[0]


def test_denoising_stack_unrolls(binary_patterns):
    layers = greedy_pretrain(binary_patterns, (12, 4), epochs=2, method="dae", verbose=0)
    model = unroll(layers)
    assert model.count_params() > 0 and model(binary_patterns[:3]).shape == (3, 20)
    np.testing.assert_allclose(model.encode(binary_patterns[:3]),
                               layers[1].transform(layers[0].transform(binary_patterns[:3])),
                               atol=1e-5)


def test_classifier_from_a_stack(binary_patterns):
    layers = greedy_pretrain(binary_patterns, (12, 8), epochs=2, linear_top=False, verbose=0)
    classifier = unroll_classifier(layers, n_classes=4)
    np.testing.assert_allclose(classifier.get_layer("encoder_1")(
        classifier.get_layer("encoder_0")(binary_patterns[:5])),
        layers[1].transform(layers[0].transform(binary_patterns[:5])), atol=1e-5)
    labels = np.argmax(binary_patterns[:, :4], axis=1)
    classifier.compile("adam", "sparse_categorical_crossentropy")
    history = classifier.fit(binary_patterns, labels, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="linear_top=False"):
        unroll_classifier(greedy_pretrain(binary_patterns, (4,), epochs=1, verbose=0))


def test_interrupted_pretraining_resumes(binary_patterns, tmp_path):
    class Interrupt(Exception):
        pass

    class StopInLayerTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if self.model.n_visible == 12 and epoch == 1:
                raise Interrupt

    x = binary_patterns
    keras.utils.set_random_seed(0)  # same shuffling in both runs
    reference = greedy_pretrain(x, (12, 6), epochs=3, verbose=0, seed=5)

    original_fit = RBM.fit

    def fit_with_interrupt(self, *args, callbacks=None, **kwargs):
        return original_fit(self, *args, callbacks=[*callbacks, StopInLayerTwo()], **kwargs)

    RBM.fit = fit_with_interrupt
    keras.utils.set_random_seed(0)
    try:
        with pytest.raises(Interrupt):
            greedy_pretrain(x, (12, 6), epochs=3, verbose=0, seed=5, checkpoint_dir=tmp_path)
    finally:
        RBM.fit = original_fit
    assert sorted(os.listdir(tmp_path)) == [
        "layer_0.keras", "layer_1_partial.keras", "layer_1_partial.keras.epoch", "stack.json"]
    assert (tmp_path / "layer_1_partial.keras.epoch").read_text() == "2"

    resumed = greedy_pretrain(x, (12, 6), epochs=3, verbose=0, seed=5, checkpoint_dir=tmp_path)
    # The finished layer comes from the checkpoint, not from training again.
    np.testing.assert_array_equal(np.asarray(resumed[0].kernel), np.asarray(reference[0].kernel))
    assert sorted(os.listdir(tmp_path)) == ["layer_0.keras", "layer_1.keras", "stack.json"]
    # The resumed layer ran only its third (last) epoch.
    assert resumed[1].history.epoch == [2]
    with pytest.raises(ValueError, match="different stack"):
        greedy_pretrain(x, (12, 5), epochs=1, verbose=0, checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: greedy_pretrain(x, (), epochs=1), "empty"),
        (lambda x: greedy_pretrain(x, (8, 0), epochs=1), "positive integers"),
        (lambda x: greedy_pretrain(x, (8,), epochs=0), "epochs"),
        (lambda x: greedy_pretrain(x * 3, (8,), epochs=1), r"\[0, 1\]"),
        (lambda x: greedy_pretrain(np.where(x > 0, np.nan, x), (8,), epochs=1), "NaN"),
        (lambda x: greedy_pretrain(x, (8,), epochs=1, method="pca"), "method"),
        (lambda x: RBM(0), "n_hidden"),
        (lambda x: RBM(4, cd_steps=0), "cd_steps"),
        (lambda x: RBM(4, visible="poisson"), "visible"),
        (lambda x: unroll([]), "empty"),
    ],
)
def test_bad_settings_fail_before_training(call, message, binary_patterns):
    with pytest.raises(ValueError, match=message):
        call(binary_patterns)


def test_unroll_rejects_mismatched_layers(binary_patterns):
    a = RBM(5)
    a.build((None, 20))
    b = RBM(3)
    b.build((None, 6))
    with pytest.raises(ValueError, match="do not chain"):
        unroll([a, b])
    rbm = RBM(4)
    rbm.build((None, 20))
    with pytest.raises(ValueError, match="19 features"):
        rbm.fit(np.zeros((4, 19), "float32"), epochs=1)


def test_batches_by_index_reshuffle_each_epoch_and_cover_the_data():
    from pretrain.rbm import batches_by_index

    x = np.arange(23 * 2, dtype="float32").reshape(23, 2)
    dataset = batches_by_index(x, 5, seed=1)

    def epoch(data):
        batches = list(data.as_numpy_iterator())
        for _, examples in batches:  # the whole set rides along with each batch
            np.testing.assert_array_equal(examples, x)
        return [indices for indices, _ in batches]

    first, second = epoch(dataset), epoch(dataset)
    assert [len(b) for b in first] == [5, 5, 5, 5, 3]
    for order in (first, second):
        np.testing.assert_array_equal(np.sort(np.concatenate(order)), np.arange(23))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    again = epoch(batches_by_index(x, 5, seed=1))
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate(first))


class MeanFieldRBM(RBM):
    """CD with the hidden samples replaced by their probabilities: deterministic."""

    def sample_hidden(self, mean, batch_rows=False):
        return mean


@pytest.mark.parametrize("weight_cost", [0.02, 2e-4, 0.0])
def test_cd_update_is_the_released_codes_rule(weight_cost, binary_patterns):
    # rbm.m: inc = momentum * inc + lr * ((<vh>_data - <vh>_model) / n - cost * W); W += inc
    x = binary_patterns[:40]
    rbm = MeanFieldRBM(6, weight_cost=weight_cost, learning_rate=0.05, seed=2)
    rbm.build(x.shape)
    w, b_h, b_v = (p.numpy().astype("float64") for p in rbm.parameters)
    increments = [np.zeros_like(w), np.zeros_like(b_h), np.zeros_like(b_v)]
    for _ in range(2):  # two steps, so the momentum term takes part
        h_data = sigmoid(x @ w + b_h)
        v_model = sigmoid(h_data @ w.T + b_v)
        h_model = sigmoid(v_model @ w + b_h)
        descents = [
            (x.T @ h_data - v_model.T @ h_model) / len(x) - weight_cost * w,
            (h_data - h_model).mean(0),
            (x - v_model).mean(0),
        ]
        increments = [0.5 * i + 0.05 * d for i, d in zip(increments, descents)]
        w, b_h, b_v = (p + i for p, i in zip((w, b_h, b_v), increments))
    # One batch per epoch: the whole set, so its order does not matter.
    rbm.fit(x, epochs=2, batch_size=len(x), verbose=0)
    for parameter, expected in zip(rbm.parameters, (w, b_h, b_v)):
        np.testing.assert_allclose(parameter.numpy(), expected, rtol=1e-4, atol=1e-6)


def test_mixed_bfloat16_products_follow_the_same_rule_with_float32_weights(binary_patterns,
                                                                          tmp_path):
    x = binary_patterns[:40]
    rbms = {dtype: MeanFieldRBM(6, learning_rate=0.05, seed=2, dtype=dtype)
            for dtype in ("float32", "mixed_bfloat16")}
    for rbm in rbms.values():
        rbm.fit(x, epochs=3, batch_size=len(x), verbose=0)
    mixed = rbms["mixed_bfloat16"]
    assert mixed.product_dtype == "bfloat16"
    assert all(p.dtype == "float32" for p in mixed.parameters + mixed.increments)
    for ours, reference in zip(mixed.parameters, rbms["float32"].parameters):
        # bfloat16 keeps 8 bits of mantissa: products agree to about 1 %.
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=0.02, atol=2e-3)
    assert not np.array_equal(mixed.kernel.numpy(), rbms["float32"].kernel.numpy())
    assert mixed.transform(x).dtype == np.float32
    path = str(tmp_path / "mixed.keras")
    mixed.save(path)
    loaded = keras.saving.load_model(path, custom_objects={"MeanFieldRBM": MeanFieldRBM})
    assert loaded.product_dtype == "bfloat16"
    np.testing.assert_array_equal(loaded.transform(x), mixed.transform(x))
    with pytest.raises(ValueError, match="keeps its weights and their updates in float32"):
        RBM(6, dtype="bfloat16")


def test_fit_result_does_not_depend_on_whether_x_is_shared_or_copied(binary_patterns):
    # fit reads a 64-byte-aligned float32 array in place and copies any other.
    from aezoo.arrays import as_shareable, is_shareable

    aligned = as_shareable(binary_patterns[:60])
    unaligned = np.empty(aligned.size + 1, "float32")[1:].reshape(aligned.shape)
    unaligned[...] = aligned
    assert is_shareable(aligned) and not is_shareable(unaligned)
    weights = []
    for x in (aligned, unaligned, aligned.astype("float64")):
        rbm = RBM(5, seed=3)
        rbm.fit(x, epochs=2, batch_size=16, verbose=0)
        weights.append(rbm.kernel.numpy())
    np.testing.assert_array_equal(weights[0], weights[1])
    np.testing.assert_array_equal(weights[0], weights[2])
    np.testing.assert_array_equal(aligned, binary_patterns[:60])  # the caller's data is untouched


def test_transform_returns_an_aligned_array_the_next_rbm_reads_in_place(binary_patterns):
    from aezoo.arrays import is_shareable

    rbm = RBM(7, seed=0)
    rbm.fit(binary_patterns, epochs=1, verbose=0)
    codes = rbm.transform(binary_patterns, batch_size=13)
    assert codes.shape == (len(binary_patterns), 7) and is_shareable(codes)
    assert rbm.transform(binary_patterns[:0]).shape == (0, 7)


def test_batches_by_index_turns_off_tf_data_autotuning():
    # The tuner's thread stalled the freeing of old iterators for seconds.
    from pretrain.rbm import batches_by_index

    dataset = batches_by_index(np.zeros((10, 3), "float32"), 5)
    assert dataset.options().autotune.enabled is False
