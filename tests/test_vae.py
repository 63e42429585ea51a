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


def code_sampler(**kwargs):
    """A Gaussian-likelihood VAE whose decoder is the identity: sample() returns its codes z."""
    model = VariationalAutoencoder(4, hidden_dims=(), latent_dim=4, likelihood="gaussian",
                                   seed=0, **kwargs)
    model._decode_logits = lambda z, training=False: z  # the linear output keeps z as it is
    return model


def two_cluster_prior(model):
    """Sets the mixture prior to 70 % N(+3, 0.5^2) and 30 % N(-3, 0.5^2) (third weight ~0)."""
    model.prior.logits.assign(np.log([0.7, 0.3, 1e-9]).astype("float32"))
    model.prior.locs.assign(np.array([[3.0] * 4, [-3.0] * 4, [0.0] * 4], "float32"))
    # softplus(r) + 1e-4 = 0.5
    model.prior.raw_scales.assign(np.full((3, 4), np.log(np.expm1(0.5 - 1e-4)), "float32"))


def test_sample_decodes_draws_from_the_prior():
    model = code_sampler()
    codes = model.sample(20000, seed=3).numpy()
    np.testing.assert_array_equal(codes, model.sample(20000, seed=3).numpy())  # seeded
    assert not np.allclose(codes[:10], model.sample(10, seed=4).numpy())
    # N(0, I): standard errors of the mean and the stddev are ~0.007 and ~0.005.
    np.testing.assert_allclose(codes.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(codes.std(axis=0), 1.0, atol=0.03)
    correlation = np.corrcoef(codes.T) - np.eye(4)
    assert np.abs(correlation).max() < 0.05

    mixture = code_sampler(prior="mixture", prior_components=3)
    two_cluster_prior(mixture)
    codes = mixture.sample(20000, seed=3).numpy()
    upper = codes[:, 0] > 0
    assert upper.mean() == pytest.approx(0.7, abs=0.02)
    np.testing.assert_allclose(codes[upper].mean(axis=0), 3.0, atol=0.03)
    np.testing.assert_allclose(codes[upper].std(axis=0), 0.5, atol=0.03)
    np.testing.assert_allclose(codes[~upper].mean(axis=0), -3.0, atol=0.05)


@pytest.mark.parametrize("prior", ["standard_normal", "mixture"])
def test_exported_sample_scales_the_prior_by_the_temperature(prior):
    # aezoo.export.prior_sample is what the SavedModel's "sample" signature runs.
    from aezoo.export import prior_sample

    model = code_sampler(prior=prior, prior_components=3)
    if prior == "mixture":
        two_cluster_prior(model)
    tf.random.set_seed(0)
    for temperature in (0.0, 0.5, 1.0):
        codes = prior_sample(model, np.full(20000, temperature, "float32")).numpy()
        if prior == "mixture":
            upper = codes[:, 0] > 0
            assert upper.mean() == pytest.approx(0.7, abs=0.02)  # components: not tempered
            codes = codes[upper] - 3.0
        np.testing.assert_allclose(codes.mean(axis=0), 0.0, atol=0.03)
        stddev = 1.0 if prior == "standard_normal" else 0.5
        np.testing.assert_allclose(codes.std(axis=0), temperature * stddev, atol=0.02)


def test_encode_is_the_posterior_mean_and_stddev_follows_the_encoder(trained_vae):
    model, x = trained_vae
    # The posterior's parameters, computed here from the code layer's weights.
    hidden = x
    for layer in model.encoder_layers[:-1]:
        hidden = np.tanh(hidden @ layer.kernel.numpy() + layer.bias.numpy())
    code = model.encoder_layers[-1]
    params = hidden @ code.kernel.numpy() + code.bias.numpy()
    mean, raw = params[:, :8], params[:, 8:]
    np.testing.assert_allclose(model.encode(x), mean, atol=1e-4)
    np.testing.assert_allclose(model.encode_stddev(x), np.logaddexp(0, raw) + 1e-6, atol=1e-4)
    # The Bernoulli decoder's output is the pixel probability of the mean code.
    np.testing.assert_allclose(model(x), model.decode(mean), atol=1e-6)


def test_monte_carlo_kl_averages_to_the_closed_form():
    # For a standard normal prior the KL has a closed form; the one-sample
    # estimate used with the mixture prior must average to it.
    from aezoo.layers.losses import monte_carlo_kl

    tfd = tfp.distributions
    mean = np.array([[0.5, -1.0, 2.0]], "float32")
    stddev = np.array([[0.7, 1.3, 0.4]], "float32")
    posterior = tfd.Independent(tfd.Normal(mean, stddev), 1)
    prior = tfd.Independent(tfd.Normal(np.zeros(3, "float32"), 1.0), 1)
    z = posterior.sample(200000, seed=0)  # (samples, 1, 3)
    estimates = monte_carlo_kl(posterior, prior, z).numpy()
    closed = float(gaussian_kl_to_standard_normal(mean, stddev)[0])
    # log q - log p for one z, written out.
    z0 = z.numpy()[0, 0]
    log_q = np.sum(-0.5 * ((z0 - mean[0]) / stddev[0]) ** 2 - np.log(stddev[0] * np.sqrt(2 * np.pi)))
    log_p = np.sum(-0.5 * z0 ** 2 - np.log(np.sqrt(2 * np.pi)))
    assert estimates[0, 0] == pytest.approx(log_q - log_p, rel=1e-4)
    standard_error = estimates.std() / np.sqrt(estimates.size)
    assert abs(estimates.mean() - closed) < 4 * standard_error, (estimates.mean(), closed)


def test_gaussian_likelihood_is_a_normal_with_learned_scale(binary_patterns):
    keras.utils.set_random_seed(0)
    model = VariationalAutoencoder(20, hidden_dims=(16,), latent_dim=4, seed=0,
                                   likelihood="gaussian")
    assert model.reconstruction_loss == "squared_error" and model.output_activation == "linear"
    scale = np.random.default_rng(0).uniform(0.2, 2.0, size=20).astype("float32")
    model.log_scale.assign(np.log(scale))
    z = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    x = binary_patterns[:5]
    mu = model.decode(z).numpy()  # linear output: the mean itself, not squashed
    assert mu.min() < 0 or mu.max() > 1 or np.allclose(mu, model._decode_logits(z))
    expected = np.sum(-0.5 * ((x - mu) / scale) ** 2 - np.log(scale * np.sqrt(2 * np.pi)), axis=1)
    np.testing.assert_allclose(model.likelihood_distribution(z).log_prob(x), expected, rtol=1e-5)
    # Training moves the scale towards the residuals' size.
    model.log_scale.assign(np.zeros(20, "float32"))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(binary_patterns, epochs=10, batch_size=32, verbose=0)
    assert np.all(model.log_scale.numpy() < 0)  # residuals < 1 on [0, 1] data


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


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_conv_vae_log_likelihood_sample_and_export(likelihood, binary_patterns, tmp_path):
    """The conv VAE: image-shaped p(x|z) (every pixel in one event), IWAE bound, samples."""
    from aezoo.export import export_saved_model
    from aezoo.models.backbones import ConvBackbone

    keras.utils.set_random_seed(0)
    model = VariationalAutoencoder((5, 4, 1), (), 3, likelihood=likelihood, seed=0,
                                   backbone=ConvBackbone(filters=(4,)))
    x = binary_patterns.reshape(-1, 5, 4, 1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=3, batch_size=64, verbose=0)
    z = model.encode(x[:6])
    assert model.likelihood_distribution(z).event_shape == (5, 4, 1)
    assert model.likelihood_distribution(z).log_prob(x[:6]).shape == (6,)
    elbo = np.mean([model.elbo(x[:6]) for _ in range(10)], axis=0)
    bound = model.log_likelihood(x[:6], num_samples=200, seed=0)
    assert bound.shape == (6,) and np.isfinite(bound).all() and bound.mean() > elbo.mean()
    samples = model.sample(7, seed=1)
    assert samples.shape == (7, 5, 4, 1)
    np.testing.assert_array_equal(samples, model.sample(7, seed=1))
    signatures = tf.saved_model.load(export_saved_model(model, str(tmp_path), "v")).signatures
    drawn = signatures["sample"](temperature=tf.ones([3]))
    assert drawn["x_hat"].shape == (3, 5, 4, 1) and drawn["code"].shape == (3, 3)
