"""The shipped zoo under saved_models/: every entry verifies, loads, matches its card, exports.

Each model reconstructs (or classifies) the first test images about as well
as its card says it does on all 10,000; a damaged copy is refused; the
README's zoo table is the one the cards give; the README's fine-tuning
example runs. Tests that need MNIST skip without it (curves are generated).
"""

import os
import runpy
import shutil

import numpy as np
import pytest

from aezoo import zoo
from aezoo.zoo import report
from aezoo.zoo.metrics import evaluate_metrics
from aezoo.zoo.recipes import example_shape, load_data
from helpers import damage_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(REPO, "saved_models")
MODELS = zoo.list_models(ROOT)
SUBSET = 2000
# The first 2,000 test images are not the 10,000: a subset's mean squared
# error differs from the full mean by a few percent (measured: at most 6 %).
SQUARED_ERROR_TOLERANCE = 0.10
TEST_ERROR_TOLERANCE = 1.0  # percentage points
needs_models = pytest.mark.skipif(not MODELS, reason="saved_models/ holds no zoo model yet")


def _card_value(card, name):
    return next(m["value"] for m in card["metrics"] if m["name"] == name)


@pytest.fixture(scope="module")
def datasets(request):
    cache = {}

    def get(recipe):
        name = recipe["data"]["name"]
        key = (name, example_shape(recipe))  # conv entries take 28 x 28 x 1 images
        if key not in cache:
            if name == "mnist":
                request.getfixturevalue("mnist_dir")
            cache[key] = load_data(recipe)
        return cache[key]
    return get


@needs_models
@pytest.mark.parametrize("name", MODELS)
def test_entry_verifies_loads_and_matches_its_card(name, datasets, tmp_path):
    assert [r for r in zoo.verify(name, ROOT) if r["status"] != "ok"] == []
    card = zoo.info(name, ROOT)
    assert card["parameters"] > 0 and card["training_seconds"] > 0
    assert all(m["value"] is not None and m["command"] for m in card["metrics"]), \
        "every metric on a shipped card is measured and names its command"
    model = zoo.load(name, root=ROOT)
    assert model.optimizer is not None and model.trainable
    recipe = card["recipe"]["contents"]
    _, _, x_test, y_test = datasets(recipe)
    x, y = x_test[:SUBSET], None if y_test is None else y_test[:SUBSET]
    measured = evaluate_metrics(model, recipe, x, y, names=["squared_error", "test_error"])
    if "squared_error" in measured:
        stored = _card_value(card, "squared_error")
        assert measured["squared_error"] == pytest.approx(stored, rel=SQUARED_ERROR_TOLERANCE)
    else:
        stored = _card_value(card, "test_error")
        assert abs(measured["test_error"] - stored) <= TEST_ERROR_TOLERANCE
    if card["kind"] == "autoencoder":
        import tensorflow as tf

        from aezoo.export import export_saved_model

        exported = export_saved_model(model, str(tmp_path), name, 1)
        signatures = tf.saved_model.load(str(exported)).signatures
        codes = signatures["encode"](x=tf.constant(x[:8]))["code"].numpy()
        np.testing.assert_allclose(codes, np.asarray(model.encode(x[:8])), atol=1e-5)


@needs_models
def test_registry_matches_the_development_zoo():
    """The cards shipped in the wheel are saved_models/'s, file for file."""
    from aezoo.zoo.registry import read_registry

    registry = read_registry()["models"]
    assert sorted(registry) == MODELS, "run `aezoo zoo release DIR` to update the registry"
    for name in MODELS:
        assert registry[name] == zoo.info(name, ROOT), \
            f"the registry's card of {name} is stale: run `aezoo zoo release DIR`"
    assert zoo.list_models() == MODELS  # the default catalog is the registry


@needs_models
@pytest.mark.parametrize("damage, expected", [("flipped", "sha256 mismatch"),
                                              ("truncated", "truncated")])
def test_damaged_copy_is_refused(damage, expected, tmp_path):
    name = min(MODELS, key=lambda n: zoo.info(n, ROOT)["parameters"])  # the smallest entry
    shutil.copytree(os.path.join(ROOT, name), tmp_path / name)
    card = zoo.info(name, tmp_path)
    damage_file(tmp_path / card["keras_file"], damage, offset=100)
    with pytest.raises(zoo.ZooIntegrityError, match=expected) as error:
        zoo.load(name, root=tmp_path)
    assert card["keras_file"].split("/")[-1] in str(error.value)


@needs_models
def test_readme_table_matches_the_cards():
    assert report.readme_table(os.path.join(REPO, "README.md")) == report.markdown_table(ROOT), \
        "README.md's zoo table is stale: run `aezoo zoo table --write README.md`"


def _readme_block(marker):
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    start = text.index(marker)
    begin = text.index("```python\n", start) + len("```python\n")
    return text[begin:text.index("```", begin)]


@pytest.mark.skipif("mnist-hinton-30" not in MODELS, reason="mnist-hinton-30 is not trained")
def test_readme_fine_tuning_example_runs(mnist_dir, capsys):
    path = os.path.join(REPO, "examples", "finetune_classifier.py")
    with open(path) as handle:
        example = handle.read()
    assert _readme_block("<!-- example: examples/finetune_classifier.py -->") in example
    namespace = runpy.run_path(path, run_name="example")
    accuracy = namespace["accuracy"]
    pretrained, scratch = accuracy.values()
    assert pretrained > scratch and pretrained > 0.85
    assert "test accuracy" in capsys.readouterr().out


@needs_models
def test_evaluate_command_prints_now_beside_card(mnist_dir, capsys):
    from aezoo.cli import main

    name = min(MODELS, key=lambda n: zoo.info(n, ROOT)["parameters"])
    assert main(["zoo", "evaluate", name, "--root", ROOT]) == 0
    out = capsys.readouterr().out
    assert "now" in out and "card" in out and "paper" in out
    # The same model on the same 10,000 test images: "now" is the card's value
    # (printed to 4 significant digits), and "card" is the stored one.
    stored = _card_value(zoo.info(name, ROOT), "squared_error")
    row = next(line.split() for line in out.splitlines() if line.startswith("squared_error "))
    assert float(row[1]) == pytest.approx(stored, rel=1e-3)
    assert float(row[2]) == pytest.approx(stored, rel=1e-3)


@needs_models
def test_demo_prints_the_table_and_draws(mnist_dir, tmp_path, capsys):
    from aezoo import demo

    assert demo.main(["--out-dir", str(tmp_path), "--test-images", "1000"]) == 0
    out = capsys.readouterr().out
    for name in MODELS:
        assert name in out
    assert "baseline" in out and "PCA-" in out
    assert (tmp_path / "reconstructions.png").is_file()
