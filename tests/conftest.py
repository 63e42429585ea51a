"""Shared test set-up: two logical CPUs, one MirroredStrategy, MNIST fixtures."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The zoo's sources come from the environment: the tests start from none (no
# mirror, no zoo folder, online) and a cache of their own, never the user's.
for _variable in ("AEZOO_ZOO_URL", "AEZOO_ZOO_DIR", "AEZOO_OFFLINE"):
    os.environ.pop(_variable, None)
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

os.environ["AEZOO_CACHE"] = tempfile.mkdtemp(prefix="aezoo-test-cache-")
atexit.register(shutil.rmtree, os.environ["AEZOO_CACHE"], True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Split the CPU into two logical devices before TensorFlow initialises its
# runtime, so MirroredStrategy can be tested on a CPU-only machine.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

from aezoo.data import load_mnist  # noqa: E402
from aezoo.data.mnist import ENV_VAR, find_local_mnist_dir  # noqa: E402


@pytest.fixture(scope="session")
def two_cpu_strategy():
    # One strategy for the whole session: TensorFlow's collective ops key
    # their instances per strategy, and separate strategies in one process
    # can collide on those keys.
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def missing_mnist_is_an_error():
    """Whether a test that needs MNIST must fail, not skip, when it is missing.

    On a user's machine without data a skip is right; in CI (CI=true), or when
    AEZOO_DATA_DIR names a folder that does not hold the four IDX files, a skip
    would hide a misconfigured run behind a green result.
    """
    return os.environ.get("CI", "").lower() in ("true", "1") or bool(os.environ.get(ENV_VAR))


@pytest.fixture(scope="session")
def mnist_dir():
    """The local MNIST directory from AEZOO_DATA_DIR; skips the test without one (fails in CI)."""
    directory = find_local_mnist_dir()
    if directory is None:
        if missing_mnist_is_an_error():
            pytest.fail(
                f"MNIST not found but required: {ENV_VAR}={os.environ.get(ENV_VAR, '')!r} "
                f"(CI={os.environ.get('CI', '')!r}) does not name a readable folder with "
                "the four IDX files",
                pytrace=False,
            )
        pytest.skip(
            "MNIST not found: set AEZOO_DATA_DIR to a folder with the IDX files "
            "(e.g. ../shared/data/mnist)"
        )
    return directory


@pytest.fixture(scope="session")
def mnist_small(mnist_dir):
    """A fixed MNIST subset: 6,000 training and 2,000 test images."""
    x_train, y_train = load_mnist("train", data_dir=mnist_dir)
    x_test, y_test = load_mnist("test", data_dir=mnist_dir)
    return x_train[:6000], y_train[:6000], x_test[:2000], y_test[:2000]


@pytest.fixture(scope="session")
def binary_patterns():
    """256 noisy copies of 4 binary prototypes over 20 features: easy to learn."""
    rng = np.random.default_rng(0)
    prototypes = rng.uniform(size=(4, 20)) < 0.4
    picks = rng.integers(0, 4, size=256)
    flips = rng.uniform(size=(256, 20)) < 0.05
    return (prototypes[picks] ^ flips).astype("float32")


@pytest.fixture(scope="session")
def exported_deep_and_vae(tmp_path_factory):
    """{"deep" | "vae": (model, version folder)}: the small models, exported once.

    tests/test_export.py and tests/test_serving.py both serve these; exporting
    (tracing every signature, writing warm-up requests) is the slow part, so
    it happens once per session. Tests must not change the folders.
    """
    from aezoo.export import export_saved_model
    from variants import make_small

    base = tmp_path_factory.mktemp("saved_models")
    exported = {}
    for name in ("deep", "vae"):
        model = make_small(name)
        exported[name] = (model, export_saved_model(model, base, name))
    return exported
