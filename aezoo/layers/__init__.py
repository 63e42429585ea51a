"""aezoo's shared building blocks: corruption, sparsity, tying, penalties, losses."""

from aezoo import backend  # noqa: F401  (TensorFlow backend check)
from aezoo.layers.contractive import jacobian_frobenius_norm, sigmoid_dense_jacobian_norm
from aezoo.layers.ksparse import KSparse
from aezoo.layers.losses import (
    bernoulli_cross_entropy,
    gaussian_kl_to_standard_normal,
    monte_carlo_kl,
    squared_error,
)
from aezoo.layers.noise import (
    AdditiveGaussianNoise,
    MaskingNoise,
    SaltAndPepperNoise,
    make_corruption,
)
from aezoo.layers.priors import GaussianMixturePrior, StandardNormalPrior
from aezoo.layers.regularizers import KLSparsityRegularizer
from aezoo.layers.tied import TiedDense

__all__ = [
    "AdditiveGaussianNoise",
    "GaussianMixturePrior",
    "KLSparsityRegularizer",
    "KSparse",
    "MaskingNoise",
    "SaltAndPepperNoise",
    "StandardNormalPrior",
    "TiedDense",
    "bernoulli_cross_entropy",
    "gaussian_kl_to_standard_normal",
    "jacobian_frobenius_norm",
    "make_corruption",
    "monte_carlo_kl",
    "sigmoid_dense_jacobian_norm",
    "squared_error",
]
