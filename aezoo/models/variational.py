"""The variational autoencoder (Kingma & Welling 2013), with tfp distributions."""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from aezoo.layers.losses import gaussian_kl_to_standard_normal, monte_carlo_kl
from aezoo.layers.priors import PRIORS
from aezoo.models.base import Autoencoder

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "gaussian")
# Set from ``likelihood``, so neither accepted nor saved.
FIXED = ("code_activation", "output_activation", "reconstruction_loss")


@keras.saving.register_keras_serializable(package="aezoo")
class VariationalAutoencoder(Autoencoder):
    """Gaussian posterior q(z|x), reparameterized; Bernoulli or Gaussian p(x|z).

    The encoder's last dense layer outputs the posterior mean and a softplus-
    parameterized standard deviation. ``prior`` is "standard_normal" (the KL
    term in closed form) or "mixture", a learnable mixture of
    ``prior_components`` Gaussians (the KL term by one Monte Carlo sample).
    The training loss is the negative ELBO; metrics report its
    ``reconstruction`` (-log p(x|z)) and ``kl`` parts, in nats per example.

    ``encode`` returns the posterior mean; ``call`` decodes it (the mean of
    p(x|z), i.e. pixel probabilities for the Bernoulli decoder).
    """

    def __init__(
        self,
        input_dim,
        hidden_dims=(200, 200),
        latent_dim=50,
        *,
        activation="tanh",
        likelihood="bernoulli",
        prior="standard_normal",
        prior_components=10,
        **kwargs,
    ):
        if likelihood not in LIKELIHOODS:
            raise ValueError(
                f"unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}."
            )
        if prior not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}; choose one of {sorted(PRIORS)}.")
        if kwargs.get("tied"):
            raise ValueError("the VAE's code layer has two heads; it cannot be tied.")
        for fixed in FIXED:
            if fixed in kwargs:
                raise ValueError(
                    f"VariationalAutoencoder sets {fixed} from likelihood; do not pass it."
                )
        self.likelihood = likelihood
        self.prior_name = prior
        self.prior_components = int(prior_components)
        bernoulli = likelihood == "bernoulli"
        super().__init__(
            input_dim,
            hidden_dims,
            latent_dim,
            activation=activation,
            code_activation=None,
            output_activation="sigmoid" if bernoulli else "linear",
            reconstruction_loss="cross_entropy" if bernoulli else "squared_error",
            **kwargs,
        )

    primary_loss_terms = ("reconstruction", "kl")

    def get_config(self):
        config = super().get_config()
        for fixed in FIXED:
            config.pop(fixed)
        return {
            **config,
            "likelihood": self.likelihood,
            "prior": self.prior_name,
            "prior_components": self.prior_components,
        }

    def build(self, input_shape=None):
        if self.built:
            return
        # The prior and the Gaussian decoder's scale are model state, so
        # they are created here, before the base class marks the model built.
        if self.prior_name == "mixture":
            self.prior = PRIORS["mixture"](
                self.latent_dim, self.prior_components, seed=self.seed, name="prior"
            )
        else:
            self.prior = PRIORS["standard_normal"](self.latent_dim, name="prior")
        if self.likelihood == "gaussian":
            # One learnable log standard deviation per feature.
            self.log_scale = self.add_weight(
                shape=self.example_shape, initializer="zeros", name="log_scale"
            )
        self.sampling_seed = keras.random.SeedGenerator(self.seed)
        super().build(input_shape)

    def code_units(self):
        return 2 * self.latent_dim

    # ------------------------------------------------------------ distributions
    def posterior(self, x, training=False):
        """q(z|x) as a tfp distribution with event shape (latent_dim,)."""
        mean, stddev = self._posterior_params(x, training)
        return tfd.Independent(tfd.Normal(mean, stddev), reinterpreted_batch_ndims=1)

    def likelihood_distribution(self, z, training=False):
        """p(x|z) as a tfp distribution with event shape ``example_shape``."""
        logits = self._decode_logits(z, training)
        if self.likelihood == "bernoulli":
            base = tfd.Bernoulli(logits=logits, dtype=tf.float32)
        else:
            base = tfd.Normal(logits, ops.exp(self.log_scale))
        return tfd.Independent(base, reinterpreted_batch_ndims=len(self.example_shape))

    def _posterior_params(self, x, training=False):
        params = self._encode(x, training)
        mean, raw_stddev = ops.split(params, 2, axis=-1)
        return mean, ops.softplus(raw_stddev) + 1e-6

    # ----------------------------------------------------------------- forward
    def encode(self, x, training=False):
        """The posterior mean E[z|x]."""
        mean, _ = self._posterior_params(self.scaled_inputs(x), training)
        return mean

    def encode_stddev(self, x):
        """The posterior standard deviation, per latent unit."""
        _, stddev = self._posterior_params(self.scaled_inputs(x))
        return stddev

    def _reconstruct_scaled(self, x, training=False):
        """The mean of p(x|z) at the posterior mean: what ``call`` returns."""
        mean, _ = self._posterior_params(x, training)
        return self._output_fn(self._decode_logits(mean, training))

    def sample(self, n, seed=None):
        """``n`` draws of the mean of p(x|z), z from the prior; the same ``seed``, the same draws."""
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}.")
        if seed is not None:
            # An int seeds tfp's stateful ops, which draw anew on every call in
            # eager mode; a shape-[2] tensor selects the stateless samplers.
            seed = tf.constant([int(seed), 0], tf.int32)
        z = self.prior.distribution().sample(n, seed=seed)
        return self.raw_outputs(self._output_fn(self._decode_logits(z)))

    # ------------------------------------------------------------------ losses
    def compute_loss_terms(self, x, target, training=False):
        mean, stddev = self._posterior_params(x, training)
        eps = keras.random.normal(ops.shape(mean), seed=self.sampling_seed)
        z = mean + stddev * eps  # the reparameterization trick
        reconstruction = -self.likelihood_distribution(z, training).log_prob(target)
        if self.prior_name == "standard_normal":
            kl = gaussian_kl_to_standard_normal(mean, stddev)
        else:
            posterior = tfd.Independent(tfd.Normal(mean, stddev), 1)
            kl = monte_carlo_kl(posterior, self.prior.distribution(), z)
        return self.with_penalty({"reconstruction": reconstruction, "kl": kl})

    def elbo(self, x, batch_size=500):
        """The evidence lower bound per example (one z sample each), in nats."""
        x = np.asarray(x)
        terms = [
            self.compute_loss_terms(chunk, chunk)
            for chunk in _chunks(self.scaled_inputs(x), batch_size)
        ]
        return np.concatenate(
            [-(t["reconstruction"] + t["kl"]).numpy() for t in terms]
        )

    def log_likelihood(self, x, num_samples=5000, batch_size=20, seed=0):
        """Importance-sampled log p(x) per example, in nats (Burda et al. 2015).

        log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x): a lower bound
        that tightens as ``num_samples`` (k) grows and equals the ELBO's
        expectation at k = 1. Samples are drawn in chunks so memory stays at
        about ``batch_size`` x 500 x input_dim floats.
        """
        num_samples = int(num_samples)
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
        x = self.scaled_inputs(x)
        chunk = min(num_samples, 500)
        generator = tf.random.Generator.from_seed(seed)
        results = []
        for batch in _chunks(x, batch_size):
            log_weights = []
            done = 0
            while done < num_samples:
                size = min(chunk, num_samples - done)
                log_weights.append(
                    self._log_importance_weights(
                        batch, size, tf.cast(generator.make_seeds(1)[:, 0], tf.int32)
                    )
                )
                done += size
            log_weights = tf.concat(log_weights, axis=0)
            results.append(
                tf.reduce_logsumexp(log_weights, axis=0) - math.log(num_samples)
            )
        return tf.concat(results, axis=0).numpy()

    @tf.function(reduce_retracing=True)
    def _log_importance_weights(self, x, num_samples, seed):
        posterior = self.posterior(x)
        z = posterior.sample(num_samples, seed=seed)  # (k, batch, latent)
        flat_z = tf.reshape(z, (-1, self.latent_dim))
        # Row i * batch + b of the flattened samples belongs to example b.
        x_tiled = tf.tile(x, [num_samples] + [1] * len(self.example_shape))
        log_px = tf.reshape(
            self.likelihood_distribution(flat_z).log_prob(x_tiled), tf.shape(z)[:2]
        )
        return log_px + self.prior.distribution().log_prob(z) - posterior.log_prob(z)


def _chunks(x, size):
    for start in range(0, int(x.shape[0]), size):
        yield x[start : start + size]
