"""Greedy layer-wise pretraining for aezoo (Hinton & Salakhutdinov 2006).

Train a stack of RBMs (or denoising layers) bottom-up, unroll it into a deep
autoencoder or classifier, then fine-tune with ``fit`` (or with the paper's
large-batch quasi-Newton schedule, ``finetune_lbfgs``).
"""

from pretrain.finetune import finetune_lbfgs
from pretrain.rbm import RBM
from pretrain.stack import DenoisingLayer, greedy_pretrain
from pretrain.unroll import unroll, unroll_classifier

__all__ = ["RBM", "DenoisingLayer", "finetune_lbfgs", "greedy_pretrain", "unroll",
           "unroll_classifier"]
