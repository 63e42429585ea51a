"""Fine-tune the zoo's mnist-hinton-30 encoder into a digit classifier on 1,000 labels.

    AEZOO_DATA_DIR=../shared/data/mnist python examples/finetune_classifier.py
"""
import keras
from aezoo import zoo
from aezoo.data import load_mnist

x_train, y_train = load_mnist("train")
x_test, y_test = load_mnist("test")
x_few, y_few = x_train[:1000], y_train[:1000]  # 1,000 labelled digits


def classifier(encoder):
    """The encoder (784 -> 30) with a softmax head, all of it trainable."""
    return keras.Sequential([keras.Input((784,)), encoder,
                             keras.layers.Dense(10, activation="softmax")])


keras.utils.set_random_seed(0)  # fixes the heads' and the clone's initial weights
encoder = zoo.encoder("mnist-hinton-30")  # checksums verified; shares the model's layers
networks = {
    "pretrained (mnist-hinton-30)": classifier(encoder),
    "random init, same network": classifier(keras.models.clone_model(encoder)),
}
accuracy = {}
for name, network in networks.items():
    keras.utils.set_random_seed(0)
    network.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    network.fit(x_few, y_few, epochs=20, batch_size=50, verbose=0)
    accuracy[name] = network.evaluate(x_test, y_test, verbose=0)[1]
    print(f"{name}: test accuracy {accuracy[name]:.4f} on {len(x_test):,} test digits")
