"""The same checks for every variant and backbone: build, train, save/reload, bad input,
distribution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aezoo.models import VARIANTS
from variants import CASES, SMALL, STOCHASTIC, as_inputs, make_small, per_example_sum

ALL = sorted(VARIANTS)


def compiled(name, learning_rate=1e-2, backbone="dense", **overrides):
    model = make_small(name, backbone, **overrides)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


@pytest.mark.parametrize("name, backbone", CASES)
def test_build_shapes(name, backbone, binary_patterns):
    model = make_small(name, backbone)
    x = as_inputs(binary_patterns[:5], backbone)
    assert model.built and model.count_params() > 0
    assert tuple(model.encode(x).shape) == (5, SMALL["latent_dim"])
    assert tuple(model.decode(np.zeros((5, SMALL["latent_dim"]))).shape) == x.shape
    reconstruction = model(x).numpy()
    assert reconstruction.shape == x.shape and np.isfinite(reconstruction).all()
    error = model.reconstruction_error(x).numpy()
    np.testing.assert_allclose(error, per_example_sum((x - reconstruction) ** 2), rtol=1e-5)


@pytest.mark.parametrize("name, backbone", CASES)
def test_training_lowers_loss_and_reports_terms(name, backbone, binary_patterns):
    keras.utils.set_random_seed(0)
    model = compiled(name, backbone=backbone)
    x = as_inputs(binary_patterns, backbone)
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


@pytest.mark.parametrize("name, backbone", CASES)
def test_save_reload_identical_and_resumes(name, backbone, binary_patterns, tmp_path):
    keras.utils.set_random_seed(0)
    x = as_inputs(binary_patterns, backbone)
    model = compiled(name, backbone=backbone)
    model.fit(x, epochs=1, batch_size=32, verbose=0, shuffle=False)
    path = tmp_path / f"{name}-{backbone}.keras"
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


@pytest.mark.parametrize("name, backbone", CASES)
def test_bad_inputs_are_rejected(name, backbone, binary_patterns):
    model = compiled(name, backbone=backbone)
    x = as_inputs(binary_patterns[:8].copy(), backbone)
    if backbone == "conv":
        wrong = {"2 channels but the model expects 1": np.zeros((8, 5, 4, 2), "float32"),
                 "images of 4x5 but the model expects 5x4": np.zeros((8, 4, 5, 1), "float32"),
                 r"shape \(batch, 5, 4, 1\)": np.zeros((8, 20), "float32")}
    else:
        wrong = {"19 features but the model expects 20": np.zeros((8, 19), "float32")}
    with_nan = x.copy()
    with_nan.reshape(8, -1)[3, 2] = np.nan
    with_inf = x.copy()
    with_inf.reshape(8, -1)[1, 0] = np.inf
    text = np.full(x.shape, "a")

    for call in (model.encode, model, model.reconstruction_error, model.predict, model.fit):
        for message, wrong_shape in wrong.items():
            with pytest.raises(ValueError, match=message):
                call(wrong_shape)
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


@pytest.mark.parametrize("name, backbone", CASES)
def test_mirrored_strategy_matches_one_device(name, backbone, binary_patterns,
                                              two_cpu_strategy):
    x = as_inputs(binary_patterns[:64], backbone)
    results = {}
    for label, strategy in (("one", tf.distribute.get_strategy()), ("two", two_cpu_strategy)):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = make_small(name, backbone)
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


@pytest.mark.parametrize("name, backbone", CASES)
def test_fit_accepts_a_separate_target(name, backbone, binary_patterns):
    # fit(x_noisy, x_clean) trains towards the given target.
    keras.utils.set_random_seed(0)  # the shuffles, so the result does not vary by run
    model = compiled(name, backbone=backbone)
    x = as_inputs(binary_patterns[:64], backbone)
    zeros = np.zeros_like(x)
    model.fit(x, zeros, epochs=30, batch_size=64, verbose=0)
    assert float(np.mean(model.predict(x, verbose=0))) < 0.1


# Not "sparse": its KL penalty is one number per batch, from every example's
# activation, which sample_weight does not reach. Not the stochastic ones: noise.
@pytest.mark.parametrize("name, backbone", [
    case for case in CASES if case[0] not in STOCHASTIC | {"sparse"}])
def test_sample_weight_zero_drops_examples_from_the_gradient(name, backbone, binary_patterns):
    # A weighted batch's loss is sum(w * loss) / sum(w): weights 1 on the first
    # 32 examples and 0 on the other 32 train exactly as the first 32 alone.
    x = as_inputs(binary_patterns[:64], backbone)
    weight = np.repeat([1.0, 0.0], 32).astype("float32")
    weighted, alone = compiled(name, backbone=backbone), compiled(name, backbone=backbone)
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


def test_conv_settings_are_checked():
    from aezoo.models.backbones import ConvBackbone

    with pytest.raises(ValueError, match="tied weights are a dense-only option"):
        VARIANTS["ksparse"]((8, 8, 1), (), 4, k=2, backbone=ConvBackbone())
    with pytest.raises(ValueError, match="image-shaped: pass backbone=ConvBackbone"):
        VARIANTS["deep"]((8, 8, 1), (), 4)
    with pytest.raises(ValueError, match="height, width, channels"):
        VARIANTS["deep"](64, (), 4, backbone="conv")
    with pytest.raises(ValueError, match="normalization"):
        ConvBackbone(normalization="layer")
    with pytest.raises(ValueError, match="unknown backbone"):
        VARIANTS["deep"]((8, 8, 1), (), 4, backbone="transformer")


@pytest.mark.parametrize("shape", [(28, 28, 1), (7, 9, 3), (1, 1, 2)])
def test_conv_decoder_returns_the_input_shape(shape):
    from aezoo.models.backbones import ConvBackbone

    model = VARIANTS["deep"](shape, (), 3, backbone=ConvBackbone(filters=(4, 4, 4),
                                                               normalization="batch"))
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype("float32")
    assert model(x).shape == (2, *shape)
    assert [layer.name for layer in model.encoder_layers][:3] == ["conv_0", "conv_0_norm",
                                                                  "conv_0_activation"]


@pytest.mark.parametrize("name, backbone", CASES)
def test_trains_under_xla(name, backbone, binary_patterns):
    # On GPUs Keras compiles the step with XLA by default; every op must lower.
    model = make_small(name, backbone)
    model.compile(optimizer="adam", jit_compile=True)
    history = model.fit(as_inputs(binary_patterns[:64], backbone), epochs=2, batch_size=32,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("name, backbone", CASES)
def test_export_serves_what_keras_computes(name, backbone, binary_patterns, tmp_path):
    """Every variant and backbone: a SavedModel with input-shaped signatures, equal to Keras."""
    from aezoo.export import export_saved_model

    model = compiled(name, backbone=backbone)
    x = as_inputs(binary_patterns[:16], backbone)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    version = export_saved_model(model, str(tmp_path), name)
    signatures = tf.saved_model.load(version).signatures
    np.testing.assert_allclose(signatures["reconstruct"](x=tf.constant(x))["x_hat"], model(x),
                               atol=1e-5)
    np.testing.assert_allclose(signatures["encode"](x=tf.constant(x))["code"], model.encode(x),
                               atol=1e-5)
    np.testing.assert_allclose(signatures["anomaly_score"](x=tf.constant(x))["score"],
                               model.reconstruction_error(x), rtol=1e-5, atol=1e-5)
    code = np.zeros((2, SMALL["latent_dim"]), "float32")
    assert signatures["decode"](code=tf.constant(code))["x_hat"].shape == (2, *x.shape[1:])
    wrong = np.zeros((2, *x.shape[1:-1], x.shape[-1] + 1), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
        signatures["reconstruct"](x=tf.constant(wrong))
