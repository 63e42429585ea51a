"""Small configurations of every variant and both backbones, shared by the test files."""

from aezoo.models import VARIANTS
from aezoo.models.backbones import ConvBackbone

SMALL = dict(input_dim=20, hidden_dims=(16,), latent_dim=8, seed=1)

EXTRA_KWARGS = {
    "ksparse": dict(k=3, k_start=6, anneal_steps=10),
    "denoising": dict(noise="masking", noise_level=0.2),
    "sparse": dict(rho=0.1, beta=1.0),
    "contractive": dict(contractive_weight=0.1),
}

# Variants whose training step draws random numbers (noise, z samples).
STOCHASTIC = {"denoising", "vae"}

BACKBONES = ("dense", "conv")
# The conv cases see the same 20 features as 5 x 4 one-channel images: odd
# sizes, so the decoder's output padding is exercised (5 -> 3 -> 2 -> 3 -> 5).
IMAGE_SHAPE = (5, 4, 1)
CASES = [(name, backbone) for backbone in BACKBONES for name in sorted(VARIANTS)]


def make_small(name, backbone="dense", **overrides):
    kwargs = {**SMALL, **EXTRA_KWARGS.get(name, {}), **overrides}
    if backbone == "conv":
        kwargs.update(input_dim=IMAGE_SHAPE, backbone=ConvBackbone(filters=(4, 8)))
        if name == "ksparse":
            kwargs.setdefault("tied", False)  # tied weights are dense-only
    return VARIANTS[name](**kwargs)


def as_inputs(x, backbone):
    """Rows of 20 features as the backbone's inputs (images for conv)."""
    return x.reshape(len(x), *IMAGE_SHAPE) if backbone == "conv" else x


def per_example_sum(values):
    return values.reshape(len(values), -1).sum(axis=1)
