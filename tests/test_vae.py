"""VariationalAutoencoder: ELBO terms, importance-sampled likelihood, priors, sampling."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from aezoo.data import binarize_static
from aezoo.layers import gaussian_kl_to_standard_normal
from aezoo.models import VariationalAutoencoder


@pytest.fixture(scope="module")
def trained_vae(mnist_small):
    x = binarize_static(mnist_small[0][:3000], seed=0)
    keras.utils.set_random_seed(0)
    model = VariationalAutoencoder(784, hidden_dims=(64,), latent_dim=8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, epochs=4, batch_size=100, verbose=0)
    return model, binarize_static(mnist_small[2][:40], seed=1)


def test_log_likelihood_is_finite_and_at_least_the_elbo(trained_vae):
    model, x = trained_vae
    elbo = np.mean([model.elbo(x) for _ in range(20)], axis=0)
    log_likelihood = model.log_likelihood(x, num_samples=500, seed=0)
    assert np.isfinite(log_likelihood).all() and (log_likelihood < 0).all()
    assert log_likelihood.mean() > elbo.mean()
    # More samples give a tighter (higher) bound on average.
    assert log_likelihood.mean() > model.log_likelihood(x, num_samples=5, seed=0).mean()
    # Reproducible from the seed.
    np.testing.assert_allclose(log_likelihood, model.log_likelihood(x, num_samples=500, seed=0))
    # With one sample the estimator is the ELBO, in expectation.
    single = np.mean([model.log_likelihood(x, num_samples=1, seed=s) for s in range(20)], 0)
    assert single.mean() == pytest.approx(elbo.mean(), abs=1.0)


def test_encode_sample_and_stddev(trained_vae):
    model, x = trained_vae
    mean = model.encode(x).numpy()
    np.testing.assert_allclose(mean, model.posterior(tf.constant(x)).mean(), rtol=1e-6)
    assert (model.encode_stddev(x).numpy() > 0).all()
    samples = model.sample(7, seed=1).numpy()
    assert samples.shape == (7, 784) and samples.min() >= 0 and samples.max() <= 1


def test_analytic_kl_matches_tfp():
    mean = np.array([[0.5, -1.0]], "float32")
    stddev = np.array([[0.7, 1.3]], "float32")
    posterior = tfp.distributions.Normal(mean, stddev)
    expected = tfp.distributions.kl_divergence(posterior, tfp.distributions.Normal(0.0, 1.0))
    np.testing.assert_allclose(
        gaussian_kl_to_standard_normal(mean, stddev), np.sum(expected, axis=-1), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs", [dict(prior="mixture", prior_components=3), dict(likelihood="gaussian")]
)
def test_other_priors_and_likelihoods_train(kwargs, binary_patterns, tmp_path):
    keras.utils.set_random_seed(0)
    model = VariationalAutoencoder(20, hidden_dims=(16,), latent_dim=4, seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(binary_patterns, epochs=6, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    if kwargs.get("prior") == "mixture":
        assert len(model.prior.trainable_weights) == 3  # the prior learns
    assert np.isfinite(model.log_likelihood(binary_patterns[:4], num_samples=50)).all()
    model.save(tmp_path / "vae.keras")
    reloaded = keras.models.load_model(tmp_path / "vae.keras")
    np.testing.assert_array_equal(reloaded(binary_patterns), model(binary_patterns))


def test_bad_settings():
    for bad in (dict(likelihood="poisson"), dict(prior="flat"), dict(tied=True)):
        with pytest.raises(ValueError):
            VariationalAutoencoder(20, latent_dim=4, **bad)
    model = VariationalAutoencoder(20, latent_dim=4)
    with pytest.raises(ValueError):
        model.sample(0)
    with pytest.raises(ValueError):
        model.log_likelihood(np.zeros((2, 20)), num_samples=0)
