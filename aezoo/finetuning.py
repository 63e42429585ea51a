"""Fine-tuned error: an autoencoder's encoder plus a softmax head, all trained with labels.

This is how Rifai et al. (2011) and Vincent et al. (2010) report their MNIST
figures (../shared/REFERENCES.md): the pretrained layers initialise a
classifier, every layer is trained on the labels, the hyperparameters are
chosen on a validation split taken from the training set (50,000 / 10,000),
and the chosen network's test error is the figure. A linear probe on frozen
codes (``aezoo.zoo.metrics.linear_probe_error``) measures something else,
and the zoo keeps both.

The protocol here: for each learning rate of a small grid, a fresh copy of
the encoder (the model itself is never changed) plus a Glorot-initialised
softmax layer is trained with SGD and momentum 0.9, the rate decaying along
a cosine to zero over ``epochs`` epochs (with ``weight_decay`` > 0, every
step also shrinks each kernel, not the biases, by ``rate * weight_decay`` of
itself: decoupled weight decay, Loshchilov & Hutter 2019); after every epoch
the validation error is measured and the weights of the best epoch are kept. The learning
rate and epoch with the lowest validation error win; their test error is
reported. The network is not retrained on all 60,000 images afterwards.
"""

import time

import numpy as np

from aezoo.evaluation import error_percent

VALIDATION_IMAGES = 10000
LEARNING_RATES = (0.05, 0.1)
EPOCHS = 30
BATCH_SIZE = 100
MOMENTUM = 0.9
WEIGHT_DECAY = 0.0


def check_labelled_split(x_train, y_train, x_test, y_test, validation):
    """Raises ValueError unless images and labels pair up and ``validation`` leaves training rows.

    Shared by the fine-tuned error and the linear probe, which both take their
    validation split from the end of the training set.
    """
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"images and labels differ in number: {len(x_train)} training images "
                         f"for {len(y_train)} labels, {len(x_test)} test images for "
                         f"{len(y_test)} labels")
    if not 0 < int(validation) < len(x_train):
        raise ValueError(f"validation must be between 1 and {len(x_train) - 1} images (the "
                         f"training set has {len(x_train)}), got {validation}")


def encoder_classifier(model, n_classes=10, seed=0):
    """A Keras model x -> class probabilities: a copy of ``model``'s encoder and a softmax layer.

    The encoder is ``aezoo.zoo.encoder_of`` applied to a copy made from
    ``model``'s config and weights (``aezoo.zoo.clean_copy``), so training the
    classifier leaves ``model`` as it was.
    """
    import keras

    from aezoo.zoo import clean_copy, encoder_of

    encoder = encoder_of(clean_copy(model))
    head = keras.layers.Dense(n_classes, activation="softmax", name="softmax",
                              kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
    return keras.Model(encoder.inputs, head(encoder.outputs[0]), name="encoder_classifier")


def finetune_classifier(model, x_fit, y_fit, x_val, y_val, rate, *, n_classes=10,
                        epochs=EPOCHS, batch_size=BATCH_SIZE, weight_decay=WEIGHT_DECAY, seed=0,
                        log=None):
    """Fine-tunes a fresh ``encoder_classifier`` at one rate; returns (classifier, error, epoch).

    Every random draw (the softmax layer's initial weights, the order of the
    images) comes from ``seed``, set here, so a run gives the same weights
    whatever ran before it in the process. The classifier is returned with
    the weights of its epoch of lowest validation error (%), both returned.
    """
    import keras

    keras.utils.set_random_seed(seed)
    classifier = encoder_classifier(model, n_classes, seed=seed)
    steps = int(epochs) * int(np.ceil(len(x_fit) / batch_size))
    optimizer = keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(float(rate), steps),
                                     momentum=MOMENTUM, weight_decay=float(weight_decay) or None)
    # Decay pulls the kernels towards 0; a bias has no scale to keep small.
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    classifier.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    best = (np.inf, 0, None)  # (validation error, epoch, weights)
    start = time.perf_counter()
    for epoch in range(1, int(epochs) + 1):
        classifier.fit(x_fit, y_fit, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
        error = _error(classifier, x_val, y_val)
        if error < best[0]:
            best = (error, epoch, classifier.get_weights())
        if log is not None:
            log(f"    fine-tuning lr {rate:g}, epoch {epoch}/{epochs}: validation error "
                f"{error:.2f} % ({time.perf_counter() - start:.0f} s)")
    classifier.set_weights(best[2])
    return classifier, best[0], best[1]


def _error(classifier, x, y):
    predicted = np.argmax(classifier.predict(x, batch_size=1000, verbose=0), axis=1)
    return error_percent(predicted, y)


def finetuned_error(model, x_train, y_train, x_test, y_test, *, learning_rates=LEARNING_RATES,
                    epochs=EPOCHS, batch_size=BATCH_SIZE, weight_decay=WEIGHT_DECAY,
                    validation=VALIDATION_IMAGES, seed=0, log=None):
    """Test error % of ``model``'s encoder fine-tuned with labels; returns (error, details).

    The last ``validation`` training images are the validation split (the
    rest are trained on); ``details`` holds the chosen learning rate and
    epoch (and ``choice``, the card note's words for them), their validation
    error, and every rate's best. ``log`` (a
    print-like function) reports each epoch.
    """
    x_train = np.asarray(x_train, dtype="float32")
    y_train = np.asarray(y_train).astype("int64")
    x_test, y_test = np.asarray(x_test, dtype="float32"), np.asarray(y_test).astype("int64")
    check_labelled_split(x_train, y_train, x_test, y_test, validation)
    if not learning_rates or int(epochs) < 1:
        raise ValueError("finetuned_error needs at least one learning rate and one epoch")
    if not float(weight_decay) >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    split = len(x_train) - int(validation)
    x_fit, y_fit = x_train[:split], y_train[:split]
    x_val, y_val = x_train[split:], y_train[split:]

    best = None  # (validation error, rate, epoch, test error)
    per_rate = {}
    for rate in learning_rates:
        classifier, error, epoch = finetune_classifier(
            model, x_fit, y_fit, x_val, y_val, rate, n_classes=n_classes, epochs=epochs,
            batch_size=batch_size, weight_decay=weight_decay, seed=seed, log=log)
        per_rate[float(rate)] = {"validation_error": error, "epoch": epoch}
        if best is None or error < best[0]:
            best = (error, float(rate), epoch, _error(classifier, x_test, y_test))
    decay = f", weight decay {float(weight_decay):g}" if weight_decay else ""
    details = {
        "choice": f"lr {best[1]:g}, epoch {best[2]}",
        "learning_rate": best[1],
        "epoch": best[2],
        "validation_error": best[0],
        "per_learning_rate": per_rate,
        "protocol": (f"SGD momentum {MOMENTUM}, cosine decay over {epochs} epochs, batch "
                     f"{batch_size}{decay}; trained on {split:,} images, learning rate and epoch "
                     f"chosen on the last {int(validation):,} training images"),
    }
    return best[3], details
