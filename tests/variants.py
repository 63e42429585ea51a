"""Small configurations of every variant, shared by the test files."""

from aezoo.models import VARIANTS

SMALL = dict(input_dim=20, hidden_dims=(16,), latent_dim=8, seed=1)

EXTRA_KWARGS = {
    "ksparse": dict(k=3, k_start=6, anneal_steps=10),
    "denoising": dict(noise="masking", noise_level=0.2),
    "sparse": dict(rho=0.1, beta=1.0),
    "contractive": dict(contractive_weight=0.1),
}

# Variants whose training step draws random numbers (noise, z samples).
STOCHASTIC = {"denoising", "vae"}


def make_small(name, **overrides):
    kwargs = {**SMALL, **EXTRA_KWARGS.get(name, {}), **overrides}
    return VARIANTS[name](**kwargs)
