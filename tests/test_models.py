"""The same checks for every variant: build, train, save/reload, bad input, distribution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aezoo.models import VARIANTS
from variants import SMALL, STOCHASTIC, make_small

ALL = sorted(VARIANTS)


def compiled(name, learning_rate=1e-2, **overrides):
    model = make_small(name, **overrides)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


@pytest.mark.parametrize("name", ALL)
def test_build_shapes(name, binary_patterns):
    model = make_small(name)
    x = binary_patterns[:5]
    assert model.built and model.count_params() > 0
    assert tuple(model.encode(x).shape) == (5, SMALL["latent_dim"])
    assert tuple(model.decode(np.zeros((5, SMALL["latent_dim"]))).shape) == (5, 20)
    reconstruction = model(x).numpy()
    assert reconstruction.shape == (5, 20) and np.isfinite(reconstruction).all()
    error = model.reconstruction_error(x).numpy()
    np.testing.assert_allclose(error, ((x - reconstruction) ** 2).sum(axis=1), rtol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_training_lowers_loss_and_reports_terms(name, binary_patterns):
    keras.utils.set_random_seed(0)
    model = compiled(name)
    x = binary_patterns
    before = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    history = model.fit(
        x, epochs=8, batch_size=32, verbose=0, validation_split=0.25,
        callbacks=[Record(), keras.callbacks.EarlyStopping(patience=20)],
    )
    after = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    expected = {"loss", *model.loss_term_names()}
    assert set(before) == expected
    assert {"reconstruction", "val_loss", "val_reconstruction"} <= set(seen[-1])
    assert len(history.history["loss"]) == 8
    assert after["reconstruction"] < 0.8 * before["reconstruction"], (before, after)
    total = sum(after[term] for term in model.loss_term_names())
    assert after["loss"] == pytest.approx(total, rel=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_save_reload_identical_and_resumes(name, binary_patterns, tmp_path):
    keras.utils.set_random_seed(0)
    x = binary_patterns
    model = compiled(name)
    model.fit(x, epochs=1, batch_size=32, verbose=0, shuffle=False)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)

    assert type(reloaded) is type(model)
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(reloaded.encode(x), model.encode(x))
    assert int(reloaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    for saved, loaded in zip(model.optimizer.variables, reloaded.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())

    if name in STOCHASTIC:
        # Their noise streams continue differently; resuming must still train.
        history = reloaded.fit(x, epochs=1, batch_size=32, verbose=0, shuffle=False)
        assert np.isfinite(history.history["loss"][0])
        return
    # Resuming from the file continues exactly as the uninterrupted run.
    model.fit(x, epochs=1, batch_size=32, verbose=0, shuffle=False)
    reloaded.fit(x, epochs=1, batch_size=32, verbose=0, shuffle=False)
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)


@pytest.mark.parametrize("name", ALL)
def test_bad_inputs_are_rejected(name, binary_patterns):
    model = compiled(name)
    x = binary_patterns[:8].copy()
    wrong_width = np.zeros((8, 19), "float32")
    with_nan = x.copy()
    with_nan[3, 2] = np.nan
    with_inf = x.copy()
    with_inf[1, 0] = np.inf
    text = np.full((8, 20), "a")

    for call in (model.encode, model, model.reconstruction_error, model.predict, model.fit):
        with pytest.raises(ValueError, match="19 features but the model expects 20"):
            call(wrong_width)
        with pytest.raises(ValueError, match="NaN or inf"):
            call(with_nan)
        with pytest.raises(ValueError, match="NaN or inf"):
            call(with_inf)
        with pytest.raises(TypeError, match="must be numeric"):
            call(text)
    with pytest.raises(ValueError, match="shape"):
        model.encode(x[0])
    with pytest.raises(ValueError, match="code has 7 features"):
        model.decode(np.zeros((2, 7)))
    # Data that only reaches the model inside the compiled step.
    dataset = tf.data.Dataset.from_tensor_slices(with_nan).batch(8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        model.fit(dataset, epochs=1, verbose=0)


@pytest.mark.parametrize("name", ALL)
def test_mirrored_strategy_matches_one_device(name, binary_patterns, two_cpu_strategy):
    x = binary_patterns[:64]
    results = {}
    for label, strategy in (("one", tf.distribute.get_strategy()), ("two", two_cpu_strategy)):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = make_small(name)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        initial = [w.numpy() for w in model.weights]
        history = model.fit(x, epochs=2, batch_size=64, verbose=0, shuffle=False)
        weights = [w.numpy() for w in model.weights]
        update = np.concatenate([(w - w0).ravel() for w, w0 in zip(weights, initial)])
        results[label] = (history.history["loss"], weights, update)
    assert two_cpu_strategy.num_replicas_in_sync == 2
    (loss_one, weights_one, update_one), (loss_two, weights_two, update_two) = (
        results["one"], results["two"])
    assert np.isfinite(loss_two).all()
    if name in STOCHASTIC:
        # Each replica draws its own noise, so the runs differ a little (measured:
        # losses within 1.2 %, updates within 15 %), but the loss scale and the
        # step must match: a loss or gradient summed over the two replicas
        # instead of averaged is off by 2x in the loss or by ~100 % in the update.
        np.testing.assert_allclose(loss_two, loss_one, rtol=0.05)
        difference = np.linalg.norm(update_two - update_one) / np.linalg.norm(update_one)
        assert difference < 0.4, difference
        return
    # Loss and gradients are averaged over the global batch, not summed over
    # replicas. (The KL sparsity penalty uses per-replica batch means, hence
    # the looser tolerance.)
    tolerance = 1e-3 if name == "sparse" else 1e-5
    np.testing.assert_allclose(loss_two, loss_one, rtol=tolerance)
    for a, b in zip(weights_one, weights_two):
        np.testing.assert_allclose(a, b, atol=tolerance)


@pytest.mark.parametrize("name", ALL)
def test_fit_accepts_a_separate_target(name, binary_patterns):
    # fit(x_noisy, x_clean) trains towards the given target.
    keras.utils.set_random_seed(0)  # the shuffles, so the result does not vary by run
    model = compiled(name)
    x = binary_patterns[:64]
    zeros = np.zeros_like(x)
    model.fit(x, zeros, epochs=30, batch_size=64, verbose=0)
    assert float(np.mean(model.predict(x, verbose=0))) < 0.1


# Not "sparse": its KL penalty is one number per batch, from every example's
# activation, which sample_weight does not reach. Not the stochastic ones: noise.
@pytest.mark.parametrize("name", sorted(set(ALL) - STOCHASTIC - {"sparse"}))
def test_sample_weight_zero_drops_examples_from_the_gradient(name, binary_patterns):
    # A weighted batch's loss is sum(w * loss) / sum(w): weights 1 on the first
    # 32 examples and 0 on the other 32 train exactly as the first 32 alone.
    x = binary_patterns[:64]
    weight = np.repeat([1.0, 0.0], 32).astype("float32")
    weighted, alone = compiled(name), compiled(name)
    weighted.fit(x, sample_weight=weight, epochs=3, batch_size=64, verbose=0, shuffle=False)
    alone.fit(x[:32], epochs=3, batch_size=32, verbose=0, shuffle=False)
    for a, b in zip(weighted.weights, alone.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)


def test_sample_weight_gives_the_weighted_mean_loss(binary_patterns):
    model = compiled("deep")
    x = binary_patterns[:40]
    p = np.clip(model.predict(x, verbose=0).astype("float64"), 1e-7, 1 - 1e-7)
    per_example = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    # Weight the worse-reconstructed half 5x, so the weighted mean stands apart.
    weight = np.where(per_example > np.median(per_example), 5.0, 1.0).astype("float32")
    expected = np.sum(weight * per_example) / np.sum(weight)
    assert expected > per_example.mean() + 0.1
    # One batch, so the reported metric is that batch's weighted mean.
    reported = model.evaluate(x, sample_weight=weight, batch_size=40, verbose=0,
                              return_dict=True)["reconstruction"]
    assert reported == pytest.approx(expected, rel=1e-4)


def test_weight_decay_penalises_kernels_not_biases(binary_patterns):
    model = make_small("deep", weight_decay=0.1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    assert model.loss_term_names() == ("reconstruction", "penalty")
    # Biases start at zero; make them large so a penalty on them would show.
    for weight in model.weights:
        if weight.path.endswith("bias"):
            weight.assign(np.full(weight.shape, 3.0, "float32"))
    kernels = [w.numpy() for w in model.weights if w.path.endswith("kernel")]
    assert len(kernels) == 4
    expected = 0.1 / 2 * sum(float(np.sum(k.astype("float64") ** 2)) for k in kernels)
    terms = model.evaluate(binary_patterns, batch_size=256, verbose=0, return_dict=True)
    assert terms["penalty"] == pytest.approx(expected, rel=1e-5)
    assert terms["loss"] == pytest.approx(terms["reconstruction"] + expected, rel=1e-5)
    # Training with it shrinks the kernels more than training without it.
    keras.utils.set_random_seed(0)
    model.fit(binary_patterns, epochs=5, batch_size=32, verbose=0, shuffle=False)
    plain = compiled("deep")
    plain.fit(binary_patterns, epochs=5, batch_size=32, verbose=0, shuffle=False)
    norm = lambda m: sum(float(np.sum(w.numpy() ** 2)) for w in m.weights  # noqa: E731
                         if w.path.endswith("kernel"))
    assert norm(model) < 0.8 * norm(plain)


def test_compile_rejects_a_loss():
    model = make_small("deep")
    with pytest.raises(ValueError, match="define their own loss"):
        model.compile(optimizer="adam", loss="mse")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(input_dim=0, latent_dim=2), "input_dim"),
        (dict(input_dim=4, latent_dim=2.5), "latent_dim"),
        (dict(input_dim=4, hidden_dims=(3, -1), latent_dim=2), "hidden_dims"),
        (dict(input_dim=4, latent_dim=2, reconstruction_loss="l1"), "reconstruction_loss"),
        (dict(input_dim=4, latent_dim=2, output_activation="linear"), "cross_entropy"),
        (dict(input_dim=4, latent_dim=2, weight_decay=-1), "weight_decay"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VARIANTS["deep"](**kwargs)


@pytest.mark.parametrize("name", ALL)
def test_trains_under_xla(name, binary_patterns):
    # On GPUs Keras compiles the step with XLA by default; every op must lower.
    model = make_small(name)
    model.compile(optimizer="adam", jit_compile=True)
    history = model.fit(binary_patterns[:64], epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
