"""``aezoo pretrain``: recipe files, checkpoints and resuming, clear errors."""

import json

import keras
import pytest

from aezoo.cli import main


def test_pretrain_from_a_recipe_and_resume(mnist_dir, tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"hidden_dims": [16, 4], "epochs_per_layer": 1,
                                  "finetune_epochs": 1, "limit": 300}))
    checkpoints, out = tmp_path / "run", tmp_path / "model.keras"
    common = ["pretrain", "--recipe", str(recipe), "--data-dir", mnist_dir,
              "--checkpoint-dir", str(checkpoints)]
    assert main([*common, "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "784-16-4" in first and "Test squared error per image" in first
    model = keras.models.load_model(out)
    assert model.hidden_dims == (16,) and model.latent_dim == 4

    # A second run with a longer schedule reuses the layers and resumes fine-tuning.
    assert main([*common, "--finetune-epochs", "2"]) == 0
    second = capsys.readouterr().out
    assert second.count("loaded from") == 2
    assert "Resuming fine-tuning at epoch 2" in second


def test_pretrain_usage_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"epochs": 3}))
    assert main(["pretrain", "--recipe", str(bad)]) == 2
    assert "unknown settings: epochs" in capsys.readouterr().err
    assert main(["pretrain", "--recipe", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the recipe" in capsys.readouterr().err
    assert main(["pretrain", "--hidden-dims", "10,0"]) == 2
    assert main(["pretrain", "--out", str(tmp_path / "model.h5")]) == 2
    assert ".keras" in capsys.readouterr().err
    assert main(["pretrain", "--method", "dae", "--rbm-dtype", "mixed_bfloat16"]) == 2
    assert "--rbm-dtype applies to --method rbm, not dae" in capsys.readouterr().err


def test_pretrain_with_bfloat16_products(mnist_dir, tmp_path, capsys):
    out = tmp_path / "model.keras"
    assert main(["pretrain", "--hidden-dims", "16,4", "--epochs-per-layer", "1",
                 "--finetune-epochs", "0", "--limit", "200", "--data-dir", mnist_dir,
                 "--rbm-dtype", "mixed_bfloat16", "--out", str(out)]) == 0
    assert "Test squared error per image" in capsys.readouterr().out
    assert keras.models.load_model(out).latent_dim == 4


def test_pretrain_dae_stack_tied_with_lbfgs_and_resume(mnist_dir, tmp_path, capsys):
    import re

    import numpy as np

    from aezoo.data import load_mnist
    from aezoo.evaluation import squared_error_per_image
    from aezoo.models import DeepAutoencoder

    checkpoints, out = tmp_path / "run", tmp_path / "model.keras"
    argv = ["pretrain", "--method", "dae", "--tied", "--finetune", "lbfgs",
            "--hidden-dims", "16,4", "--epochs-per-layer", "1", "--finetune-epochs", "1",
            "--limit", "200", "--data-dir", mnist_dir, "--checkpoint-dir", str(checkpoints)]
    assert main([*argv, "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "Pretraining DAE stack 784-16-4" in first and "1 lbfgs fine-tuning" in first
    assert "[finetune-lbfgs] epoch 1/1" in first
    model = keras.models.load_model(out)
    assert type(model) is DeepAutoencoder and model.tied
    assert model.hidden_dims == (16,) and model.latent_dim == 4
    assert model.code_activation is None  # the top DAE layer is linear
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "layer_0.keras", "layer_1.keras", "stack.json"]
    # The printed error is the saved model's, on the 10,000 test images.
    reported = float(re.search(r"Test squared error per image: ([0-9.]+)", first).group(1))
    x_test = load_mnist("test", data_dir=mnist_dir)[0]
    assert squared_error_per_image(model, x_test) == pytest.approx(reported, abs=2e-3)

    # Rerun: both DAE layers come from the checkpoints, and the deterministic
    # L-BFGS schedule then gives the same model.
    assert main([*argv, "--out", str(out), "--overwrite"]) == 0
    second = capsys.readouterr().out
    assert second.count("loaded from") == 2
    before = re.findall(r"test squared error per image ([0-9.]+) before", first + second)
    assert len(before) == 2 and before[0] == before[1]
    again = keras.models.load_model(out)
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
