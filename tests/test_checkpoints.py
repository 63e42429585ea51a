"""Resumable zoo training (aezoo.zoo.checkpoints): interrupted runs continue where they stopped."""

import json
import os

import numpy as np
import pytest
from helpers import tiny_binary_images, tiny_curves_recipe, tiny_pretrained_recipe

from aezoo.zoo import recipes
from aezoo.zoo.checkpoints import CheckpointError, TrainingCheckpoint


class Interrupted(Exception):
    """Stands in for a session that ends in the middle of training."""


def _tiny_pretrained_recipe():
    recipe = tiny_pretrained_recipe(epochs=3)
    recipe["metrics"][0]["paper"] = 1e9  # reached at once: a time to target to carry over
    return recipe


def _interrupt_at(epoch, lines):
    def log(line):
        lines.append(line)
        if f"epoch {epoch}:" in line:  # after the epoch, before its backup
            raise Interrupted(line)
    return log


def test_an_interrupted_run_resumes_without_pretraining_again(tmp_path, monkeypatch):
    import pretrain

    x, recipe = tiny_binary_images(), _tiny_pretrained_recipe()
    checkpoint = TrainingCheckpoint(tmp_path, recipe)
    assert not checkpoint.resuming
    first = []
    with pytest.raises(Interrupted):
        recipes.train_from_recipe(recipe, arrays=(x, None, x, None), verbose=2,
                                  log=_interrupt_at(2, first), checkpoint=checkpoint)
    saved = TrainingCheckpoint(tmp_path, recipe)
    assert saved.resuming and saved.has_pretrained
    assert saved.state["epoch"] == 1  # epoch 2 ended before its backup was written
    assert saved.state["time_to_target"]["squared_error"]["epoch"] == 1
    assert saved.state["training_seconds"] > saved.state["pretraining_seconds"] > 0

    def no_pretraining(*args, **kwargs):
        raise AssertionError("a resumed run pretrained again")

    monkeypatch.setattr(pretrain, "greedy_pretrain", no_pretraining)
    second, report = [], {}
    model, seconds = recipes.train_from_recipe(recipe, arrays=(x, None, x, None), verbose=2,
                                               log=second.append, checkpoint=saved,
                                               report=report)
    epochs_run = [line.split("epoch ")[1].split(":")[0] for line in second]
    assert epochs_run == ["2", "3"]
    assert int(model.optimizer.iterations.numpy()) == 3 * 3  # 3 epochs of 3 batches in all
    # The card's figures count both sessions: the first one's time to target and clock.
    assert report["time_to_target"]["squared_error"] == saved.state["time_to_target"][
        "squared_error"]
    assert report["pretraining_seconds"] == saved.state["pretraining_seconds"]
    assert seconds > saved.state["training_seconds"]
    assert TrainingCheckpoint(tmp_path, recipe).state["epoch"] == 3


def test_a_finished_checkpoint_trains_no_more_and_matches_its_model(tmp_path):
    recipe = recipes.load_recipe("mnist-vae-50")
    recipe["model"]["args"].update(input_dim=20, hidden_dims=[8], latent_dim=2)
    recipe["training"].update(epochs=2, batch_size=100)
    x = tiny_binary_images()
    arrays = (x, None, x, None)
    model, _ = recipes.train_from_recipe(recipe, arrays=arrays, verbose=0,
                                         checkpoint=TrainingCheckpoint(tmp_path, recipe))
    again, _ = recipes.train_from_recipe(recipe, arrays=arrays, verbose=0,
                                         checkpoint=TrainingCheckpoint(tmp_path, recipe))
    for before, after in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert int(again.optimizer.iterations.numpy()) == 2 * 3


def test_a_checkpoint_of_another_run_is_refused_and_kept(tmp_path):
    recipe = _tiny_pretrained_recipe()
    TrainingCheckpoint(tmp_path, recipe).save_state(epoch=1)
    state = tmp_path / recipe["name"] / "state.json"
    written = state.read_text()
    other = json.loads(json.dumps(recipe))
    other["training"]["learning_rate"] *= 2
    with pytest.raises(CheckpointError, match="another recipe"):
        TrainingCheckpoint(tmp_path, other)
    with pytest.raises(CheckpointError, match="another epoch scale"):
        TrainingCheckpoint(tmp_path, recipe, epochs_scale=0.5)
    assert state.read_text() == written
    state.write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read the checkpoint"):
        TrainingCheckpoint(tmp_path, recipe)


def test_a_checkpoint_moves_to_a_recipe_that_trains_the_same_way(tmp_path):
    # An attempt that beat its entry: its run, renamed, resumes under the entry's recipe.
    attempt = _tiny_pretrained_recipe()
    attempt["name"], attempt["description"] = "tiny-attempt", "a longer run"
    attempt["training"]["notes"] = "the attempt's notes"
    TrainingCheckpoint(tmp_path, attempt).save_state(epoch=2, training_seconds=60.0)
    entry = json.loads(json.dumps(attempt))
    entry.update(name="tiny-entry", description="the entry", notes="promoted")
    entry["training"]["notes"] = "the entry's notes"
    os.rename(tmp_path / "tiny-attempt", tmp_path / "tiny-entry")
    moved = TrainingCheckpoint(tmp_path, entry)
    assert moved.resuming and moved.state["epoch"] == 2
    assert moved.state["training_seconds"] == 60.0
    # Metrics measured once the run is over may differ: attempts often measure fewer.
    entry["metrics"].append({"name": "linear_probe_error"})
    assert TrainingCheckpoint(tmp_path, entry).state["epoch"] == 2
    # Anything the run trains with still has to match, and so do the goals timed every epoch,
    # whose readings the checkpoint holds.
    for change in ("epochs", "goal"):
        changed = json.loads(json.dumps(entry))
        if change == "epochs":
            changed["training"]["epochs"] += 1
        else:
            changed["metrics"][0]["paper"] = 2e9
        with pytest.raises(CheckpointError, match="another recipe"):
            TrainingCheckpoint(tmp_path, changed)


def test_a_folder_of_other_files_is_left_alone(tmp_path):
    recipe = _tiny_pretrained_recipe()
    folder = tmp_path / recipe["name"]
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="not an aezoo training checkpoint"):
        TrainingCheckpoint(tmp_path, recipe)
    # remove() deletes only what the checkpoint wrote.
    (folder / "notes.txt").unlink()
    checkpoint = TrainingCheckpoint(tmp_path, recipe)
    checkpoint.save_state(epoch=1)
    (folder / "notes.txt").write_text("mine")
    checkpoint.remove()
    assert sorted(os.listdir(folder)) == ["notes.txt"]


def test_zoo_train_resumes_from_its_checkpoint_dir_and_removes_it(tmp_path, capsys):
    from aezoo import zoo
    from aezoo.cli import main

    recipe = tiny_curves_recipe(3)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    checkpoints, root = tmp_path / "runs", str(tmp_path / "zoo")
    # A run that stopped after its second epoch (as the session's end would stop it).
    TrainingCheckpoint(checkpoints, recipe).save_state(epoch=2, training_seconds=600.0)
    other = dict(recipe, training=dict(recipe["training"], epochs=4))
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["zoo", "train", str(tmp_path / "other.json"), "--out-root", root,
                 "--checkpoint-dir", str(checkpoints)]) == 2
    assert "made with another recipe" in capsys.readouterr().err

    assert main(["zoo", "train", str(path), "--out-root", root,
                 "--checkpoint-dir", str(checkpoints)]) == 0
    out = capsys.readouterr().out
    assert "Resuming from" in out and "2 epochs done, 10.0 min of training so far" in out
    card = zoo.info("tiny-curves-ae", root)
    assert card["training_seconds"] > 600.0  # the earlier session's training counts
    assert not (checkpoints / "tiny-curves-ae").exists()


def test_a_fresh_process_loads_a_pretrained_checkpoint(tmp_path):
    # `aezoo zoo train` resuming in a new session has imported no model class when it loads
    # the pretrained network; the checkpoint must register them itself.
    import subprocess
    import sys

    from aezoo.models import DenoisingAutoencoder

    recipe = _tiny_pretrained_recipe()
    model = DenoisingAutoencoder(20, (), 4, noise="masking", noise_level=0.25, seed=0)
    model(np.zeros((1, 20), "float32"))
    TrainingCheckpoint(tmp_path, recipe).save_pretrained(model, 1.0)
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    script = ("import json, sys\n"
              "from aezoo.zoo.checkpoints import TrainingCheckpoint\n"
              "recipe = json.load(open(sys.argv[2]))\n"
              "print(type(TrainingCheckpoint(sys.argv[1], recipe).load_pretrained()).__name__)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path),
                           str(tmp_path / "recipe.json")], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "DenoisingAutoencoder"
