"""Guard that Keras runs on the TensorFlow backend before any model is built."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "aezoo needs Keras on the TensorFlow backend, but Keras is using "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before "
        "importing keras."
    )
