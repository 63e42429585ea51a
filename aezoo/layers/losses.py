"""Reconstruction losses and ELBO terms, per example, summed over features.

Summing over features (not averaging, as Keras' ``mse`` does) matches the
papers: "squared error per image" is the sum over the 784 pixels.
"""

from keras import ops


def bernoulli_cross_entropy(target, logits):
    """-log Bernoulli(target | sigmoid(logits)) summed over features.

    Takes logits, not probabilities, for numerical stability; targets may be
    grey levels in [0, 1] (Hinton & Salakhutdinov's cross-entropy).
    """
    elementwise = ops.binary_crossentropy(target, logits, from_logits=True)
    return sum_per_example(elementwise)


def squared_error(target, prediction):
    """sum_i (target_i - prediction_i)^2 per example."""
    return sum_per_example(ops.square(target - prediction))


def sum_per_example(values):
    """The sum over every axis but the first: features, or an image's pixels and channels."""
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def gaussian_kl_to_standard_normal(mean, stddev):
    """KL(N(mean, diag(stddev^2)) || N(0, I)) per example, in nats."""
    variance = ops.square(stddev)
    return 0.5 * ops.sum(
        variance + ops.square(mean) - 1.0 - ops.log(variance), axis=-1
    )


def monte_carlo_kl(posterior, prior, z):
    """One-sample estimate log q(z|x) - log p(z) of KL(q || p), per example.

    For priors with no closed-form KL against a Gaussian (a mixture).
    """
    return posterior.log_prob(z) - prior.log_prob(z)


