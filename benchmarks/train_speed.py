"""Training throughput of aezoo's DeepAutoencoder against a plain Keras model.

    python benchmarks/train_speed.py [--case dense|conv] [--rounds 5] [--images 10000]
                                     [--batch-size 100]

``--case dense`` (the default): both models are
784-1000-500-250-30-250-500-1000-784 (sigmoid hidden units, a linear code, an
output layer of logits). ``--case conv``: both are aezoo's ``ConvBackbone``
on 28 x 28 x 1 images, two stride-2 conv blocks (32, 64 filters, ReLU), a
linear 30-d code and the transposed mirror; the peer is a functional model
of the same Keras layers. Both start from the same weights, train
with Adam(1e-3) on the same batches (no shuffling) and minimise the same loss:
Bernoulli cross-entropy from logits summed over the 784 pixels and averaged
over the batch. aezoo's model uses its own train_step; the peer is a
functional keras.Model compiled with that loss and Keras' default train_step.

After one warm-up epoch each (so tracing is not timed), the models train one
epoch each per round, in alternating order, in this process; the script
prints each round's images/s, the medians and their ratio. Data: the first
--images MNIST training images when AEZOO_DATA_DIR points at MNIST, else
uniform random data of the same shape (the script says which).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from aezoo.data import load_mnist  # noqa: E402
from aezoo.data.mnist import find_local_mnist_dir  # noqa: E402
from aezoo.models import DeepAutoencoder  # noqa: E402
from aezoo.models.backbones import ConvBackbone  # noqa: E402

HIDDEN_DIMS = (1000, 500, 250)
LATENT_DIM = 30
TARGET_RATIO = 0.95
IMAGE_SHAPE = (28, 28, 1)
CONV_FILTERS = (32, 64)


def bernoulli_cross_entropy_loss(y_true, logits):
    """Per-example -log Bernoulli(y | sigmoid(logits)) summed over pixels.

    Keras' default reduction then averages over the batch, as aezoo does.
    """
    elementwise = ops.binary_crossentropy(y_true, logits, from_logits=True)
    return ops.sum(elementwise, axis=tuple(range(1, len(elementwise.shape))))


def keras_peer(input_dim=784, hidden_dims=HIDDEN_DIMS, latent_dim=LATENT_DIM):
    """(training model with logits output, inference model with sigmoid output)."""
    inputs = keras.Input((input_dim,))
    h = inputs
    for units in hidden_dims:
        h = keras.layers.Dense(units, activation="sigmoid")(h)
    h = keras.layers.Dense(latent_dim)(h)
    for units in reversed(hidden_dims):
        h = keras.layers.Dense(units, activation="sigmoid")(h)
    logits = keras.layers.Dense(input_dim)(h)
    probabilities = keras.layers.Activation("sigmoid")(logits)
    return keras.Model(inputs, logits), keras.Model(inputs, probabilities)


def keras_conv_peer(backbone, latent_dim=LATENT_DIM):
    """A functional model of the same layers as aezoo's conv autoencoder (logits out)."""
    no_settings = lambda index: {}  # noqa: E731  (the weights are copied in afterwards)
    inputs = keras.Input(IMAGE_SHAPE)
    h = inputs
    for layer in backbone.encoder_layers(no_settings):
        h = layer(h)
    h = keras.layers.Dense(latent_dim)(h)
    for layer in backbone.decoder_layers(IMAGE_SHAPE, no_settings):
        h = layer(h)
    return keras.Model(inputs, h)


def build_pair(case, seed):
    """(aezoo model, Keras peer), same layers and the same initial weights."""
    if case == "conv":
        backbone = ConvBackbone(filters=CONV_FILTERS)
        model = DeepAutoencoder(IMAGE_SHAPE, (), LATENT_DIM, backbone=backbone, seed=seed)
        peer = keras_conv_peer(backbone)
    else:
        model = DeepAutoencoder(784, HIDDEN_DIMS, LATENT_DIM, seed=seed)
        peer, _ = keras_peer()
    # Both list their layers' kernel and bias in the same order.
    peer.set_weights(model.get_weights())
    return model, peer


def describe(case, model):
    if case == "conv":
        return (f"conv {'x'.join(map(str, IMAGE_SHAPE))} - {'-'.join(map(str, CONV_FILTERS))} "
                f"filters, stride 2 - {LATENT_DIM} - mirror, {model.count_params():,} parameters")
    return (f"784-{'-'.join(map(str, HIDDEN_DIMS))}-{LATENT_DIM}-mirror-784, "
            f"{model.count_params():,} parameters")


def load_data(n_images, seed):
    directory = find_local_mnist_dir()
    if directory is not None:
        x, _ = load_mnist("train")
        if n_images > len(x):
            raise SystemExit(f"--images {n_images} exceeds the {len(x)} MNIST training images")
        return x[:n_images], f"MNIST, the first {n_images:,} training images from {directory}"
    rng = np.random.default_rng(seed)
    x = rng.random((n_images, 784), dtype=np.float32)
    return x, f"uniform random data of shape ({n_images:,}, 784) (AEZOO_DATA_DIR not set)"


def train_epoch(model, x, y, batch_size):
    """Seconds for one epoch of model.fit, and the epoch's mean loss."""
    start = time.perf_counter()
    history = model.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
    return time.perf_counter() - start, history.history["loss"][-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("dense", "conv"), default="dense",
                        help="default: %(default)s")
    parser.add_argument("--rounds", type=int, default=5, help="default: %(default)s")
    parser.add_argument("--images", type=int, default=10000,
                        help="images per epoch (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=100, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    args = parser.parse_args(argv)
    if min(args.rounds, args.images, args.batch_size) < 1:
        parser.error("--rounds, --images and --batch-size must be positive")

    x, description = load_data(args.images, args.seed)
    if args.case == "conv":
        x = x.reshape(-1, *IMAGE_SHAPE)
    keras.utils.set_random_seed(args.seed)
    aezoo_model, peer = build_pair(args.case, args.seed)
    aezoo_model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3))
    peer.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=bernoulli_cross_entropy_loss
    )
    contenders = {
        "aezoo": (aezoo_model, None),  # the input is the target
        "keras": (peer, x),
    }

    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"devices: {_devices()}")
    print(f"data: {description}")
    print(f"model: {describe(args.case, aezoo_model)}; Adam 1e-3, batch {args.batch_size}, "
          f"{args.rounds} rounds x 1 epoch of {args.images:,} images each")

    warm_up = {}
    for name, (model, y) in contenders.items():
        seconds, loss = train_epoch(model, x, y, args.batch_size)
        warm_up[name] = loss
        print(f"warm-up epoch {name}: {seconds:.2f} s (includes tracing), loss {loss:.4f}")
    print("  (same initial weights and batches, so the losses should agree to float rounding)")

    rates = {name: [] for name in contenders}
    for round_index in range(args.rounds):
        order = list(contenders) if round_index % 2 == 0 else list(reversed(contenders))
        cells = {}
        for name in order:
            model, y = contenders[name]
            seconds, _ = train_epoch(model, x, y, args.batch_size)
            rates[name].append(args.images / seconds)
            cells[name] = f"{name} {rates[name][-1]:8.0f} images/s"
        print(f"round {round_index + 1}: " + "   ".join(cells[name] for name in contenders))

    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in medians.items():
        print(f"median {name}: {value:.0f} images/s")
    ratio = medians["aezoo"] / medians["keras"]
    print(f"ratio aezoo/keras: {ratio:.2f} (target >= {TARGET_RATIO})")
    return 0


def _devices():
    import tensorflow as tf

    return ", ".join(d.device_type for d in tf.config.list_logical_devices()) or "none"


if __name__ == "__main__":
    raise SystemExit(main())
