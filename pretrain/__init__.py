"""Greedy layer-wise pretraining for aezoo (Hinton & Salakhutdinov 2006).

Train a stack of RBMs (or denoising layers) bottom-up, unroll it into a deep
autoencoder or classifier, then fine-tune with ``fit`` (or with the paper's
large-batch quasi-Newton schedule, ``finetune_lbfgs``).

The names below load on first use, so ``aezoo --help`` (which imports
``aezoo.cli.pretrain``) does not pay for importing TensorFlow.
"""

import importlib

_EXPORTS = {
    "RBM": "pretrain.rbm",
    "DenoisingLayer": "pretrain.stack",
    "greedy_pretrain": "pretrain.stack",
    "finetune_lbfgs": "pretrain.finetune",
    "unroll": "pretrain.unrolling",
    "unroll_classifier": "pretrain.unrolling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pretrain' has no attribute {name!r}")
