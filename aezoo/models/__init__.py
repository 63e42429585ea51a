"""aezoo's autoencoders: one base model and one short module per variant."""

from aezoo.models.base import Autoencoder
from aezoo.models.contractive import ContractiveAutoencoder
from aezoo.models.deep import DeepAutoencoder
from aezoo.models.denoising import DenoisingAutoencoder
from aezoo.models.ksparse import KSparseAutoencoder
from aezoo.models.linear import LinearAutoencoder
from aezoo.models.sparse import SparseAutoencoder
from aezoo.models.variational import VariationalAutoencoder

VARIANTS = {
    "linear": LinearAutoencoder,
    "deep": DeepAutoencoder,
    "denoising": DenoisingAutoencoder,
    "sparse": SparseAutoencoder,
    "ksparse": KSparseAutoencoder,
    "contractive": ContractiveAutoencoder,
    "vae": VariationalAutoencoder,
}

__all__ = [cls.__name__ for cls in VARIANTS.values()] + ["Autoencoder", "VARIANTS"]
