"""The k-sparse autoencoder (Makhzani & Frey 2013)."""

import keras
from keras import ops

from aezoo.layers.ksparse import KSparse
from aezoo.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aezoo")
class KSparseAutoencoder(Autoencoder):
    """A linear code of which only the top ``k`` units per example survive.

    Training keeps k units (annealed from ``k_start`` over ``anneal_steps``
    steps); ``encode`` and inference keep ``alpha * k``. Tied weights by
    default, as in the paper.

    Units that the top-k stops keeping get no gradient and stay unused for
    good. ``dead_steps`` > 0 revives them with the auxiliary loss of Gao et al.
    (2024, "Scaling and evaluating sparse autoencoders", arXiv:2406.04093): a
    unit not kept for ``dead_steps`` training steps is dead, and the
    ``auxiliary_k`` largest dead activations per example are trained to
    reconstruct what the kept code leaves unexplained in the input, weighted
    by ``auxiliary_weight`` (1/32, that paper's weight). It is reported as the
    "penalty" (with no unit dead it equals ``auxiliary_weight`` times the
    reconstruction term, and gives no gradient). Needs the paper's one-layer
    model, whose decoder is affine in the code, so the dead units' share of
    the reconstruction is the decoder's kernel applied to them.
    """

    def __init__(
        self,
        input_dim,
        hidden_dims=(),
        latent_dim=1000,
        *,
        k=25,
        alpha=3.0,
        k_start=None,
        anneal_steps=0,
        tied=True,
        dead_steps=0,
        auxiliary_k=None,
        auxiliary_weight=1 / 32,
        **kwargs,
    ):
        self.k_sparse = KSparse(
            k, alpha=alpha, k_start=k_start, anneal_steps=anneal_steps,
            dead_steps=dead_steps, name="k_sparse"
        )
        if dead_steps and (tuple(hidden_dims) or kwargs.get("backbone") is not None):
            raise ValueError("dead_steps (reviving dead units) needs the one-layer model, "
                             "hidden_dims=() and no backbone: its decoder is affine in the code.")
        self.auxiliary_k = 2 * int(k) if auxiliary_k is None else int(auxiliary_k)
        if self.auxiliary_k < 1:
            raise ValueError(f"auxiliary_k must be >= 1, got {auxiliary_k}.")
        if float(auxiliary_weight) < 0:
            raise ValueError(f"auxiliary_weight must be >= 0, got {auxiliary_weight}.")
        self.auxiliary_weight = float(auxiliary_weight)
        self.has_penalty = bool(dead_steps)
        super().__init__(input_dim, hidden_dims, latent_dim, tied=tied, **kwargs)

    def _make_encoder_layers(self):
        return [*super()._make_encoder_layers(), self.k_sparse]

    def compute_loss_terms(self, x, target, training=False):
        if not (training and self.k_sparse.dead_steps):
            return super().compute_loss_terms(x, target, training)
        # The revival loss needs the pre-activations and the kept code's logits, so the
        # forward pass is spelled out here to compute each of them once.
        pre_activations = x
        for layer in self.encoder_layers[:-1]:  # all but the top-k
            pre_activations = layer(pre_activations, training=training)
        code = self.k_sparse(pre_activations, training=training)
        logits = self._decode_logits(code, training)
        terms = {"reconstruction": self.reconstruction_loss_per_example(target, logits)}
        return self.with_penalty(
            terms, self.auxiliary_loss(target, pre_activations, logits, training))

    def auxiliary_loss(self, target, pre_activations, logits, training=False):
        """Per-example loss of the dead units reconstructing what ``logits`` leave unexplained.

        Call it after the training step's top-k, which updates the dead-unit counts.
        """
        auxiliary = self.k_sparse.auxiliary_code(pre_activations, self.auxiliary_k)
        # The decoder is affine, so the dead units add decoder(aux) - decoder(0) to the
        # kept code's logits; only that share is trained here. decoder(0) is the same for
        # every example, so one row of it is decoded.
        dead_share = (self._decode_logits(auxiliary, training)
                      - self._decode_logits(ops.zeros_like(auxiliary[:1]), training))
        return self.auxiliary_weight * self.reconstruction_loss_per_example(
            target, ops.stop_gradient(logits) + dead_share)

    def get_config(self):
        layer = self.k_sparse
        return {
            **super().get_config(),
            "k": layer.k,
            "alpha": layer.alpha,
            "k_start": layer.k_start,
            "anneal_steps": layer.anneal_steps,
            "dead_steps": layer.dead_steps,
            "auxiliary_k": self.auxiliary_k,
            "auxiliary_weight": self.auxiliary_weight,
        }
