"""Export aezoo models as SavedModels that TensorFlow Serving serves as they are.

``export_saved_model(model, "saved_models/serving", "deep")`` writes
``saved_models/serving/deep/1/``: a SavedModel in TensorFlow Serving's
``<base>/<name>/<version>/`` layout, written with Keras 3's ``ExportArchive``.
Every signature takes named float32 inputs with a dynamic batch dimension and
returns a dict of named outputs:

=================== ===================== ======================================
signature           inputs                outputs
=================== ===================== ======================================
``serving_default`` ``x`` (-1, input_dim) ``x_hat`` (-1, input_dim): reconstruct
``reconstruct``     ``x`` (-1, input_dim) ``x_hat`` (-1, input_dim)
``encode``          ``x`` (-1, input_dim) ``code`` (-1, latent_dim); the VAE
                                          adds ``stddev`` (-1, latent_dim)
``decode``          ``code``              ``x_hat`` (-1, input_dim)
                    (-1, latent_dim)
``anomaly_score``   ``x`` (-1, input_dim) ``score`` (-1,): squared error summed
                                          over features, per example
``sample`` (VAE)    ``temperature`` (-1,) ``x_hat`` (-1, input_dim) and ``code``
                                          (-1, latent_dim): one draw per row
=================== ===================== ======================================

For a conv model (``backbone=ConvBackbone(...)``) ``input_dim`` reads
``height, width, channels``: ``x`` and ``x_hat`` are image-shaped
(-1, height, width, channels), and a wrong image size or channel count fails
at the signature's boundary.

The graphs hold plain TensorFlow ops only (no ``PyFunc``, no
tensorflow-probability objects, no aezoo classes): the SavedModel loads with
``tf.saved_model.load`` or TensorFlow Serving where aezoo is not installed.
Input checks travel with it: a wrong feature count or dtype fails at the
signature, NaN or inf values fail at the ``CheckNumerics`` op.

``write_models_config(base_dir)`` writes the ``models.config`` that
``tensorflow_model_server --model_config_file`` reads, listing every model
under ``base_dir``. To fine-tune an export in Keras, use the ``.keras`` file
it came from, or ``fine_tunable_model`` and ``export_fine_tuned`` (see
docs/serving.md).
"""

import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from aezoo.models import Autoencoder, VariationalAutoencoder

# TF Serving only loads version folders named by an integer, so the
# temporary folder an export writes into is never picked up half-written.
TEMP_PREFIX = ".tmp-aezoo-export-"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
CONFIG_FILE = "models.config"
# The path where docker-compose.yml mounts the base folder in the container.
CONTAINER_BASE_PATH = "/models"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def signatures(model):
    """The serving signatures of ``model`` as {name: (function, input_signature)}.

    Each function takes its inputs by name and returns a dict of outputs; the
    input signatures are float32 ``tf.TensorSpec``s with a ``None`` batch
    dimension. ``serving_default`` is not listed: the export points it at
    ``reconstruct``.
    """
    if not isinstance(model, Autoencoder):
        raise TypeError(
            f"expected an aezoo Autoencoder, got {type(model).__name__}; "
            "load a .keras file with keras.saving.load_model first."
        )
    x_spec = [tf.TensorSpec([None, *model.example_shape], tf.float32, name="x")]
    code_spec = [tf.TensorSpec([None, model.latent_dim], tf.float32, name="code")]
    temperature_spec = [tf.TensorSpec([None], tf.float32, name="temperature")]

    # TensorFlow Serving's C++ runtime does not hold fed tensors to the
    # placeholders' shapes, so each signature checks its inputs first: a
    # wrong feature count or rank fails there (EnsureShape), not deep inside
    # a MatMul.
    def at_boundary(tensor, spec):
        return tf.ensure_shape(tensor, spec[0].shape)

    def reconstruct(x):
        return {"x_hat": model(at_boundary(x, x_spec), training=False)}

    def encode(x):
        return {"code": model.encode(at_boundary(x, x_spec), training=False)}

    def decode(code):
        return {"x_hat": model.decode(at_boundary(code, code_spec), training=False)}

    def anomaly_score(x):
        return {"score": model.reconstruction_error(at_boundary(x, x_spec))}

    result = {
        "reconstruct": (reconstruct, x_spec),
        "encode": (encode, x_spec),
        "decode": (decode, code_spec),
        "anomaly_score": (anomaly_score, x_spec),
    }
    if isinstance(model, VariationalAutoencoder):

        def encode_posterior(x):
            x = model.scaled_inputs(at_boundary(x, x_spec))
            mean, stddev = model._posterior_params(x, training=False)
            return {"code": mean, "stddev": stddev}

        def sample(temperature):
            temperature = tf.debugging.assert_all_finite(
                at_boundary(temperature, temperature_spec),
                "temperature contains NaN or inf values",
            )
            code = prior_sample(model, temperature)
            return {"x_hat": model.decode(code, training=False), "code": code}

        result["encode"] = (encode_posterior, x_spec)
        result["sample"] = (sample, temperature_spec)
    return result


def prior_sample(model, temperature):
    """One draw of z from the VAE's prior per entry of ``temperature`` (batch,).

    Plain TensorFlow random ops, so the exported graph needs no
    tensorflow-probability: z = loc + temperature * scale * eps with eps ~
    N(0, I), where a mixture prior first draws the component (loc, scale)
    from its mixture weights. Temperature 0 gives the prior's mean (the
    component's mean for a mixture), 1 an exact draw from the prior.
    """
    temperature = tf.convert_to_tensor(temperature, tf.float32)
    rows = tf.shape(temperature)[0]
    prior = model.prior.distribution()  # a tfp object; its parameters are tensors
    if model.prior_name == "mixture":
        logits = prior.mixture_distribution.logits
        components = prior.components_distribution.distribution  # Normal (K, latent)
        index = tf.random.categorical(logits[None, :], rows, dtype=tf.int32)[0]
        loc = tf.gather(components.loc, index)
        scale = tf.gather(components.scale, index)
    else:
        normal = prior.distribution  # Normal (latent,)
        loc = tf.broadcast_to(normal.loc, [rows, model.latent_dim])
        scale = tf.broadcast_to(tf.cast(normal.scale, tf.float32), [rows, model.latent_dim])
    eps = tf.random.normal([rows, model.latent_dim])
    return loc + temperature[:, None] * scale * eps


def export_saved_model(
    model,
    base_dir,
    name,
    version=1,
    *,
    overwrite=False,
    warmup=True,
    warmup_batch_sizes=(1,),
):
    """Writes ``model`` to ``<base_dir>/<name>/<version>/`` for TensorFlow Serving.

    Args:
        model: an aezoo ``Autoencoder`` (any variant, or one unrolled from RBMs).
        base_dir: the folder TF Serving's models live under (``saved_models/serving``).
        name: the model's name in TF Serving, in URLs and ``models.config``:
            letters, digits, ``_``, ``.`` and ``-``.
        version: a positive integer; TF Serving serves the highest by default.
        overwrite: replace an existing version folder (otherwise
            ``FileExistsError``).
        warmup: write ``assets.extra/tf_serving_warmup_requests``, one
            PredictRequest per signature and batch size, which TF Serving runs
            when it loads the version so the first real request is fast.
        warmup_batch_sizes: the batch sizes of the warm-up requests (with
            server-side batching, list the ``allowed_batch_sizes``).

    The SavedModel is written to a temporary folder beside the version folder
    and renamed into place, so a failed export leaves no half-written version
    for TF Serving to load. Returns the version folder's path.
    """
    functions = signatures(model)  # checks the model's type first
    return export_functions(model, functions, base_dir, name, version, overwrite=overwrite,
                            warmup=warmup, warmup_batch_sizes=warmup_batch_sizes)


def export_functions(model, functions, base_dir, name, version=1, *, overwrite=False,
                     warmup=True, warmup_batch_sizes=(1,)):
    """Writes ``functions`` ({endpoint: (function, input_signature)}) of ``model``'s
    variables as a SavedModel version, as ``export_saved_model`` does; the first
    endpoint is also ``serving_default``. Returns the version folder's path."""

    def write(directory):
        archive = keras.export.ExportArchive()
        _track_each_variable_once(archive, model)
        for endpoint, (function, input_signature) in functions.items():
            archive.add_endpoint(endpoint, function, input_signature)
        archive.write_out(directory, verbose=False)

    return _write_version(
        base_dir, name, version, write, overwrite, warmup, warmup_batch_sizes
    )


def _track_each_variable_once(archive, model):
    """``archive.track(model)``, storing each variable once instead of twice.

    ``track`` lists the Keras variables while the endpoints capture the
    ``tf.Variable`` inside each; TensorFlow sees two objects and saves every
    weight twice, doubling the SavedModel on disk and in TF Serving's memory
    (keras-team/keras#23553). Listing the inner ``tf.Variable`` instead lets
    TensorFlow's checkpoint de-duplicate them. (``_tf_trackable`` is Keras'
    private attribute; without it the export is just twice as large.)
    """
    archive.track(model)
    trackable = getattr(archive, "_tf_trackable", None)
    if trackable is None:
        return
    for collection in ("variables", "trainable_variables", "non_trainable_variables"):
        variables = getattr(trackable, collection, None)
        if variables is not None:
            setattr(trackable, collection, [getattr(v, "_value", v) for v in variables])


def _write_version(base_dir, name, version, write, overwrite, warmup, warmup_batch_sizes):
    """Runs ``write(temp_dir)``, adds warm-up requests, renames into place."""
    if not (isinstance(name, str) and _NAME_PATTERN.match(name)):
        raise ValueError(
            f"name must be letters, digits, '_', '.' or '-' (starting with a "
            f"letter or digit), got {name!r}."
        )
    if isinstance(version, bool) or int(version) != version or int(version) < 1:
        raise ValueError(f"version must be a positive integer, got {version!r}.")
    version = int(version)
    model_dir = os.path.join(os.fspath(base_dir), name)
    final_dir = os.path.join(model_dir, str(version))
    if os.path.exists(final_dir) and not overwrite:
        raise FileExistsError(
            f"{final_dir} already exists; pass overwrite=True (--overwrite) to "
            "replace it, or export a new version."
        )
    os.makedirs(model_dir, exist_ok=True)
    temp_dir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{version}-", dir=model_dir)
    try:
        write(temp_dir)
        if warmup:
            write_warmup_requests(temp_dir, name, warmup_batch_sizes)
        _make_readable(temp_dir)
        if os.path.exists(final_dir):  # overwrite=True
            old_dir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}old-", dir=model_dir)
            os.rename(final_dir, os.path.join(old_dir, "version"))
            os.rename(temp_dir, final_dir)
            shutil.rmtree(old_dir, ignore_errors=True)
        else:
            os.rename(temp_dir, final_dir)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return final_dir


def _make_readable(directory):
    """mkdtemp makes 0700 folders; give the export the usual umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for root, dirs, files in os.walk(directory):
        os.chmod(root, 0o777 & ~umask)
        for file in files:
            os.chmod(os.path.join(root, file), 0o666 & ~umask)


def signature_defs(saved_model_dir):
    """{name: SignatureDef proto} of a SavedModel's ``serve`` graph, read from saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2

    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as handle:
        saved_model = saved_model_pb2.SavedModel.FromString(handle.read())
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return {
                key: value
                for key, value in meta_graph.signature_def.items()
                if not key.startswith("__")  # __saved_model_init_op
            }
    raise ValueError(f"{saved_model_dir} has no MetaGraph tagged 'serve'.")


# Warm-up values per input name: mid-range pixels, the prior's mean, temperature 1.
_WARMUP_FILL = {"x": 0.5, "code": 0.0, "temperature": 1.0}


def warmup_requests(saved_model_dir, name, batch_sizes=(1,)):
    """PredictRequests covering every signature of a SavedModel at each batch size."""
    from tensorflow_serving.apis import predict_pb2

    requests = []
    for signature, definition in sorted(signature_defs(saved_model_dir).items()):
        for batch_size in batch_sizes:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = name
            request.model_spec.signature_name = signature
            for key, info in definition.inputs.items():
                dims = [dim.size for dim in info.tensor_shape.dim]
                shape = [int(batch_size)] + [1 if d < 0 else d for d in dims[1:]]
                value = np.full(
                    shape, _WARMUP_FILL.get(key, 0.0), tf.as_dtype(info.dtype).as_numpy_dtype
                )
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            requests.append(request)
    return requests


def write_warmup_requests(saved_model_dir, name, batch_sizes=(1,)):
    """Writes ``assets.extra/tf_serving_warmup_requests`` (PredictionLog TFRecords)."""
    from tensorflow_serving.apis import prediction_log_pb2

    requests = warmup_requests(saved_model_dir, name, batch_sizes)
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(saved_model_dir):
    """The PredictRequests in a version folder's warm-up file, in order."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(saved_model_dir, WARMUP_FILE)
    requests = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        requests.append(log.predict_log.request)
    return requests


# ---------------------------------------------------------------- models.config
def exported_models(base_dir):
    """{name: sorted versions} of the SavedModels under ``base_dir``."""
    models = {}
    base_dir = os.fspath(base_dir)
    if not os.path.isdir(base_dir):
        return models
    for name in sorted(os.listdir(base_dir)):
        model_dir = os.path.join(base_dir, name)
        if name.startswith(".") or not os.path.isdir(model_dir):
            continue
        versions = sorted(
            int(entry)
            for entry in os.listdir(model_dir)
            if entry.isdigit()
            and os.path.isfile(os.path.join(model_dir, entry, "saved_model.pb"))
        )
        if versions:
            models[name] = versions
    return models


def models_config(base_dir, base_path=CONTAINER_BASE_PATH, all_versions=False):
    """A ``ModelServerConfig`` proto listing every model exported under ``base_dir``.

    ``base_path`` is where the server sees ``base_dir``: ``/models`` inside the
    Docker container of deploy/docker-compose.yml, or None for ``base_dir``'s
    absolute path (a ``tensorflow_model_server`` on this machine). TF Serving
    serves each model's highest version unless ``all_versions``.
    """
    from tensorflow_serving.config import model_server_config_pb2

    models = exported_models(base_dir)
    if not models:
        raise FileNotFoundError(
            f"no exported models under {base_dir}: expected "
            "<base_dir>/<name>/<version>/saved_model.pb (see export_saved_model)."
        )
    root = os.path.abspath(base_dir) if base_path is None else base_path.rstrip("/")
    config = model_server_config_pb2.ModelServerConfig()
    for name in models:
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = f"{root}/{name}"
        entry.model_platform = "tensorflow"
        if all_versions:
            entry.model_version_policy.all.SetInParent()
    return config


def write_models_config(base_dir, path=None, base_path=CONTAINER_BASE_PATH, all_versions=False):
    """Writes ``models.config`` (text protobuf) for ``--model_config_file``.

    Lists every model exported under ``base_dir`` (see ``models_config`` for
    ``base_path`` and ``all_versions``); ``path`` defaults to
    ``<base_dir>/models.config``. Returns the path written.
    """
    from google.protobuf import text_format

    config = models_config(base_dir, base_path=base_path, all_versions=all_versions)
    path = os.path.join(os.fspath(base_dir), CONFIG_FILE) if path is None else os.fspath(path)
    text = text_format.MessageToString(config)
    temp = f"{path}.tmp"
    with open(temp, "w") as handle:
        handle.write(text)
    os.replace(temp, path)  # TF Serving may be polling the file
    return path


# ------------------------------------------------------------- fine-tuning
@keras.saving.register_keras_serializable(package="aezoo")
class FineTunableTFSMLayer(keras.layers.TFSMLayer):
    """``keras.layers.TFSMLayer`` whose weights Keras optimizers can train.

    TFSMLayer names its weights after the SavedModel's variables, ``:0``
    suffix included; Adam (any optimizer with slot variables) then fails
    building ``..._kernel:0_momentum``, not a valid scope name. This subclass
    drops the ``:N`` suffix and is otherwise the same layer: its weights are
    the SavedModel's variables, so ``fit`` updates what the endpoint computes.
    """

    def _add_existing_weight(self, weight):
        name = re.sub(r":\d+$", "", weight.name).replace("/", "_")
        variable = keras.Variable(
            initializer=weight,  # wraps the tf.Variable itself, no copy
            trainable=weight.trainable,
            dtype=weight.dtype,
            shape=weight.shape,
            name=name,
        )
        self._track_variable(variable)


def fine_tunable_model(saved_model_dir, endpoint="reconstruct", output="x_hat"):
    """A ``keras.Model`` around one endpoint of an exported SavedModel, ready to ``fit``.

    Its one layer is a ``FineTunableTFSMLayer``: compile the model with any
    optimizer and loss, fit it, and the SavedModel's variables train (every
    other endpoint shares them). ``export_fine_tuned`` writes the result as
    a new version with all its signatures.
    """
    layer = FineTunableTFSMLayer(saved_model_dir, call_endpoint=endpoint, trainable=True)
    signature = layer._reloaded_obj.signatures[endpoint]
    ((input_name, input_spec),) = signature.structured_input_signature[1].items()
    inputs = keras.Input(shape=tuple(input_spec.shape[1:]), name=input_name)
    outputs = layer(inputs)
    if isinstance(outputs, dict):
        outputs = outputs[output]
    return keras.Model(inputs, outputs, name=f"{endpoint}_from_saved_model")


def export_fine_tuned(
    model,
    base_dir,
    name,
    version,
    *,
    overwrite=False,
    warmup=True,
    warmup_batch_sizes=(1,),
):
    """Writes a fine-tuned SavedModel (from ``fine_tunable_model``) as a new version.

    ``model`` is that Keras model or its ``FineTunableTFSMLayer``. The
    SavedModel it was loaded from is saved again, every signature included,
    with the current (fine-tuned) weights, through the same temporary-folder
    path as ``export_saved_model``. Returns the version folder's path.
    """
    if isinstance(model, keras.layers.TFSMLayer):
        layers = [model]
    else:
        layers = [
            layer
            for layer in getattr(model, "layers", [])
            if isinstance(layer, keras.layers.TFSMLayer)
        ]
    if len(layers) != 1:
        raise TypeError(
            "expected a model from fine_tunable_model (one TFSMLayer) or the layer "
            f"itself, got {type(model).__name__} with {len(layers)} TFSMLayers."
        )
    restored = layers[0]._reloaded_obj

    def write(directory):
        tf.saved_model.save(restored, directory, signatures=dict(restored.signatures))

    return _write_version(
        base_dir, name, version, write, overwrite, warmup, warmup_batch_sizes
    )
