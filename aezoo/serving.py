"""A small client for aezoo models served by TensorFlow Serving: NumPy in, NumPy out.

    from aezoo.serving import RestClient, GrpcClient

    client = RestClient("deep", url="http://localhost:8501")
    x_hat = client.reconstruct(x)            # (batch, 784) float32
    scores = client.anomaly_score(x)         # (batch,)
    outputs = client.predict({"x": x}, signature="encode")   # {"code": ...}

    with GrpcClient("vae", target="localhost:8500") as client:
        images = client.sample(16, temperature=0.8)

``RestClient`` talks to ``/v1/models/NAME[/versions/N]`` (status, metadata,
``:predict`` in the columnar ``inputs`` or row ``instances`` format) with
``requests``; ``GrpcClient`` sends ``PredictRequest``s through
``tensorflow-serving-api``. Both raise ``ServingConnectionError`` (a
``ConnectionError``) naming the address when the server cannot be reached,
``UnknownSignatureError`` for a signature the model lacks and ``ServingError``
for any other error the server reports.

This module imports neither TensorFlow nor aezoo's models; ``GrpcClient``
imports TensorFlow on first use (the gRPC protos need it).
"""

import re

import numpy as np

DEFAULT_REST_URL = "http://localhost:8501"
DEFAULT_GRPC_TARGET = "localhost:8500"

# The signatures aezoo.export writes and their input names, so a bare array
# can be sent without a metadata round trip.
SIGNATURE_INPUTS = {
    "serving_default": ("x",),
    "reconstruct": ("x",),
    "encode": ("x",),
    "decode": ("code",),
    "anomaly_score": ("x",),
    "sample": ("temperature",),
}
# TF Serving leaves out the output's name when a signature has one output;
# these are the names for aezoo's single-output signatures.
SINGLE_OUTPUT = {
    "serving_default": "x_hat",
    "reconstruct": "x_hat",
    "encode": "code",  # the VAE's encode has two outputs, always named
    "decode": "x_hat",
    "anomaly_score": "score",
}
FORMATS = ("inputs", "instances")
_SIGNATURE_NOT_FOUND = re.compile(r"signature (?:name|key|def)?.*not found", re.IGNORECASE)


class ServingError(RuntimeError):
    """TensorFlow Serving answered with an error (bad input, missing model...)."""


class ServingConnectionError(ServingError, ConnectionError):
    """TensorFlow Serving could not be reached at ``address``."""

    def __init__(self, address, reason):
        self.address = address
        super().__init__(
            f"cannot reach TensorFlow Serving at {address}: {reason}. Is the server "
            "running? (e.g. docker compose -f deploy/docker-compose.yml up)"
        )


class UnknownSignatureError(ServingError):
    """The model has no signature of that name."""

    def __init__(self, model, signature, available=None, detail=None):
        self.model = model
        self.signature = signature
        self.available = sorted(available) if available else None
        message = f"model {model!r} has no signature {signature!r}"
        if self.available:
            message += f"; it has: {', '.join(self.available)}"
        if detail:
            message += f" (server: {detail})"
        super().__init__(message)


# ------------------------------------------------------------- request bodies
def prepare_inputs(inputs, signature):
    """``inputs`` as {name: ndarray}: a dict, or one array for a known signature.

    Numeric arrays for aezoo's signatures become float32 (their only dtype);
    anything else is sent as it is, for the server to accept or reject.
    """
    if isinstance(inputs, dict):
        named = dict(inputs)
    else:
        names = SIGNATURE_INPUTS.get(signature)
        if names is None or len(names) != 1:
            raise ValueError(
                f"pass the inputs of signature {signature!r} as a dict "
                "{input_name: array}; bare arrays work for "
                f"{', '.join(SIGNATURE_INPUTS)}."
            )
        named = {names[0]: inputs}
    prepared = {}
    for name, value in named.items():
        array = np.asarray(value)
        if signature in SIGNATURE_INPUTS and array.dtype.kind in "biuf":
            array = array.astype(np.float32, copy=False)
        prepared[name] = array
    return prepared


def rest_predict_body(inputs, signature="serving_default", format="inputs"):
    """The JSON body (a dict) of a REST ``:predict`` request.

    ``format="inputs"`` is the columnar format ({"inputs": {name: tensor}});
    ``"instances"`` the row format, one object {name: row} per example (all
    inputs must then share their first dimension).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
    inputs = prepare_inputs(inputs, signature)
    body = {"signature_name": signature}
    if format == "inputs":
        body["inputs"] = {name: value.tolist() for name, value in inputs.items()}
        return body
    sizes = {name: (value.shape[0] if value.ndim else None) for name, value in inputs.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise ValueError(
            "the 'instances' format needs inputs with one shared first dimension, "
            f"got {sizes}; use format='inputs'."
        )
    (rows,) = set(sizes.values())
    body["instances"] = [
        {name: value[row].tolist() for name, value in inputs.items()} for row in range(rows)
    ]
    return body


def parse_predict_response(body, output_name=None):
    """{name: float32/ndarray} from a REST ``:predict`` response body (a dict).

    ``output_name`` names the output when the signature has just one (TF
    Serving then omits the name).
    """
    if "outputs" in body:
        outputs = body["outputs"]
        if isinstance(outputs, dict):
            return {name: _array(value) for name, value in outputs.items()}
        return {_need_name(output_name): _array(outputs)}
    if "predictions" in body:
        rows = body["predictions"]
        if rows and isinstance(rows[0], dict):
            return {name: _array([row[name] for row in rows]) for name in rows[0]}
        return {_need_name(output_name): _array(rows)}
    raise ServingError(f"unexpected response from TensorFlow Serving: {str(body)[:200]}")


def _has_output_names(body):
    value = body["outputs"] if "outputs" in body else body.get("predictions")
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def _need_name(output_name):
    if output_name is None:
        raise ServingError("the response's single output has no name; pass output_name.")
    return output_name


def _array(value):
    array = np.asarray(value)
    return array.astype(np.float32) if array.dtype == np.float64 else array


def parse_signatures(signature_def_map):
    """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}} from metadata JSON.

    ``signature_def_map`` is the JSON form of a ``SignatureDefMap``'s
    ``signature_def`` field; shapes use -1 for the batch dimension.
    """
    result = {}
    for name, definition in signature_def_map.items():
        if name.startswith("__"):  # __saved_model_init_op
            continue
        result[name] = {
            side: {
                key: (info.get("dtype", "DT_INVALID"), _shape(info))
                for key, info in definition.get(side, {}).items()
            }
            for side in ("inputs", "outputs")
        }
    return result


def _shape(tensor_info):
    dims = tensor_info.get("tensor_shape", {}).get("dim", [])
    return tuple(int(dim.get("size", 0)) for dim in dims)  # int64 sizes are JSON strings


# ------------------------------------------------------------------- clients
class _Client:
    """The aezoo signatures as methods; subclasses implement predict and signatures."""

    model = None

    def predict(self, inputs, signature="serving_default"):
        raise NotImplementedError

    def signatures(self):
        raise NotImplementedError

    def reconstruct(self, x):
        """The reconstruction of ``x`` (batch, input_dim)."""
        return self.predict(x, "reconstruct")["x_hat"]

    def encode(self, x):
        """The code of ``x``; a dict with ``code`` and ``stddev`` for a VAE."""
        outputs = self.predict(x, "encode")
        return outputs["code"] if set(outputs) == {"code"} else outputs

    def decode(self, code):
        """The reconstruction for ``code`` (batch, latent_dim)."""
        return self.predict(code, "decode")["x_hat"]

    def anomaly_score(self, x):
        """Per-example squared reconstruction error, (batch,)."""
        return self.predict(x, "anomaly_score")["score"]

    def sample(self, n, temperature=1.0):
        """``n`` samples of a VAE: {"x_hat": (n, input_dim), "code": (n, latent_dim)}.

        ``temperature`` (a number or n of them) scales the prior's noise.
        """
        temperature = np.broadcast_to(np.asarray(temperature, np.float32), (int(n),))
        return self.predict(temperature, "sample")

    def _signature_error(self, signature, detail):
        try:
            available = self.signatures()
        except ServingError:
            available = None
        return UnknownSignatureError(self.model, signature, available, detail)


class RestClient(_Client):
    """TensorFlow Serving's REST API (port 8501) for one model.

    Args:
        model: the model's name in ``models.config``.
        url: the server, ``http://host:8501``.
        version: a version number, or None for the one the server prefers.
        timeout: seconds per HTTP request.
        format: "inputs" (columnar, default) or "instances" (row) requests.
    """

    def __init__(self, model, url=DEFAULT_REST_URL, version=None, timeout=30.0, format="inputs"):
        import requests

        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
        self.model = model
        self.url = url.rstrip("/")
        self.version = version
        self.timeout = timeout
        self.format = format
        self._session = requests.Session()

    @property
    def model_url(self):
        """``URL/v1/models/NAME[/versions/N]``."""
        url = f"{self.url}/v1/models/{self.model}"
        return url if self.version is None else f"{url}/versions/{int(self.version)}"

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _request(self, method, url, body=None):
        import json

        import requests

        # json.dumps, not requests' json=: TF Serving reads NaN and Infinity
        # tokens, which requests refuses to write.
        data = None if body is None else json.dumps(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        try:
            response = self._session.request(
                method, url, data=data, headers=headers, timeout=self.timeout
            )
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise ServingConnectionError(url, f"{type(error).__name__}: {error}") from error
        except requests.exceptions.RequestException as error:
            raise ServingError(f"request to {url} failed: {error}") from error
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": response.text[:500]}
        if response.status_code != 200 or "error" in payload:
            message = payload.get("error", f"HTTP {response.status_code}")
            return None, f"{message} (HTTP {response.status_code} from {url})"
        return payload, None

    def status(self):
        """The model's version states (GetModelStatusResponse as JSON)."""
        payload, error = self._request("GET", self.model_url)
        if error:
            raise ServingError(error)
        return payload

    def metadata(self):
        """The model's metadata (GetModelMetadataResponse as JSON)."""
        payload, error = self._request("GET", f"{self.model_url}/metadata")
        if error:
            raise ServingError(error)
        return payload

    def signatures(self):
        """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}}."""
        signature_def = self.metadata()["metadata"]["signature_def"]
        return parse_signatures(signature_def.get("signature_def", signature_def))

    def predict(self, inputs, signature="serving_default", format=None):
        """Runs ``signature`` on ``inputs`` (an array or {name: array}); returns {name: ndarray}."""
        body = rest_predict_body(inputs, signature, format or self.format)
        payload, error = self._request("POST", f"{self.model_url}:predict", body)
        if error:
            if _SIGNATURE_NOT_FOUND.search(error):
                raise self._signature_error(signature, error)
            raise ServingError(error)
        output_name = SINGLE_OUTPUT.get(signature)
        if output_name is None and not _has_output_names(payload):
            outputs = self.signatures().get(signature, {}).get("outputs", {})
            output_name = next(iter(outputs), None)
        return parse_predict_response(payload, output_name)


# ------------------------------------------------------------------------ gRPC
def predict_request(model, inputs, signature="serving_default", version=None):
    """The ``PredictRequest`` proto for ``inputs`` (an array or {name: array})."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in prepare_inputs(inputs, signature).items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


class GrpcClient(_Client):
    """TensorFlow Serving's gRPC API (port 8500) for one model.

    Args:
        model: the model's name in ``models.config``.
        target: ``host:port`` of the gRPC port.
        version: a version number, or None for the one the server prefers.
        timeout: seconds per call.
        max_message_mb: the channel's message size limit, both ways.
    """

    def __init__(self, model, target=DEFAULT_GRPC_TARGET, version=None, timeout=30.0,
                 max_message_mb=64):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.model = model
        self.target = target
        self.version = version
        self.timeout = timeout
        size = int(max_message_mb * 1024 * 1024)
        self._channel = grpc.insecure_channel(
            target,
            options=[("grpc.max_send_message_length", size),
                     ("grpc.max_receive_message_length", size)],
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, signature=None):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ServingConnectionError(
                    f"{self.target} (gRPC)", f"{code.name}: {details}"
                ) from error
            message = f"{code.name}: {details} (gRPC {self.target})"
            if signature is not None and _SIGNATURE_NOT_FOUND.search(details or ""):
                raise self._signature_error(signature, message) from error
            raise ServingError(message) from error

    def signatures(self):
        """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}}."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = self.model
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        request.metadata_field.append("signature_def")
        response = self._call(self._stub.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        as_json = json_format.MessageToDict(signature_map, preserving_proto_field_name=True)
        return parse_signatures(as_json.get("signature_def", {}))

    def predict(self, inputs, signature="serving_default"):
        """Runs ``signature`` on ``inputs`` (an array or {name: array}); returns {name: ndarray}."""
        import tensorflow as tf

        request = predict_request(self.model, inputs, signature, self.version)
        response = self._call(self._stub.Predict, request, signature)
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
