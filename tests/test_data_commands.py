"""The commands on the user's own data: train, pretrain, encode, score, evaluate (in-process)."""

import csv

import keras
import numpy as np
import pytest

from aezoo.cli import main

RNG = np.random.default_rng(3)
NORMAL = RNG.normal(size=(300, 6)) @ RNG.normal(size=(6, 6)) * [1, 5, 20, 1, 1, 100] + 10
ANOMALIES = RNG.normal(size=(20, 6)) * 60 + 10  # far from the normal rows' subspace
ROWS = np.concatenate([NORMAL, ANOMALIES])
LABELS = np.r_[np.zeros(300, int), np.ones(20, int)]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "table.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"f{i}" for i in range(6)] + ["is_anomaly", "site"])
        for row, label in zip(ROWS, LABELS):
            writer.writerow([f"{v:.6g}" for v in row] + [label, "plant-a"])
    return path


@pytest.fixture(scope="module")
def trained(table, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "table.keras"
    code = main(["train", "--model", "deep", "--data", str(table), "--label-column",
                 "is_anomaly", "--drop-non-numeric", "--hidden-dims", "8", "--latent-dim", "2",
                 "--epochs", "40", "--batch-size", "32", "--validation-split", "0.2",
                 "--early-stopping", "5", "--out", str(out)])
    assert code == 0
    return out


COMMON = ["--label-column", "is_anomaly", "--drop-non-numeric"]


@pytest.fixture(scope="module")
def rows(table):
    """The rows as the commands read them (the CSV keeps 6 significant digits)."""
    from aezoo.data import load_data

    return load_data(table, label_column="is_anomaly", drop_non_numeric=True).x


def test_train_prints_its_choices_and_saves_the_scaling(table, tmp_path, capsys):
    out = tmp_path / "m.keras"
    assert main(["train", "--model", "deep", "--data", str(table), *COMMON, "--hidden-dims",
                 "8", "--latent-dim", "2", "--epochs", "2", "--validation-split", "0.25",
                 "--early-stopping", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "320 rows x 6 features, labels kept apart" in printed
    assert "dropped non-numeric column(s): site" in printed
    assert "loss squared_error, linear output; standardization" in printed
    assert "validation 80 rows" in printed and "early stopping on val_loss" in printed
    assert "Mean validation squared error per row" in printed
    model = keras.saving.load_model(out)
    assert model.input_scaling == "standardize" and model.input_dim == 6
    # Fitted on the training part only: the seeded permutation's last 240 rows.
    training = ROWS[np.random.default_rng(0).permutation(320)[80:]]
    np.testing.assert_allclose(model.scaler.offset.numpy(), training.mean(axis=0), rtol=1e-3,
                               atol=1e-3)


def test_score_ranks_the_anomalies_and_writes_csv(trained, table, rows, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", str(trained), "--data", str(table), *COMMON, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    auroc = float(printed.split("AUROC ")[1].split(" %")[0])
    assert auroc > 90.0, printed
    with open(out) as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 320 and written[0].keys() == {"row", "score", "label"}
    assert [int(r["label"]) for r in written] == LABELS.tolist()
    scores = np.array([float(r["score"]) for r in written])
    model = keras.saving.load_model(trained)
    np.testing.assert_allclose(scores, model.reconstruction_error(rows),
                               rtol=1e-4)
    # Never overwritten without --overwrite; npy on request.
    assert main(["score", str(trained), "--data", str(table), *COMMON, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["score", str(trained), "--data", str(table), *COMMON, "--scale", "raw",
                 "--out", str(tmp_path / "raw.npy")]) == 0
    raw = np.load(tmp_path / "raw.npy")
    np.testing.assert_allclose(
        raw, model.reconstruction_error(rows, scale="raw"), rtol=1e-4)


def test_encode_and_evaluate(trained, table, rows, tmp_path, capsys):
    out = tmp_path / "codes.npy"
    assert main(["encode", str(trained), "--data", str(table), *COMMON, "--out", str(out)]) == 0
    codes = np.load(out)
    model = keras.saving.load_model(trained)
    np.testing.assert_allclose(codes, model.encode(rows), rtol=1e-5,
                               atol=1e-6)
    capsys.readouterr()
    assert main(["evaluate", str(trained), "--data", str(table), *COMMON]) == 0
    printed = capsys.readouterr().out
    expected = float(np.mean(model.reconstruction_error(rows)))
    assert f"Mean squared error per row: {expected:.4g} (standardize scale)" in printed


def test_feature_count_and_bad_sources_are_usage_errors(trained, tmp_path, capsys):
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("a,b\n1,2\n3,4\n")
    assert main(["score", str(trained), "--data", str(narrow)]) == 2
    assert "has 2 features, but" in capsys.readouterr().err
    assert main(["score", str(trained), "--data", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "none.keras"), "--data", str(narrow)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cross_entropy_on_a_table_is_refused_before_training(table, capsys):
    assert main(["train", "--model", "deep", "--data", str(table), *COMMON, "--scaling",
                 "none", "--loss", "cross_entropy", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs the training data in [0, 1]" in err and "lies in [" in err


def stripe_images(folder, count, height, width):
    """A folder of ``count`` grey PNGs, image i white in column i % width."""
    from PIL import Image

    folder.mkdir()
    for i in range(count):
        pixels = np.zeros((height, width), np.uint8)
        pixels[:, i % width] = 255
        Image.fromarray(pixels, "L").save(folder / f"{i}.png")
    return folder


def test_train_on_an_image_folder(tmp_path, capsys):
    folder = stripe_images(tmp_path / "digits", 12, 8, 8)
    assert main(["train", "--model", "deep", "--data", str(folder), "--image-size", "8x8",
                 "--hidden-dims", "", "--latent-dim", "3", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "12 rows x 64 features (images 8x8x1)" in printed
    assert "loss cross_entropy, sigmoid output; no scaling" in printed


def test_conv_train_encode_score_on_an_image_folder(tmp_path, capsys):
    """--backbone conv: image-shaped model from an image folder; the other commands reshape."""
    from aezoo.models.backbones import ConvBackbone

    folder = stripe_images(tmp_path / "stripes", 24, 8, 6)
    out = tmp_path / "conv.keras"
    assert main(["train", "--model", "deep", "--backbone", "conv", "--filters", "4,8",
                 "--data", str(folder), "--image-size", "8x6", "--latent-dim", "3", "--epochs", "2",
                 "--batch-size", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "8x6x1-conv4-conv8-3-mirror-8x6x1" in printed
    model = keras.saving.load_model(out, compile=False)
    assert model.example_shape == (8, 6, 1) and isinstance(model.backbone, ConvBackbone)
    codes, size = tmp_path / "codes.npy", ["--image-size", "8x6"]
    assert main(["encode", str(out), "--data", str(folder), *size, "--out", str(codes)]) == 0
    assert np.load(codes).shape == (24, 3)
    scores = tmp_path / "scores.npy"
    assert main(["score", str(out), "--data", str(folder), *size, "--out", str(scores)]) == 0
    assert np.load(scores).shape == (24,) and np.isfinite(np.load(scores)).all()
    assert main(["evaluate", str(out), "--data", str(folder), *size]) == 0
    capsys.readouterr()
    # A table cannot feed a conv model.
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    assert main(["train", "--model", "deep", "--backbone", "conv", "--data", str(table)]) == 2
    assert "--backbone conv needs images" in capsys.readouterr().err
    assert main(["train", "--model", "deep", "--backbone", "conv"]) == 2


def test_pretrain_on_a_table(table, tmp_path, capsys):
    out = tmp_path / "pre.keras"
    assert main(["pretrain", "--data", str(table), *COMMON, "--hidden-dims", "8,2",
                 "--epochs-per-layer", "1", "--finetune-epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "min-max scaling to [0, 1] inside the model" in printed
    assert "Pretraining RBM stack 6-8-2 on 320 rows" in printed
    model = keras.saving.load_model(out)
    assert model.input_scaling == "minmax"
    np.testing.assert_allclose(model.scaler.offset.numpy(), ROWS.min(axis=0), rtol=1e-5)
