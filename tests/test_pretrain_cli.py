"""``aezoo pretrain``: recipe files, checkpoints and resuming, clear errors."""

import json

import keras

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
