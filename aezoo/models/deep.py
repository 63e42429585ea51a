"""The deep (or shallow, under- or overcomplete) autoencoder of Hinton & Salakhutdinov 2006."""

import keras

from aezoo.models.base import Autoencoder


@keras.saving.register_keras_serializable(package="aezoo")
class DeepAutoencoder(Autoencoder):
    """Logistic hidden units, a linear code layer and a cross-entropy loss.

    The defaults are the 2006 paper's MNIST network, 784-1000-500-250-30. Any
    depth and widths work; ``latent_dim`` larger than ``input_dim`` gives an
    overcomplete model (pair it with a penalty or noise to stay useful).
    """

    def __init__(self, input_dim=784, hidden_dims=(1000, 500, 250), latent_dim=30, **kwargs):
        super().__init__(input_dim, hidden_dims, latent_dim, **kwargs)
