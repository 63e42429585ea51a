"""Preprocessing inside the model: FeatureScaling, raw-scale methods, save/reload, export, losses."""

import numpy as np
import pytest
import tensorflow as tf

from aezoo.layers.scaling import FeatureScaling
from aezoo.models import VARIANTS, DeepAutoencoder
from aezoo.models.data_defaults import settings_for_data
from variants import make_small

RNG = np.random.default_rng(0)
# A table with very different feature scales and one constant column.
TABLE = (RNG.normal(size=(256, 20)) * np.geomspace(0.01, 1000, 20) + 50).astype("float32")
TABLE[:, 5] = 3.0


@pytest.mark.parametrize("mode", ["standardize", "minmax"])
def test_feature_scaling_statistics(mode):
    layer = FeatureScaling(mode, 20).adapt(TABLE, batch_size=50)  # in several batches
    x = TABLE.astype(np.float64)
    if mode == "standardize":
        offset, scale = x.mean(axis=0), x.std(axis=0)
    else:
        offset, scale = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
    scale[5] = 1.0  # a constant feature is not divided by zero
    np.testing.assert_allclose(layer.offset.numpy(), offset, rtol=1e-5)
    np.testing.assert_allclose(layer.scale.numpy(), scale, rtol=1e-4)
    scaled = layer(TABLE).numpy()
    np.testing.assert_allclose(layer.invert(scaled).numpy(), TABLE, rtol=1e-4, atol=1e-3)
    streamed = FeatureScaling(mode, 20).adapt(tf.data.Dataset.from_tensor_slices(TABLE).batch(7))
    np.testing.assert_allclose(streamed.scale.numpy(), layer.scale.numpy(), rtol=1e-5)
    if mode == "minmax":
        assert scaled.min() >= -1e-6 and scaled.max() <= 1 + 1e-6


def test_scaling_refuses_bad_data():
    with pytest.raises(ValueError, match="empty"):
        FeatureScaling("minmax", 3).adapt(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        FeatureScaling("minmax", 3).adapt(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="unknown scaling"):
        FeatureScaling("log", 3)


def _table_model(**kwargs):
    return DeepAutoencoder(20, (16,), 4, input_scaling="standardize",
                           reconstruction_loss="squared_error", output_activation="linear",
                           seed=1, **kwargs)


@pytest.fixture(scope="module")
def trained():
    model = _table_model()
    model.compile(optimizer="adam")
    model.fit(TABLE, epochs=20, batch_size=64, verbose=0)  # adapts the scaling first
    return model


def test_methods_take_and_give_raw_values(trained):
    scaler = trained.scaler
    assert scaler.adapted and float(scaler.count.numpy()) == 256
    np.testing.assert_allclose(scaler.offset.numpy(), TABLE.mean(axis=0), rtol=1e-4)
    x = TABLE[:32]
    reconstruction = trained(x).numpy()
    standardized = (x - TABLE.mean(axis=0)) / np.where(TABLE.std(axis=0) > 0,
                                                       TABLE.std(axis=0), 1)
    # Reconstructions are on the raw scale: errors are small relative to each feature's spread.
    relative = np.abs(reconstruction - x) / TABLE.std(axis=0).clip(1e-3)
    assert np.median(relative) < 1.0
    np.testing.assert_allclose(trained.decode(trained.encode(x)), reconstruction, rtol=1e-5)
    scaled_error = trained.reconstruction_error(x).numpy()
    hat_scaled = (reconstruction - scaler.offset.numpy()) / scaler.scale.numpy()
    np.testing.assert_allclose(scaled_error, ((standardized - hat_scaled) ** 2).sum(axis=1),
                               rtol=1e-3, atol=1e-3)
    raw_error = trained.reconstruction_error(x, scale="raw").numpy()
    np.testing.assert_allclose(raw_error, ((x - reconstruction) ** 2).sum(axis=1), rtol=1e-4)
    assert raw_error.mean() > 100 * scaled_error.mean()  # the 1000-wide features dominate raw
    with pytest.raises(ValueError, match="scale must be"):
        trained.reconstruction_error(x, scale="log")


def test_scaling_learns_what_no_scaling_cannot(trained):
    """Unscaled, the large features swamp the loss; scaled, every feature is modelled."""
    plain = DeepAutoencoder(20, (16,), 4, reconstruction_loss="squared_error",
                            output_activation="linear", seed=1)
    plain.compile(optimizer="adam")
    plain.fit(TABLE, epochs=20, batch_size=64, verbose=0)
    std = TABLE.std(axis=0).clip(1e-3)

    def per_feature(model):
        return (np.abs(model(TABLE).numpy() - TABLE) / std).mean()

    assert per_feature(trained) < 0.5 * per_feature(plain)


def test_save_reload_keeps_the_scaling(trained, tmp_path):
    import keras

    path = tmp_path / "scaled.keras"
    trained.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.input_scaling == "standardize" and loaded.scaler.adapted
    np.testing.assert_array_equal(loaded(TABLE[:8]).numpy(), trained(TABLE[:8]).numpy())
    np.testing.assert_array_equal(loaded.reconstruction_error(TABLE[:8]).numpy(),
                                  trained.reconstruction_error(TABLE[:8]).numpy())


def test_saved_model_scores_raw_rows_as_keras_does(trained, tmp_path):
    from aezoo.export import export_saved_model

    version = export_saved_model(trained, str(tmp_path), "table", 1, warmup=False)
    signatures = tf.saved_model.load(str(version)).signatures
    x = tf.constant(TABLE[:16])
    np.testing.assert_allclose(signatures["anomaly_score"](x=x)["score"],
                               trained.reconstruction_error(TABLE[:16]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(signatures["reconstruct"](x=x)["x_hat"], trained(TABLE[:16]),
                               rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(signatures["encode"](x=x)["code"], trained.encode(TABLE[:16]),
                               rtol=1e-5, atol=1e-5)


def test_cross_entropy_refuses_data_outside_the_unit_interval(binary_patterns):
    x = binary_patterns[:64] * 5
    model = DeepAutoencoder(input_dim=20, hidden_dims=(8,), latent_dim=4, seed=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"cross_entropy loss needs x in \[0, 1\].*\[0, 5\]"):
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"the first batch of x.*\[0, 5\]"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
    minmax = DeepAutoencoder(input_dim=20, hidden_dims=(8,), latent_dim=4, seed=0,
                             input_scaling="minmax")
    minmax.compile(optimizer="adam")
    minmax.fit(x, epochs=1, verbose=0)  # mapped into [0, 1] inside the model


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_trains_on_a_scaled_table(name, tmp_path):
    import keras

    extra = {"vae": {"likelihood": "gaussian"}, "linear": {}}.get(
        name, {"reconstruction_loss": "squared_error", "output_activation": "linear"})
    model = make_small(name, input_scaling="standardize", **extra)
    model.compile(optimizer="adam")
    history = model.fit(TABLE, epochs=2, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.encode(TABLE[:4]), model.encode(TABLE[:4]), rtol=1e-6)


def test_defaults_chosen_from_the_data():
    pixels = RNG.uniform(size=(10, 5))
    kwargs, reason = settings_for_data(DeepAutoencoder, pixels)
    assert kwargs == {"input_scaling": None, "reconstruction_loss": "cross_entropy",
                      "output_activation": "sigmoid"}
    assert "no scaling" in reason
    kwargs, reason = settings_for_data(DeepAutoencoder, pixels * 5)
    assert kwargs == {"input_scaling": "standardize", "reconstruction_loss": "squared_error",
                      "output_activation": "linear"}
    assert "[0, 5" in reason or "[0.0" in reason or "lie in" in reason
    kwargs, _ = settings_for_data(DeepAutoencoder, pixels * 5, input_scaling="minmax")
    assert kwargs["reconstruction_loss"] == "cross_entropy"
    kwargs, _ = settings_for_data(VARIANTS["vae"], pixels * 5)
    assert kwargs == {"input_scaling": "standardize", "likelihood": "gaussian"}
    kwargs, _ = settings_for_data(VARIANTS["linear"], pixels * 5)
    assert kwargs == {"input_scaling": "standardize"}
