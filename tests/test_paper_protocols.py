"""The papers' protocols in the zoo: fine-tuned error, time to target, fast modes, schedules."""

import json
import time

import keras
import numpy as np
import pytest
from helpers import tiny_binary_images, tiny_curves_recipe, tiny_pretrained_recipe

from aezoo.finetuning import encoder_classifier, finetune_classifier, finetuned_error
from aezoo.models import DeepAutoencoder, DenoisingAutoencoder
from aezoo.zoo import metrics, recipes
from aezoo.zoo.timing import TimeToTarget, TrainingClock, paper_goals


def _separable(n=600, seed=0):
    """Three classes whose pixels differ by class: an encoder plus softmax can learn them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = rng.uniform(size=(3, 20))
    x = np.clip(centres[y] + 0.15 * rng.normal(size=(n, 20)), 0, 1).astype("float32")
    return x, y


# ------------------------------------------------------------- fine-tuned error
def test_finetuned_error_learns_labels_and_leaves_the_model_alone():
    x, y = _separable()
    model = DeepAutoencoder(20, (16,), 8, seed=0)
    before = [w.copy() for w in model.get_weights()]
    log = []
    error, chosen = finetuned_error(model, x[:500], y[:500], x[500:], y[500:],
                                    learning_rates=(0.05, 0.2), epochs=3, batch_size=20,
                                    validation=100, log=log.append)
    assert error <= 5.0, error
    assert chosen["learning_rate"] in (0.05, 0.2) and 1 <= chosen["epoch"] <= 3
    assert set(chosen["per_learning_rate"]) == {0.05, 0.2}
    assert chosen["validation_error"] == min(
        r["validation_error"] for r in chosen["per_learning_rate"].values())
    assert "400 images" in chosen["protocol"] and "last 100" in chosen["protocol"]
    assert len(log) == 6  # an epoch each, for both rates
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    # Shuffled labels carry nothing to learn: chance error, about 67 %.
    shuffled, _ = finetuned_error(model, x[:500], np.random.default_rng(1).permutation(y[:500]),
                                  x[500:], y[500:], learning_rates=(0.05,), epochs=2,
                                  batch_size=20, validation=100)
    assert shuffled > 40.0


def test_finetuning_a_rate_gives_the_same_weights_whatever_ran_before_it():
    # Comparisons between settings rest on this: one seed, one network, even after other runs
    # in the same process (finetuned_error tries its rates one after another).
    x, y = _separable(300)
    model = DeepAutoencoder(20, (16,), 8, seed=0)

    def weights(rate, seed=0):
        classifier, _, _ = finetune_classifier(model, x[:200], y[:200], x[200:], y[200:], rate,
                                               n_classes=3, epochs=2, batch_size=20, seed=seed)
        return classifier.get_weights()

    first = weights(0.2)
    weights(0.05)
    keras.random.uniform((3,))  # a draw from the global generator between runs
    for old, new in zip(first, weights(0.2)):
        np.testing.assert_array_equal(old, new)
    assert any(not np.array_equal(old, new) for old, new in zip(first, weights(0.2, seed=1)))


def test_finetuning_weight_decay_shrinks_the_kernels_and_not_the_biases():
    x, y = _separable(300)
    model = DeepAutoencoder(20, (16,), 8, seed=0)
    model(x[:2])
    for layer in model.encoder_layers:
        layer.bias.assign(np.full(layer.bias.shape, 2.0, "float32"))  # a scale decay would shrink

    def weights(weight_decay):
        classifier, _, _ = finetune_classifier(model, x[:200], y[:200], x[200:], y[200:], 0.2,
                                               n_classes=3, epochs=2, batch_size=20,
                                               weight_decay=weight_decay)
        return {v.path: v.numpy() for v in classifier.trainable_variables}

    # Over these 20 steps a decay of 0.5 shrinks a weight to about a third of itself.
    plain, decayed = weights(0.0), weights(0.5)
    kernels = [path for path in plain if path.endswith("kernel")]
    biases = [path for path in plain if path.endswith("bias") and "softmax" not in path]
    assert len(kernels) == 3 and len(biases) == 2  # two encoder layers and the softmax layer
    for path in biases:
        assert np.linalg.norm(decayed[path]) > 0.8 * np.linalg.norm(plain[path]), path
    for path in kernels:  # the softmax kernel grows from 0-ish, pushed by the gradient: less so
        shrink = 0.8 if "softmax" in path else 0.6
        assert np.linalg.norm(decayed[path]) < shrink * np.linalg.norm(plain[path]), path
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        finetuned_error(model, x, y, x, y, validation=20, weight_decay=-1e-4)


def test_encoder_classifier_starts_from_the_encoder_without_its_noise():
    x, _ = _separable(50)
    model = DenoisingAutoencoder(20, (16,), 8, noise="masking", noise_level=0.5, seed=0)
    classifier = encoder_classifier(model, n_classes=3)
    assert classifier.output_shape == (None, 3)
    hidden = keras.Model(classifier.inputs, classifier.layers[-2].output)
    np.testing.assert_allclose(hidden([x], training=True), model.encode(x), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"validation": 0}, "validation must be between 1 and"),
    ({"validation": 100}, "validation must be between 1 and"),
    ({"learning_rates": (), "validation": 20}, "at least one learning rate"),
])
def test_finetuned_error_refuses_bad_settings(kwargs, message):
    x, y = _separable(100)
    with pytest.raises(ValueError, match=message):
        finetuned_error(DeepAutoencoder(20, (), 4), x, y, x, y, **kwargs)
    with pytest.raises(ValueError, match="differ in number"):
        finetuned_error(DeepAutoencoder(20, (), 4), x, y[:50], x, y)


def test_recipe_metric_settings_reach_finetuned_error_and_are_checked(tmp_path):
    x, y = _separable(300)
    recipe = recipes.load_recipe("mnist-contractive")
    entry = next(m for m in recipe["metrics"] if m["name"] == "finetuned_error")
    entry["settings"] = {"learning_rates": [0.1], "epochs": 2, "validation": 50}
    model = DeepAutoencoder(20, (), 6, seed=0)
    details = {}
    measured = metrics.evaluate_metrics(model, recipe, x[200:], y[200:], x[:200], y[:200],
                                        names=["finetuned_error"], expensive=True,
                                        details=details)
    assert details["finetuned_error"]["learning_rate"] == 0.1
    assert "150 images" in details["finetuned_error"]["protocol"]
    rows = recipes.card_metrics(recipe, measured, details=details)
    row = next(r for r in rows if r["name"] == "finetuned_error")
    assert row["value"] == measured["finetuned_error"]
    assert row["note"].startswith("lr 0.1, epoch ")
    assert row["command"] == "aezoo zoo evaluate mnist-contractive --all"
    # The cheap default run leaves the expensive metric out.
    assert "finetuned_error" not in metrics.evaluate_metrics(model, recipe, x, y, x, y)
    entry["settings"] = {"momentum": 0.5}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recipe))
    with pytest.raises(recipes.RecipeError, match="settings must be"):
        recipes.load_recipe(str(path))
    del entry["settings"]
    for change, message in (({"momentum": 1.5}, "momentum must be a number"),
                            ({"epsilon": "small"}, "epsilon must be a number"),
                            ({"stages": 0}, "stages must be a positive integer"),
                            ({"schedule": "steps"}, "schedule must be one of")):
        path.write_text(json.dumps({**recipe, "training": {**recipe["training"], **change}}))
        with pytest.raises(recipes.RecipeError, match=message):
            recipes.load_recipe(str(path))


# ------------------------------------------------------------- time to target
def test_training_clock_leaves_out_paused_time():
    clock = TrainingClock()
    with clock.paused():
        time.sleep(0.2)
    assert clock.seconds() < 0.15
    assert clock.paused_seconds >= 0.2


def test_time_to_target_records_the_first_epoch_that_reaches_the_goal():
    values = iter([5.0, 3.5, 2.9, 3.1, 2.0])
    clock, lines = TrainingClock(), []
    callback = TimeToTarget(lambda: {"squared_error": next(values), "elbo": None},
                            {"squared_error": ("<=", 3.0), "elbo": (">=", -90.0)}, clock,
                            log=lines.append)
    for epoch in range(5):
        callback.on_epoch_end(epoch)
    assert callback.reached["squared_error"]["epoch"] == 3
    assert callback.reached["squared_error"]["value"] == 2.9
    assert "elbo" not in callback.reached
    seconds = [s for s, _ in callback.history]
    assert seconds == sorted(seconds)
    assert callback.reached["squared_error"]["seconds"] == seconds[2]
    assert "paper value reached: squared_error" in lines[2] and "reached" not in lines[1]


def test_paper_goals_take_direction_from_the_target():
    recipe = recipes.load_recipe("mnist-hinton-30")
    assert paper_goals(recipe) == {"squared_error": ("<=", 3.0)}
    assert paper_goals(recipes.load_recipe("mnist-contractive")) == {}  # expensive only
    assert paper_goals(recipes.load_recipe("mnist-contractive"), cheap_only=False) == {
        "finetuned_error": ("<=", 1.14)}


def test_train_from_recipe_reports_time_to_target_on_the_training_clock():
    x, recipe = tiny_binary_images(), tiny_pretrained_recipe(epochs=3)
    # A paper value every run reaches at once, so the first epoch meets it.
    recipe["metrics"][0]["paper"] = 1e9
    report = {}
    start = time.perf_counter()
    _, seconds = recipes.train_from_recipe(recipe, arrays=(x, None, x, None), verbose=0,
                                           report=report)
    wall = time.perf_counter() - start
    reached = report["time_to_target"]["squared_error"]
    assert reached["epoch"] == 1
    assert report["pretraining_seconds"] < reached["seconds"] < seconds < wall
    rows = recipes.card_metrics(recipe, {"squared_error": 3.0},
                                time_to_target=report["time_to_target"],
                                training_seconds=seconds)
    assert rows[0]["time_to_paper"] == reached
    # A later evaluation (aezoo zoo evaluate --write) keeps the training's time to target.
    again = recipes.card_metrics(recipe, {"squared_error": 2.5}, previous=rows)
    assert again[0]["value"] == 2.5 and again[0]["time_to_paper"] == reached
    # A goal never met is recorded as not reached.
    recipe["metrics"][0]["paper"] = -1.0
    report = {}
    recipes.train_from_recipe(recipe, arrays=(x, None, x, None), verbose=0, report=report,
                              epochs_scale=0.34)
    assert report["time_to_target"] == {"squared_error": None}


def test_a_pretrained_recipe_fine_tunes_with_its_models_weight_decay():
    # The zoo entry's fine-tuning uses it.
    assert recipes.load_recipe("mnist-hinton-30")["model"]["args"]["weight_decay"] > 0
    x, recipe = tiny_binary_images(), tiny_pretrained_recipe(epochs=1, weight_decay=0.01)
    model, _ = recipes.train_from_recipe(recipe, arrays=(x, None, x, None), verbose=0)
    assert model.weight_decay == 0.01
    # The unrolled kernels carry the penalty, and the training loss adds it.
    kernels = [w for w in model.trainable_weights if "kernel" in w.path]
    assert len(kernels) == 4  # 20-12-4 and back
    expected = 0.01 / 2 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    terms = model.compute_loss_terms(x[:100], x[:100])
    assert float(terms["penalty"]) == pytest.approx(expected, rel=1e-4)


def test_an_expensive_metric_reaching_the_paper_gets_the_training_time():
    recipe = recipes.load_recipe("mnist-contractive")
    rows = recipes.card_metrics(recipe, {"finetuned_error": 1.0, "linear_probe_error": 2.0},
                                time_to_target={}, training_seconds=123.0)
    by_name = {row["name"]: row for row in rows}
    assert by_name["finetuned_error"]["time_to_paper"] == {"seconds": 123.0, "epoch": None,
                                                           "value": 1.0}
    # The probe has no target here, so no direction to reach: not tracked at all.
    assert "time_to_paper" not in by_name["linear_probe_error"]
    assert recipes.card_metrics(recipe, {"finetuned_error": 2.0}, time_to_target={},
                                training_seconds=123.0)[1]["time_to_paper"] is None


def test_an_evaluation_that_reaches_the_paper_records_the_cards_training_time():
    # aezoo zoo evaluate --write: an end-of-training metric measured again (other fine-tuning
    # settings) follows its new value; a per-epoch reading is the training's and stays.
    recipe = recipes.load_recipe("mnist-contractive")
    recipe["metrics"][0].update(paper=3.0, target={"op": "<=", "value": 3.0})
    trained = recipes.card_metrics(recipe, {"squared_error": 2.0, "finetuned_error": 2.0},
                                   time_to_target={"squared_error": {"seconds": 5.0, "epoch": 1,
                                                                     "value": 2.9}},
                                   training_seconds=123.0)
    assert trained[1]["time_to_paper"] is None
    again = recipes.card_metrics(recipe, {"squared_error": 3.5, "finetuned_error": 1.1},
                                 previous=trained, training_seconds=123.0)
    assert again[1]["time_to_paper"] == {"seconds": 123.0, "epoch": None, "value": 1.1}
    assert again[0]["time_to_paper"] == {"seconds": 5.0, "epoch": 1, "value": 2.9}
    worse = recipes.card_metrics(recipe, {"finetuned_error": 1.5}, previous=again,
                                 training_seconds=123.0)
    assert worse[1]["time_to_paper"] is None
    # A metric not measured this time keeps its reading.
    other = recipes.card_metrics(recipe, {"squared_error": 2.0}, previous=again,
                                 training_seconds=123.0)
    assert other[1]["time_to_paper"] == again[1]["time_to_paper"]


# ------------------------------------------------------------- recipes
def test_fast_mode_replaces_the_schedule_only():
    recipe = recipes.load_recipe("mnist-hinton-30")
    fast = recipes.with_fast_mode(recipe)
    assert fast["model"] == recipe["model"] and fast["metrics"] == recipe["metrics"]
    for section in ("pretraining", "training"):
        for key, value in recipe["fast"].get(section, {}).items():
            assert fast[section][key] == value
    assert "fast" not in fast and fast["notes"].startswith("fast mode")
    with pytest.raises(recipes.RecipeError, match="no fast mode"):
        recipes.with_fast_mode(recipes.load_recipe("mnist-linear-30"))


def test_staged_schedule_follows_the_iwae_stages():
    training = {"optimizer": "adam", "learning_rate": 1e-3, "schedule": "staged", "stages": 3,
                "epsilon": 1e-4}
    optimizer = recipes._optimizer(training, 130)  # stage lengths 1 : 3 : 9 of 130 steps
    schedule = optimizer._learning_rate  # the schedule object (learning_rate is its value)
    rates = [float(schedule(step)) for step in (0, 9, 11, 39, 41, 129)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-3 * 10 ** (-1 / 7), 1e-3 * 10 ** (-1 / 7),
                                       1e-3 * 10 ** (-2 / 7), 1e-3 * 10 ** (-2 / 7)], rtol=1e-5)
    assert optimizer.epsilon == 1e-4
    sgd = recipes._optimizer({"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9}, 10)
    assert sgd.momentum == 0.9


def test_output_bias_starts_at_the_logit_of_the_mean_pixel():
    from aezoo.models import VariationalAutoencoder

    x = np.random.default_rng(0).uniform(size=(200, 20)).astype("float32") ** 3
    model = VariationalAutoencoder(20, (8,), 2, seed=0)
    recipes.init_output_bias(model, x)
    mean = np.clip(x.mean(axis=0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(model.decoder_layers[-1].bias, np.log(mean / (1 - mean)),
                               rtol=1e-5)

    conv = VariationalAutoencoder((8, 8, 1), (), 2, backbone={"type": "conv", "filters": [4]})
    with pytest.raises(recipes.RecipeError, match="one output bias per pixel"):
        recipes.init_output_bias(conv, np.full((10, 8, 8, 1), 0.2, dtype="float32"))


def test_pretraining_unrolls_into_a_denoising_autoencoder():
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(200, 20)) < 0.3).astype("float32")
    recipe = recipes.load_recipe("mnist-denoising")
    recipe["model"]["args"].update(input_dim=20, hidden_dims=[12], latent_dim=6)
    recipe["pretraining"].update(hidden_dims=[12, 6], epochs_per_layer=1)
    model, _ = recipes.train_from_recipe(recipe, arrays=(x, None, x, None), verbose=0,
                                         epochs_scale=0.01)
    assert isinstance(model, DenoisingAutoencoder)
    assert model.noise == "masking" and model.noise_level == 0.25
    assert model.hidden_dims == (12,) and model.latent_dim == 6
    assert metrics.evaluate_metrics(model, recipe, x)["squared_error"] > 0


def test_zoo_train_fast_records_time_to_paper_and_hardware(tmp_path, capsys):
    from aezoo import zoo
    from aezoo.cli import main
    from aezoo.zoo import report

    # Any model beats this paper value, so the first epoch reaches it.
    recipe = tiny_curves_recipe(5, metrics=[{"name": "squared_error", "paper": 1e6,
                                             "target": {"op": "<=", "value": 1e6}}])
    recipe["fast"] = {"training": {"epochs": 2, "batch_size": 16}, "notes": "two epochs"}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    root = str(tmp_path / "zoo")
    assert main(["zoo", "train", str(path), "--out-root", root, "--fast"]) == 0
    out = capsys.readouterr().out
    assert "in its fast mode" in out
    assert "[time to target] epoch 2: squared_error" in out
    assert "Time to the paper's squared_error (1e+06): " in out and "(epoch 1)" in out
    card = zoo.info("tiny-curves-ae", root)
    assert card["recipe"]["contents"]["training"]["epochs"] == 5  # the file, as given
    assert card["recipe"]["mode"] == "fast"
    reached = card["metrics"][0]["time_to_paper"]
    assert reached["epoch"] == 1 and 0 < reached["seconds"] < card["training_seconds"]
    assert card["hardware"]["cpu_cores"] >= 1 and isinstance(card["hardware"]["gpus"], list)
    row = report.metric_rows(card)[0]
    assert row["time_to_paper"] == f"{reached['seconds'] / 60:.1f}"
    assert f"| {row['time_to_paper']} |" in report.markdown_table(root)

    del recipe["fast"]
    path.write_text(json.dumps(recipe))
    assert main(["zoo", "train", str(path), "--out-root", root, "--fast", "--overwrite"]) == 2
    assert "has no fast mode" in capsys.readouterr().err


def test_attempted_recipes_stay_valid():
    """zoo/attempts/ holds recipes the docs cite with their figures: each must still run."""
    import glob
    import os

    folder = os.path.join(os.path.dirname(__file__), "..", "zoo", "attempts")
    paths = sorted(glob.glob(os.path.join(folder, "*.json")))
    assert paths, "zoo/attempts/ is cited by zoo/README.md"
    for path in paths:
        recipe = recipes.load_recipe(path)
        recipes.check_model_args(recipe)
        assert recipe["name"] == os.path.basename(path)[:-5]
