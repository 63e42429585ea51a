"""Tests for the ``aezoo`` command line (aezoo.cli.main, called in-process).

Argument errors are checked without data. The training runs need real MNIST
(AEZOO_DATA_DIR pointing at the four IDX files) and skip otherwise; each
trains a tiny model for one epoch on 200 images.
"""

import re

import numpy as np
import pytest

from aezoo import __version__
from aezoo.cli import LIKELIHOODS, MODELS, NOISES, PRIORS, main
from helpers import assert_script_imports_no_tensorflow

# The mnist_dir fixture skips without data, and fails instead in CI (conftest.py).
needs_mnist = pytest.mark.usefixtures("mnist_dir")

QUICK = ["--limit", "200", "--epochs", "1"]


def run(argv, capsys):
    """Runs main(argv); returns (exit status, stdout, stderr)."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------ without data
def test_choices_match_the_library():
    from aezoo.layers.noise import CORRUPTIONS
    from aezoo.layers.priors import PRIORS as LIBRARY_PRIORS
    from aezoo.models import VARIANTS
    from aezoo.models.variational import LIKELIHOODS as LIBRARY_LIKELIHOODS

    assert set(MODELS) == set(VARIANTS)
    assert set(NOISES) == set(CORRUPTIONS)
    assert set(PRIORS) == set(LIBRARY_PRIORS)
    assert set(LIKELIHOODS) == set(LIBRARY_LIKELIHOODS)


def test_version(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"aezoo {__version__}"


def test_help_does_not_import_tensorflow():
    script = (
        "from aezoo.cli import main\n"
        "assert main(['train', '--help']) == 0\n"
        "assert main(['train', '--model', 'deep', '--rho', '0.1']) == 2\n"
    )
    assert "--hidden-dims" in assert_script_imports_no_tensorflow(script)


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--model", "deep", "--rho", "0.1"], "--rho"),
        (["--model", "sparse", "--k", "5"], "--k"),
        (["--model", "linear", "--noise", "gaussian"], "--noise"),
        (["--model", "ksparse", "--noise-level", "0.1"], "--noise-level"),
        (["--model", "denoising", "--likelihood", "gaussian"], "--likelihood"),
        (["--model", "contractive", "--prior", "mixture"], "--prior"),
        (["--model", "deep", "--contractive-weight", "0.1"], "--contractive-weight"),
        (["--model", "vae", "--tied"], "--tied"),
        (["--model", "vae", "--no-tied"], "--no-tied"),
    ],
)
def test_flag_for_another_variant_is_an_error(argv, flag, capsys):
    code, out, err = run(["train", *argv, *QUICK], capsys)
    model = argv[1]
    assert code == 2
    assert flag in err and f"--model {model}" in err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "deep", "--hidden-dims", "100,x"], "--hidden-dims"),
        (["--model", "deep", "--hidden-dims", "100,0"], "--hidden-dims"),
        (["--model", "deep", "--latent-dim", "0"], "--latent-dim"),
        (["--model", "deep", "--epochs", "0"], "--epochs"),
        (["--model", "deep", "--learning-rate", "-1"], "--learning-rate"),
        (["--model", "mlp"], "--model"),
        (["--hidden-dims", "10"], "--model"),
        (["--model", "deep", "--out", "model.h5"], ".keras"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(argv, message, capsys):
    code, out, err = run(["train", *argv], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_no_command_is_an_error(capsys):
    code, _, err = run([], capsys)
    assert code == 2 and "COMMAND" in err


def test_refuses_to_overwrite_before_training(tmp_path, capsys):
    path = tmp_path / "model.keras"
    path.write_bytes(b"keep me")
    code, out, err = run(["train", "--model", "deep", *QUICK, "--out", str(path)], capsys)
    assert code == 2
    assert "already exists" in err and "--overwrite" in err
    assert out == ""  # nothing was trained
    assert path.read_bytes() == b"keep me"


def test_missing_data_dir_exits_2(tmp_path, capsys):
    missing = tmp_path / "no-mnist-here"
    code, out, err = run(
        ["train", "--model", "deep", *QUICK, "--data-dir", str(missing)], capsys
    )
    assert code == 2
    assert str(missing) in err and "Traceback" not in err


# --------------------------------------------------------------- training
@pytest.fixture(scope="module")
def x_test(mnist_dir):
    from aezoo.data import load_mnist

    return load_mnist("test", data_dir=mnist_dir)[0]


# (--model, extra flags, expected config values of the saved model)
TRAIN_CASES = [
    ("linear", ["--latent-dim", "8"], {"hidden_dims": [], "latent_dim": 8}),
    (
        "deep",
        ["--hidden-dims", "32,16", "--latent-dim", "8", "--weight-decay", "1e-4"],
        {"hidden_dims": [32, 16], "latent_dim": 8, "weight_decay": 1e-4},
    ),
    (
        "denoising",
        ["--hidden-dims", "", "--latent-dim", "16", "--noise", "gaussian", "--noise-level", "0.1"],
        {"hidden_dims": [], "latent_dim": 16, "noise": "gaussian", "noise_level": 0.1},
    ),
    (
        "sparse",
        ["--latent-dim", "16", "--rho", "0.05", "--beta", "1"],
        {"latent_dim": 16, "rho": 0.05, "beta": 1.0},
    ),
    (
        "ksparse",
        ["--latent-dim", "32", "--k", "5", "--k-start", "10", "--anneal-steps", "2", "--no-tied",
         "--dead-steps", "50", "--auxiliary-k", "8"],
        {"latent_dim": 32, "k": 5, "k_start": 10, "anneal_steps": 2, "tied": False,
         "dead_steps": 50, "auxiliary_k": 8},
    ),
    (
        "contractive",
        ["--latent-dim", "16", "--contractive-weight", "0.01", "--tied"],
        {"latent_dim": 16, "contractive_weight": 0.01, "tied": True},
    ),
    (
        "vae",
        ["--hidden-dims", "32", "--latent-dim", "4", "--prior", "mixture"],
        {"hidden_dims": [32], "latent_dim": 4, "likelihood": "bernoulli", "prior": "mixture"},
    ),
]


@needs_mnist
@pytest.mark.parametrize(
    "model_name, flags, expected", TRAIN_CASES, ids=[case[0] for case in TRAIN_CASES]
)
def test_train_saves_a_model_that_reloads(model_name, flags, expected, tmp_path, capsys, x_test):
    import keras

    from aezoo.evaluation import squared_error_per_image
    from aezoo.models import VARIANTS

    path = tmp_path / "out" / f"{model_name}.keras"  # the folder is created
    argv = ["train", "--model", model_name, *flags, *QUICK, "--seed", "1", "--out", str(path)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    cls = VARIANTS[model_name]
    assert f"Training {cls.__name__}" in out and "200 MNIST training images" in out
    assert re.search(r"^2/2 - .*loss: ", out, re.MULTILINE)  # verbose=2: a line per epoch
    assert path.is_file()

    model = keras.models.load_model(path)
    assert type(model) is cls
    config = model.get_config()
    for key, value in expected.items():
        assert config[key] == pytest.approx(value), key
    assert config["seed"] == 1

    # The reported test error is that of the saved model.
    reported = float(re.search(r"Test squared error per image: ([0-9.]+)", out).group(1))
    assert squared_error_per_image(model, x_test) == pytest.approx(reported, abs=2e-3)
    assert 0 < reported < 784
    if model_name == "vae":
        elbo = float(re.search(r"Test ELBO: (-?[0-9.]+) nats", out).group(1))
        assert -784 * np.log(2) * 2 < elbo < 0
    else:
        assert "ELBO" not in out


@needs_mnist
def test_overwrite_replaces_an_existing_file(tmp_path, capsys):
    import keras

    path = tmp_path / "model.keras"
    path.write_bytes(b"old")
    argv = ["train", "--model", "deep", "--hidden-dims", "", "--latent-dim", "4", *QUICK]
    code, _, err = run([*argv, "--out", str(path), "--overwrite"], capsys)
    assert code == 0, err
    assert keras.models.load_model(path).latent_dim == 4


@needs_mnist
def test_default_architecture_is_the_variants(capsys, monkeypatch):
    # Stop after the header: fit is not needed to check the architecture.
    from aezoo.models.base import Autoencoder

    class Stop(Exception):
        pass

    def no_fit(self, *args, **kwargs):
        raise Stop

    monkeypatch.setattr(Autoencoder, "fit", no_fit)
    for model_name, architecture in [
        ("deep", "784-1000-500-250-30-250-500-1000-784"),
        ("linear", "784-30-784"),
        ("vae", "784-200-200-50-200-200-784"),
    ]:
        with pytest.raises(Stop):
            main(["train", "--model", model_name, *QUICK])
        assert f" {architecture}, " in capsys.readouterr().out


@needs_mnist
def test_invalid_hyperparameter_exits_2(capsys):
    code, out, err = run(
        ["train", "--model", "ksparse", "--latent-dim", "10", "--k", "20", *QUICK], capsys
    )
    assert code == 2
    assert "k (20) exceeds the layer width (10)" in err
    assert "Traceback" not in err and "Training" not in out
