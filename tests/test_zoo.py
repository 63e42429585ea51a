"""Tests for aezoo.zoo: publish, list/info/load round trip, integrity checks, recipes, CLI."""

import json
import os
import time
import zipfile

import keras
import numpy as np
import pytest

from aezoo import zoo
from aezoo.cli import main
from aezoo.models import VARIANTS, VariationalAutoencoder
from aezoo.zoo import metrics, recipes
from helpers import damage_file
from variants import make_small

X = np.random.default_rng(0).uniform(size=(32, 20)).astype("float32")


def _publish(root, name="tiny", model=None, **kwargs):
    model = model or make_small("deep")
    card = zoo.publish(
        model, name, None,
        [{"name": "squared_error", "value": 1.5, "paper": 3.0, "baseline": None,
          "command": "test", "definition": "test"}],
        1.25, {"name": "synthetic", "splits": {"train": 32}, "preprocessing": "none"},
        root=root, **kwargs,
    )
    return model, card


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    model = make_small("vae")
    model.compile(optimizer="adam")
    model.fit(X, epochs=1, batch_size=16, verbose=0)  # optimizer state must not be saved
    _, card = _publish(root, "tiny-vae", model=model)
    return root, model, card


def test_empty_zoo(tmp_path):
    assert zoo.list_models(tmp_path) == []
    assert zoo.verify(root=tmp_path) == []
    with pytest.raises(KeyError, match="the zoo is empty"):
        zoo.load("nothing", root=tmp_path)


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AEZOO_ZOO_DIR", str(tmp_path))
    assert zoo.zoo_root() == str(tmp_path)


def test_round_trip(published):
    root, model, card = published
    assert zoo.list_models(root) == ["tiny-vae"]
    info = zoo.info("tiny-vae", root)
    assert info == card
    assert info["model"]["class"] == "VariationalAutoencoder"
    assert info["parameters"] == model.count_params()
    assert set(info["library_versions"]) >= {"python", "tensorflow", "keras",
                                              "tensorflow-probability", "aezoo"}
    assert list(info["files"]) == ["tiny-vae/tiny-vae.keras"]  # no SavedModel: made on demand
    assert info["serving"] == {"name": "tiny-vae", "version": 1}
    assert os.listdir(root) == ["tiny-vae"]
    loaded = zoo.load("tiny-vae", compile=False, root=root)
    np.testing.assert_array_equal(np.asarray(loaded.encode(X)), np.asarray(model.encode(X)))
    assert all(r["status"] == "ok" for r in zoo.verify(root=root))


def test_saved_without_optimizer(published):
    root, _, _ = published
    import zipfile

    with zipfile.ZipFile(os.path.join(root, "tiny-vae", "tiny-vae.keras")) as archive:
        config = json.loads(archive.read("config.json"))
    assert not config.get("compile_config")  # no optimizer saved
    import h5py
    import io

    with zipfile.ZipFile(os.path.join(root, "tiny-vae", "tiny-vae.keras")) as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        assert "optimizer" not in weights


def test_load_compiled_fits_and_frozen(published):
    root, _, _ = published
    model = zoo.load("tiny-vae", root=root)
    before = [w.copy() for w in model.get_weights()]
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    model.fit(X, epochs=1, batch_size=32, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    frozen = zoo.load("tiny-vae", trainable=False, root=root)
    assert frozen.trainable_weights == []


def test_encoder_shares_layers(published):
    root, _, _ = published
    model = zoo.load("tiny-vae", compile=False, root=root)
    encoder = zoo.encoder_of(model)
    np.testing.assert_allclose(encoder(X), model.encode(X), rtol=1e-6)
    dense = model.encoder_layers[0]
    assert any(layer is dense for layer in encoder.layers)
    encoder.compile(optimizer="adam", loss="mse")
    before = dense.kernel.numpy().copy()
    encoder.fit(X, np.zeros((32, model.latent_dim)), epochs=1, verbose=0)
    assert not np.array_equal(before, dense.kernel.numpy())
    assert zoo.encoder("tiny-vae", root=root).output_shape == (None, model.latent_dim)


def test_denoising_encoder_skips_noise(tmp_path):
    model, _ = _publish(tmp_path, "dae", model=make_small("denoising"))
    encoder = zoo.encoder("dae", root=tmp_path)
    np.testing.assert_allclose(encoder(X, training=True), model.encode(X), rtol=1e-6)


def test_classifier_entry(tmp_path):
    inputs = keras.Input((20,))
    hidden = keras.layers.Dense(8, activation="sigmoid", name="encoder_0")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X, np.zeros(32), epochs=1, verbose=0)  # optimizer state must not be saved
    _, card = _publish(tmp_path, "clf", model=model)
    with zipfile.ZipFile(os.path.join(tmp_path, "clf", "clf.keras")) as archive:
        assert not json.loads(archive.read("config.json")).get("compile_config")
    assert card["kind"] == "classifier" and card["serving"] is None
    assert "serving_note" in card
    loaded = zoo.load("clf", root=tmp_path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    loaded.fit(X, np.zeros(32), epochs=1, verbose=0)
    assert zoo.encoder("clf", root=tmp_path).output_shape == (None, 8)


@pytest.mark.parametrize("damage, word", [("missing", "missing"), ("truncated", "truncated"),
                                          ("flipped", "altered")])
def test_damaged_file_refused(tmp_path, damage, word):
    _publish(tmp_path)
    damage_file(os.path.join(tmp_path, "tiny", "tiny.keras"), damage)
    with pytest.raises(zoo.ZooIntegrityError, match=f"tiny.keras.*{word}"):
        zoo.load("tiny", root=tmp_path)
    bad = [r for r in zoo.verify("tiny", tmp_path) if r["status"] != "ok"]
    assert [r["file"] for r in bad] == ["tiny/tiny.keras"]
    assert main(["zoo", "verify", "--root", str(tmp_path)]) == 1


def test_verify_flags_padded_and_unlisted_files(tmp_path):
    _publish(tmp_path)
    open(os.path.join(tmp_path, "tiny", "tiny.keras"), "ab").write(b"x")
    open(os.path.join(tmp_path, "tiny", "extra.bin"), "wb").write(b"x")
    bad = {r["file"]: r["status"] for r in zoo.verify(root=tmp_path) if zoo.is_failure(r)}
    assert bad["tiny/tiny.keras"].startswith("padded")
    assert bad["tiny/extra.bin"].startswith("unlisted")


def test_overwrite_refused_and_allowed(tmp_path):
    _publish(tmp_path)
    with pytest.raises(FileExistsError, match="overwrite"):
        _publish(tmp_path)
    _publish(tmp_path, overwrite=True)
    assert all(r["status"] == "ok" for r in zoo.verify(root=tmp_path))


def test_unknown_name_lists_available(published):
    root, _, _ = published
    with pytest.raises(KeyError, match="tiny-vae"):
        zoo.info("nope", root)
    assert main(["zoo", "info", "nope", "--root", str(root)]) == 1


def test_cli_list_info_verify(published, capsys):
    root = str(published[0])
    assert main(["zoo", "list", "--root", root]) == 0
    assert "tiny-vae" in capsys.readouterr().out
    assert main(["zoo", "info", "tiny-vae", "--root", root]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "tiny-vae"
    assert main(["zoo", "verify", "--root", root]) == 0
    assert "0 failed" in capsys.readouterr().out


# ------------------------------------------------------------------ recipes
def test_recipes_all_load_and_validate():
    names = recipes.available_recipes()
    assert len(names) == 15
    for name in names:
        recipe = recipes.load_recipe(name)
        assert recipe["name"] == name
        recipes.check_model_args(recipe)
    classes = {cls.__name__ for cls in VARIANTS.values()}
    assert set(recipes.AUTOENCODER_CLASSES) == classes


def test_recipe_errors(tmp_path):
    good = recipes.load_recipe("mnist-linear-30")
    for change, message in [
        ({"bogus": 1}, "unknown recipe keys: bogus"),
        ({"model": {"class": "Nope"}}, "unknown model class 'Nope'"),
        ({"metrics": [{"name": "accuracy?"}]}, "unknown metric"),
    ]:
        path = tmp_path / "r.json"
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(recipes.RecipeError, match=message):
            recipes.load_recipe(str(path))
    with pytest.raises(recipes.RecipeError, match="mnist-hinton-30"):
        recipes.load_recipe("no-such-recipe")


def test_train_from_tiny_recipes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(200, 20)).astype("float32")
    y = rng.integers(0, 3, size=200)
    plain = {**recipes.load_recipe("mnist-sparse-kl"),
             "model": {"class": "SparseAutoencoder", "args": {"input_dim": 20, "latent_dim": 8}}}
    start = time.perf_counter()
    model, seconds = recipes.train_from_recipe(plain, arrays=(x, None, x, None),
                                               epochs_scale=0.01, verbose=0)
    assert 0 < seconds <= time.perf_counter() - start  # the training, nothing else
    measured = metrics.evaluate_metrics(model, plain, x)
    assert set(measured) == {"squared_error", "mean_activation"}
    reconstruction = model.predict(x, verbose=0).astype("float64")
    assert measured["squared_error"] == pytest.approx(
        np.mean(np.sum((x - reconstruction) ** 2, axis=1)), rel=1e-6)
    assert measured["mean_activation"] == pytest.approx(float(np.mean(model.encode(x))),
                                                        rel=1e-6)
    rbm = {**recipes.load_recipe("mnist-dbn-classifier"),
           "pretraining": {"method": "rbm", "hidden_dims": [8, 6], "epochs_per_layer": 1,
                           "linear_top": False}}
    model, _ = recipes.train_from_recipe(rbm, arrays=(x, y, x, y), epochs_scale=0.01, verbose=0)
    wrong = np.argmax(model.predict(x, verbose=0), axis=1) != y
    assert metrics.evaluate_metrics(model, rbm, x, y)["test_error"] == pytest.approx(
        100 * wrong.mean())
    card = zoo.publish(model, "dbn", recipes.recipe_path("mnist-dbn-classifier"),
                       recipes.card_metrics(rbm, {"test_error": 50.0}), 1.0,
                       recipes.data_description(rbm, (x, y, x, y)), root=tmp_path)
    assert card["recipe"]["path"] == "zoo/recipes/mnist-dbn-classifier.json"
    assert zoo.load("dbn", root=tmp_path).output_shape == (None, 10)


# ------------------------------------------------------------------ metrics
def test_linear_probe_separates_separable_codes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    x = (rng.uniform(size=(300, 20)) * 0.2 + y[:, None] * 0.5).astype("float32")
    model = make_small("deep")
    error, chosen = metrics.linear_probe_error(model, x, y, x, y, validation=100)
    assert error <= 5.0
    assert chosen["C"] in metrics.PROBE_CS and set(chosen["per_C"]) == set(metrics.PROBE_SCALINGS)
    assert all(set(errors) == set(metrics.PROBE_CS) for errors in chosen["per_C"].values())
    assert chosen["validation_error"] == chosen["per_C"][chosen["scaling"]][chosen["C"]]
    shuffled = rng.permutation(y)
    error, _ = metrics.linear_probe_error(model, x, shuffled, x[:100], y[:100], validation=100)
    assert error > 20.0


def test_linear_probe_chooses_its_penalty_on_validation():
    # 200 noise features and 100 labelled rows: a weak penalty memorises the
    # training rows, so the validation split must pick a small C, and the
    # note says which.
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=400)
    signal = y[:, None] + rng.normal(scale=1.5, size=(400, 1))
    x = np.hstack([signal, rng.normal(size=(400, 199))]).astype("float32")
    model = make_small("deep")
    model.encode = lambda batch: batch  # the probe sees the features themselves
    _, chosen = metrics.linear_probe_error(model, x[:300], y[:300], x[300:], y[300:],
                                           validation=200)
    for errors in chosen["per_C"].values():
        assert errors[min(metrics.PROBE_CS)] < errors[max(metrics.PROBE_CS)]
    assert chosen["C"] < max(metrics.PROBE_CS)
    assert recipes.choice_note(chosen).startswith(
        f"C {chosen['C']:g}, codes {chosen['scaling']}, chosen on validation")
    with pytest.raises(ValueError, match="validation must be between"):
        metrics.linear_probe_error(model, x[:300], y[:300], x[300:], y[300:], validation=300)


def test_linear_probe_chooses_whether_to_standardize_on_validation():
    # The label lives in a feature a thousand times smaller than 20 noise features: on the
    # codes as they are, a penalty strong enough to ignore the noise ignores it too.
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=600)
    signal = 1e-3 * (y[:, None] + rng.normal(scale=0.3, size=(600, 1)))
    x = np.hstack([signal, rng.normal(size=(600, 20))]).astype("float32")
    model = make_small("deep")
    model.encode = lambda batch: batch
    error, chosen = metrics.linear_probe_error(model, x[:400], y[:400], x[400:], y[400:],
                                               validation=200)
    assert chosen["scaling"] == "standardized"
    assert min(chosen["per_C"]["standardized"].values()) < min(
        chosen["per_C"]["as they are"].values()) - 5.0
    assert error < 20.0


def test_nll_matches_brute_force_and_is_at_most_minus_elbo():
    # With a 2-D latent space, -log p(x) = -log of the integral of p(x|z) p(z)
    # over a grid of z: the IWAE estimate must come close to it from above
    # (a lower bound on log p), and -ELBO is looser still.
    from aezoo.data import binarize_static

    model = VariationalAutoencoder(20, hidden_dims=(16,), latent_dim=2, seed=0)
    # q(z|x) = N(0, 1.5^2 I) for every x: wider than the prior, so the
    # importance weights are bounded and k = 500 samples converge (an untrained
    # encoder's narrow, off-centre q gives heavy-tailed weights instead).
    code = model.encoder_layers[-1]
    code.kernel.assign(np.zeros(code.kernel.shape, "float32"))
    code.bias.assign(np.array([0, 0] + [np.log(np.expm1(1.5))] * 2, "float32"))
    x = binarize_static(X, seed=0)[:8]  # what importance_sampled_nll reads
    axis = np.linspace(-7, 7, 281)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2).astype("float32")
    logits = np.asarray(model._decode_logits(grid), "float64")  # (points, 20)
    log_px_given_z = x @ -np.logaddexp(0, -logits).T + (1 - x) @ -np.logaddexp(0, logits).T
    log_prior = -0.5 * np.sum(grid.astype("float64") ** 2, axis=1) - np.log(2 * np.pi)
    area = (axis[1] - axis[0]) ** 2
    log_px = np.logaddexp.reduce(log_px_given_z + log_prior, axis=1) + np.log(area)
    true_nll = -np.mean(log_px)

    nll = metrics.importance_sampled_nll(model, X, samples=500, images=8)
    assert true_nll - 0.01 < nll < true_nll + 0.1, (nll, true_nll)
    minus_elbo = -np.mean([model.elbo(x) for _ in range(50)])
    assert nll < minus_elbo - 0.05, (nll, minus_elbo)


def test_conv_recipe_trains_on_images_and_measures_corrupted_errors():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(64, 28, 28, 1)).astype("float32")
    recipe = recipes.load_recipe("mnist-conv-denoising")
    assert recipes.example_shape(recipe) == (28, 28, 1)
    model, _ = recipes.train_from_recipe(recipe, arrays=(images, None, images, None),
                                         epochs_scale=0.01, verbose=0)
    assert model.example_shape == (28, 28, 1) and model.noise == "gaussian"
    measured = metrics.evaluate_metrics(model, recipe, images)
    assert set(measured) == {"squared_error", "squared_error_gaussian_0.5",
                             "squared_error_masking_0.5"}
    for name, noise in (("squared_error_gaussian_0.5", "gaussian"),
                        ("squared_error_masking_0.5", "masking")):
        corrupted = metrics.corrupt(images, noise, 0.5).astype("float32")
        assert not np.allclose(corrupted, images)
        x_hat = model.predict(corrupted, verbose=0).astype("float64")
        expected = np.mean(np.sum((images - x_hat).reshape(64, -1) ** 2, axis=1))
        assert measured[name] == pytest.approx(expected, rel=1e-5)
    # The model's own noise: Gaussian, sd 0.5, so the same as the Gaussian metric.
    own = metrics.evaluate_metrics(model, recipe, images, names=["squared_error_corrupted"])
    assert own["squared_error_corrupted"] == pytest.approx(
        measured["squared_error_gaussian_0.5"], rel=1e-6)


def test_metric_values_match_independent_computations():
    from scipy.linalg import subspace_angles
    from sklearn.decomposition import PCA

    from aezoo.data import binarize_static

    rng = np.random.default_rng(3)
    # Training data with a clear principal subspace: 3 strong directions.
    x_train = (0.5 + rng.normal(size=(400, 3)) @ rng.normal(size=(3, 20)) * 0.1
               + rng.normal(size=(400, 20)) * 0.01).astype("float32")
    pca = PCA(3).fit(x_train)
    linear = VARIANTS["linear"](20, latent_dim=2, seed=0)
    # The decoder spans the first principal direction and one 30 degrees from
    # the second towards the third: the largest principal angle is 30.
    first, second, third = pca.components_
    angle = np.radians(30)
    linear.decoder_layers[-1].kernel.assign(
        np.stack([first, np.cos(angle) * second + np.sin(angle) * third]).astype("float32"))
    names = ["principal_angle_pca"]
    measured = metrics.evaluate_metrics(linear, {"metrics": []}, X, x_train=x_train,
                                        names=names)
    assert measured["principal_angle_pca"] == pytest.approx(30.0, abs=0.01)
    assert np.degrees(subspace_angles(
        linear.decoder_layers[-1].kernel.numpy().T, pca.components_[:2].T)).max() == \
        pytest.approx(30.0, abs=0.01)

    # ||J||_F^2 by central differences of the encoder, deep (batch Jacobian) and shallow.
    for hidden in ((16,), ()):
        contractive = VARIANTS["contractive"](20, hidden, 8, seed=0)
        x = X[:3].astype("float64")
        eps = 1e-2
        shifted = np.concatenate([x[:, None, :] + eps * np.eye(20), x[:, None, :] - eps * np.eye(20)],
                                 axis=1).reshape(-1, 20).astype("float32")
        codes = np.asarray(contractive.encode(shifted), "float64").reshape(3, 40, 8)
        jacobian = (codes[:, :20] - codes[:, 20:]) / (2 * eps)
        expected = np.mean(np.sum(jacobian ** 2, axis=(1, 2)))
        measured = metrics.evaluate_metrics(contractive, {"metrics": []}, X[:3],
                                            names=["jacobian_norm"])
        assert measured["jacobian_norm"] == pytest.approx(expected, rel=1e-2), hidden

    # A denoising model's error on masked inputs, against the clean images.
    denoising = VARIANTS["denoising"](20, (), 8, noise_level=0.4, seed=0)
    corrupted = (X * (np.random.default_rng(0).uniform(size=X.shape) >= 0.4)).astype("float32")
    denoised = denoising.predict(corrupted, verbose=0)
    corrupted_error = np.mean(np.sum((X - denoised) ** 2, axis=1))
    measured = metrics.evaluate_metrics(denoising, {"metrics": []}, X,
                                        names=["squared_error_corrupted"])
    assert measured["squared_error_corrupted"] == pytest.approx(corrupted_error, rel=1e-5)
    # Against the corrupted input instead, the value would be far off.
    assert abs(corrupted_error - np.mean(np.sum((corrupted - denoised) ** 2, axis=1))) > 0.5

    # A VAE whose posterior is nearly a point (stddev ~1e-6) at a mean that
    # only units 0 and 1 vary: ELBO = log p(x | mean) - KL, written out, and
    # two active units.
    vae = VariationalAutoencoder(20, hidden_dims=(), latent_dim=8, seed=0)
    code = vae.encoder_layers[-1]
    kernel = np.zeros((20, 16), "float32")
    kernel[:, :2] = rng.normal(size=(20, 2)) * 2
    bias = np.concatenate([rng.normal(size=8), np.full(8, -30.0)]).astype("float32")
    code.kernel.assign(kernel)
    code.bias.assign(bias)
    binary = binarize_static(X, seed=0).astype("float64")
    mean = binary @ kernel[:, :8] + bias[:8]
    stddev = np.logaddexp(0, -30.0) + 1e-6
    decoder = vae.decoder_layers[-1]
    logits = mean @ decoder.kernel.numpy() + decoder.bias.numpy()
    log_px = np.sum(-binary * np.logaddexp(0, -logits) - (1 - binary) * np.logaddexp(0, logits),
                    axis=1)
    kl = 0.5 * np.sum(stddev ** 2 + mean ** 2 - 1 - np.log(stddev ** 2), axis=1)
    measured = metrics.evaluate_metrics(vae, {"metrics": []}, X, names=["elbo", "active_units"])
    assert measured["elbo"] == pytest.approx(np.mean(log_px - kl), rel=1e-4)
    assert measured["active_units"] == 2


def test_target_status():
    assert metrics.target_status({"target": {"op": "<=", "value": 3.0}}, 2.9) == "reached"
    assert metrics.target_status({"target": {"op": "<=", "value": 3.0}}, 3.1) == "not reached"
    within = {"target": {"op": "within_percent", "value": 0.5, "of": 13.87}}
    assert metrics.target_status(within, 13.9) == "reached"
    assert metrics.target_status(within, 14.0) == "not reached"
    assert metrics.target_status({}, 1.0) is None
    assert metrics.describe_target(within["target"]) == "within 0.5 % of 13.87"


def test_card_metrics_keep_unmeasured_values():
    recipe = recipes.load_recipe("mnist-vae-50")
    first = recipes.card_metrics(recipe, {"nll": 90.0, "elbo": -95.0}, nll_images=100)
    nll = next(m for m in first if m["name"] == "nll")
    assert nll["command"] == "aezoo zoo evaluate mnist-vae-50 --all --nll-images 100"
    assert nll["note"] == "first 100 test images"
    second = recipes.card_metrics(recipe, {"elbo": -94.0}, previous=first)
    assert {m["name"]: m["value"] for m in second}["nll"] == 90.0
    assert {m["name"]: m["value"] for m in second}["elbo"] == -94.0
    elbo = next(m for m in second if m["name"] == "elbo")
    assert elbo["command"] == "aezoo zoo evaluate mnist-vae-50"


def test_update_metrics_keeps_files_verified(tmp_path):
    _publish(tmp_path)
    card = zoo.update_metrics("tiny", [{"name": "squared_error", "value": 2.0}], tmp_path)
    assert zoo.info("tiny", tmp_path)["metrics"][0]["value"] == 2.0 == card["metrics"][0]["value"]
    assert all(r["status"] == "ok" for r in zoo.verify("tiny", tmp_path))


def test_table_and_readme_markers(tmp_path, capsys):
    _publish(tmp_path)
    from aezoo.zoo import report

    table = report.markdown_table(tmp_path)
    assert "| `tiny` | " in table and "| squared_error | 1.5 | 3.0 |" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{report.START_MARK}\nold\n{report.END_MARK}\nafter\n")
    assert main(["zoo", "table", "--root", str(tmp_path), "--write", str(readme)]) == 0
    assert report.readme_table(str(readme)) == table
    assert readme.read_text().endswith("after\n")
    (tmp_path / "plain.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="no zoo table markers"):
        report.readme_table(str(tmp_path / "plain.md"))


def test_table_numbers_keep_their_decimal_point():
    from aezoo.zoo.report import fmt

    assert [fmt(4.0), fmt(4.003), fmt(86.5376), fmt(16352.4), fmt(22), fmt(None)] == [
        "4.0", "4.003", "86.54", "16,352", "22", "-"]
    assert fmt(float("nan")) == "nan" and fmt(1e-7) == "1e-07"


# ------------------------------------------------------------- zoo train/evaluate
TINY_RECIPE = {
    "name": "tiny-curves-vae",
    "description": "a test recipe: 64 curves, one epoch",
    "model": {"class": "VariationalAutoencoder",
              "args": {"input_dim": 784, "hidden_dims": [16], "latent_dim": 2}},
    "data": {"name": "curves", "train": 64, "test": 16, "train_seed": 1, "test_seed": 2},
    "training": {"epochs": 1, "optimizer": "adam", "learning_rate": 0.001, "batch_size": 32},
    "seed": 0,
    "metrics": [{"name": "squared_error"}, {"name": "elbo"}, {"name": "nll"}],
}


def _row(out, metric):
    """The cells of the `aezoo zoo evaluate` table's row for ``metric``."""
    return next(line.split() for line in out.splitlines() if line.startswith(metric + " "))


def test_zoo_train_and_evaluate_end_to_end(tmp_path, capsys):
    from aezoo.data import make_curves

    recipe = tmp_path / "tiny.json"
    recipe.write_text(json.dumps(TINY_RECIPE))
    root = str(tmp_path / "zoo")
    train = ["zoo", "train", str(recipe), "--out-root", root, "--cheap-only"]
    assert main(train) == 0
    assert "Published tiny-curves-vae" in capsys.readouterr().out
    card = zoo.info("tiny-curves-vae", root)
    values = {m["name"]: m["value"] for m in card["metrics"]}
    assert values["nll"] is None  # expensive: not measured with --cheap-only
    model = zoo.load("tiny-curves-vae", root=root)
    x_test = make_curves(16, seed=2)
    reconstruction = model.predict(x_test, verbose=0).astype("float64")
    assert values["squared_error"] == pytest.approx(
        np.mean(np.sum((x_test - reconstruction) ** 2, axis=1)), rel=1e-5)
    assert card["data"]["splits"] == {"train": 64, "test": 16}

    # An existing entry is kept unless --overwrite.
    before = (tmp_path / "zoo" / "tiny-curves-vae" / "card.json").read_text()
    assert main(train) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "zoo" / "tiny-curves-vae" / "card.json").read_text() == before

    # --all measures the NLL too, --write stores it; the printed "now" is the stored value.
    evaluate = ["zoo", "evaluate", "tiny-curves-vae", "--root", root, "--all", "--nll-images",
                "4", "--write"]
    assert main(evaluate) == 0
    out = capsys.readouterr().out
    nll = next(m for m in zoo.info("tiny-curves-vae", root)["metrics"] if m["name"] == "nll")
    assert nll["value"] == pytest.approx(
        metrics.importance_sampled_nll(model, x_test, images=4), rel=1e-6)
    assert float(_row(out, "nll")[1]) == pytest.approx(nll["value"], rel=1e-2)
    assert nll["command"] == "aezoo zoo evaluate tiny-curves-vae --all --nll-images 4"
    now, stored = _row(out, "squared_error")[1:3]
    assert float(now) == pytest.approx(values["squared_error"], rel=1e-2)
    assert float(stored) == pytest.approx(values["squared_error"], rel=1e-2)
    assert all(r["status"] == "ok" for r in zoo.verify(root=root))

    assert main([*train, "--overwrite"]) == 0
    capsys.readouterr()
    assert zoo.info("tiny-curves-vae", root)["metrics"][2]["value"] is None  # a new entry

    # --metric measures that metric alone, expensive or not; the others keep their values.
    kept = zoo.info("tiny-curves-vae", root)["metrics"][0]
    only_nll = ["zoo", "evaluate", "tiny-curves-vae", "--root", root, "--metric", "nll",
                "--nll-images", "4", "--write"]
    assert main(only_nll) == 0
    out = capsys.readouterr().out
    assert "(nll only)" in out and _row(out, "squared_error")[1:3] == ["not", "run"]
    after = zoo.info("tiny-curves-vae", root)["metrics"]
    assert after[0] == kept
    assert after[2]["value"] == pytest.approx(
        metrics.importance_sampled_nll(zoo.load("tiny-curves-vae", root=root), x_test,
                                       images=4), rel=1e-6)
    assert main(["zoo", "evaluate", "tiny-curves-vae", "--root", root, "--metric",
                 "linear_probe_error"]) == 1
    assert "has no metric linear_probe_error; its metrics: squared_error, elbo, nll" in (
        capsys.readouterr().err)
