"""KSparseAutoencoder: exactly k non-zeros in training, alpha*k at inference, annealing."""

import keras
import numpy as np
import pytest

from aezoo.layers import KSparse
from aezoo.models import KSparseAutoencoder


def nonzeros_per_row(codes):
    return np.count_nonzero(np.asarray(codes), axis=1)


def test_exactly_k_nonzero_in_training_and_alpha_k_at_inference(binary_patterns):
    model = KSparseAutoencoder(20, latent_dim=30, k=4, alpha=2.0, seed=0)
    x = binary_patterns[:50]
    assert (nonzeros_per_row(model.encode(x, training=True)) == 4).all()
    assert (nonzeros_per_row(model.encode(x)) == 8).all()


def test_ties_still_keep_exactly_k():
    layer = KSparse(3)
    codes = layer(np.ones((5, 10), "float32"), training=True)
    assert (nonzeros_per_row(codes) == 3).all()
    kept = layer(np.arange(10, dtype="float32")[None], training=True).numpy()
    np.testing.assert_array_equal(kept[0], [0] * 7 + [7, 8, 9])


def test_k_anneals_linearly_and_the_schedule_survives_saving(binary_patterns, tmp_path):
    model = KSparseAutoencoder(20, latent_dim=30, k=2, k_start=10, anneal_steps=8, seed=0)
    model.compile(optimizer="adam")
    layer = model.k_sparse
    assert int(layer.current_k()) == 10
    x = binary_patterns[:32]
    model.fit(x, epochs=1, batch_size=8, verbose=0)  # 4 steps: halfway
    assert int(layer.current_k()) == 6
    assert (nonzeros_per_row(model.encode(x, training=True)) == 6).all()
    model.save(tmp_path / "k.keras")
    reloaded = keras.models.load_model(tmp_path / "k.keras")
    assert int(reloaded.k_sparse.step.numpy()) == 5
    reloaded.fit(x, epochs=1, batch_size=8, verbose=0)
    assert int(reloaded.k_sparse.current_k()) == 2  # past anneal_steps


def test_tied_by_default_and_bad_settings():
    tied = KSparseAutoencoder(20, latent_dim=30, k=3)
    untied = KSparseAutoencoder(20, latent_dim=30, k=3, tied=False)
    assert tied.count_params() == untied.count_params() - 20 * 30
    for bad in (dict(k=0), dict(k=3, alpha=0.5), dict(k=5, k_start=4), dict(k=3, anneal_steps=-1)):
        with pytest.raises(ValueError):
            KSparse(**bad)
    with pytest.raises(ValueError, match="exceeds the layer width"):
        KSparseAutoencoder(20, latent_dim=5, k=6)


def test_unused_units_counts_the_units_the_top_k_never_keeps(binary_patterns):
    from aezoo.zoo.metrics import evaluate_metrics

    # 10 units, alpha * k = 8 kept: with two units pushed far below the rest,
    # the other eight are kept for every image and those two for none.
    model = KSparseAutoencoder(20, latent_dim=10, k=4, alpha=2.0, seed=0)
    model.encode(binary_patterns[:1])
    code = model.encoder_layers[0]
    code.bias.assign(np.array([-100.0, -100.0] + [0.0] * 8, "float32"))
    measured = evaluate_metrics(model, {"metrics": []}, binary_patterns[:50],
                                names=["unused_units"])
    assert measured == {"unused_units": 2}
    code.bias.assign(np.zeros(10, "float32"))
    assert evaluate_metrics(model, {"metrics": []}, binary_patterns[:50],
                            names=["unused_units"])["unused_units"] < 2


def test_dead_units_are_counted_and_the_auxiliary_loss_revives_them(binary_patterns, tmp_path):
    from aezoo.zoo.metrics import evaluate_metrics

    x = binary_patterns[:64]

    def trained(dead_steps):
        # Two of the 10 units start far below the rest: the top 4 never keeps them.
        model = KSparseAutoencoder(20, latent_dim=10, k=4, alpha=1.0, seed=0,
                                   dead_steps=dead_steps, auxiliary_k=2, auxiliary_weight=0.3,
                                   reconstruction_loss="squared_error",
                                   output_activation="linear")
        model.encoder_layers[0].bias.assign(np.array([-3.0, -3.0] + [0.0] * 8, "float32"))
        model.compile(optimizer=keras.optimizers.Adam(0.05))
        history = model.fit(x, epochs=30, batch_size=16, verbose=0)
        return model, history

    def unused(model):
        return evaluate_metrics(model, {"metrics": []}, x, names=["unused_units"])["unused_units"]

    plain, history = trained(0)
    assert "penalty" not in history.history
    # Without revival the two stay dead (training often kills another).
    assert not np.asarray(plain.encode(x))[:, :2].any()
    assert unused(plain) >= 2

    # Training is not bit-reproducible from run to run on this CPU, so the check
    # leaves a margin: at most one unit unused, and one of the two back at work.
    revived, history = trained(dead_steps=3)
    assert "penalty" in history.history
    assert unused(revived) <= 1
    assert np.asarray(revived.encode(x))[:, :2].any()

    revived.save(tmp_path / "revived.keras")
    reloaded = keras.models.load_model(tmp_path / "revived.keras")
    assert reloaded.k_sparse.dead_steps == 3 and reloaded.auxiliary_k == 2
    np.testing.assert_array_equal(reloaded.k_sparse.steps_since_kept.numpy(),
                                  revived.k_sparse.steps_since_kept.numpy())


def test_auxiliary_code_keeps_only_dead_units():
    layer = KSparse(2, dead_steps=2)
    inputs = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]], "float32")
    for _ in range(2):  # units 0 and 1 are kept; 2-5 go unkept for 2 calls
        layer(inputs, training=True)
    np.testing.assert_array_equal(np.asarray(layer.dead_units()), [0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(layer.auxiliary_code(inputs, 3).numpy(),
                                  [[0, 0, 3, 2, 1, 0]])
    # Asking for more than the dead units keeps only the dead ones.
    np.testing.assert_array_equal(layer.auxiliary_code(inputs, 6).numpy(),
                                  [[0, 0, 3, 2, 1, 0]])
    # A kept unit's count restarts at 0; the others count on.
    layer(np.array([[0.0, 0.0, 9.0, 8.0, 0.0, 0.0]], "float32"), training=True)
    np.testing.assert_array_equal(layer.steps_since_kept.numpy(), [1, 1, 0, 0, 3, 3])
    np.testing.assert_array_equal(np.asarray(layer.dead_units()), [0, 0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="dead_steps"):
        KSparse(2).dead_units()
    for bad in (dict(dead_steps=5, hidden_dims=(8,)), dict(auxiliary_k=0),
                dict(auxiliary_weight=-1.0)):
        with pytest.raises(ValueError):
            KSparseAutoencoder(20, latent_dim=10, k=2, **{"dead_steps": 5, **bad})
    with pytest.raises(ValueError, match="dead_steps must be"):
        KSparse(2, dead_steps=-1)


def test_auxiliary_loss_trains_only_dead_units_on_the_kept_codes_residual():
    import tensorflow as tf

    x = np.random.default_rng(0).random((4, 6)).astype("float32")
    model = KSparseAutoencoder(6, latent_dim=5, k=2, alpha=1.0, seed=0, dead_steps=1,
                               auxiliary_k=2, auxiliary_weight=0.5,
                               reconstruction_loss="squared_error", output_activation="linear")
    model(x)
    # Units 3 and 4 sit far below the rest, so one training step leaves them dead.
    model.encoder_layers[0].bias.assign(np.array([0.0, 0.0, 0.0, -5.0, -5.0], "float32"))
    with tf.GradientTape() as tape:
        terms = model.compute_loss_terms(x, x, training=True)
    dead = np.asarray(model.k_sparse.dead_units())
    assert dead[3:].all()

    # The same loss from the weights: the dead units' two largest pre-activations,
    # decoded without the decoder's bias, are added to the kept code's reconstruction.
    kernel = model.encoder_layers[0].kernel.numpy()
    pre = x @ kernel + model.encoder_layers[0].bias.numpy()
    code = np.where(pre >= np.sort(pre, axis=1)[:, -2:-1], pre, 0.0)
    auxiliary = np.where(dead, pre, -np.inf)
    auxiliary = np.where(auxiliary >= np.sort(auxiliary, axis=1)[:, -2:-1], auxiliary, 0.0)
    auxiliary = np.where(dead, auxiliary, 0.0)
    zeros = np.zeros((1, 5), "float32")
    dead_share = np.asarray(model.decode(auxiliary)) - np.asarray(model.decode(zeros))
    expected = 0.5 * np.sum((x - np.asarray(model.decode(code)) - dead_share) ** 2, axis=1)
    np.testing.assert_allclose(np.asarray(terms["penalty"]), expected, rtol=1e-5)

    # The kept code's reconstruction is held fixed: the loss moves only dead units' weights.
    gradient = tape.gradient(terms["penalty"], model.encoder_layers[0].kernel).numpy()
    assert np.abs(gradient[:, dead]).sum() > 0
    np.testing.assert_array_equal(gradient[:, ~dead], 0.0)
    # Outside training there is no auxiliary loss.
    np.testing.assert_array_equal(np.asarray(model.compute_loss_terms(x, x)["penalty"]), 0.0)
